"""Thumbnail sizes and scaling, as pure functions."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from homeserver.services.media.thumbnails import MAX_SIDE, SourceTooLarge, choose_size, make_thumbnail


@pytest.mark.parametrize(
    ("request_size", "method", "chosen"),
    [
        ((30, 30, ), "crop", (32, 32)),
        ((300, 200), "scale", (320, 240)),
        ((800, 600), "scale", (800, 600)),
        ((100, 100), "crop", (128, 128)),  # between standard sizes: rounded up to a step
        ((700, 601), "scale", (800, 640)),
        ((801, 10), "scale", None),  # bigger than any thumbnail: the original
        ((10, 5000), "crop", None),
    ],
)
def test_choose_size(request_size, method, chosen):
    assert choose_size(*request_size, method) == chosen
    if chosen is not None:
        assert max(chosen) <= MAX_SIDE and chosen[0] >= request_size[0] and chosen[1] >= request_size[1]


def _jpeg(tmp_path, size, orientation=None):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    path = tmp_path / "image.jpg"
    Image.new("RGB", size, (10, 200, 10)).save(path, format="JPEG", exif=exif)
    return path


def test_exif_orientation_is_applied(tmp_path):
    # Stored 1000x500, shown rotated: 500x1000.
    path = _jpeg(tmp_path, (1000, 500), orientation=6)
    made = make_thumbnail(path, 320, 240, "scale", animated=False, max_pixels=10**7)
    assert made is not None and made.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(made.data)).size == (120, 240)
    cropped = make_thumbnail(path, 96, 96, "crop", animated=False, max_pixels=10**7)
    assert Image.open(io.BytesIO(cropped.data)).size == (96, 96)


def test_pixels_are_counted_before_decoding(tmp_path):
    path = _jpeg(tmp_path, (2000, 2000))
    with pytest.raises(SourceTooLarge):
        make_thumbnail(path, 32, 32, "crop", animated=False, max_pixels=1_000_000)
