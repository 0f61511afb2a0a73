"""Thumbnail sizes and scaling (spec: Client-Server API, "Thumbnails"), with Pillow.

Pure functions of a file in, bytes out; the service runs them in its own
bounded worker pool. "scale" keeps the aspect ratio and fits the requested box;
"crop" fills the box exactly, cutting the overflow from the middle. Images are
never made larger: when the original is no bigger than the request, the
original is served instead.

Bounds on the work one request causes (an image is the attacker's input):
- thumbnails are at most :data:`MAX_SIDE` pixels on a side; a bigger request
  gets the original (never smaller than asked for, as the spec requires), and
  sizes between the standard ones are rounded up to a few steps, so one image
  has a handful of thumbnails, not one per requested size;
- the image's header is read first and an image of more than ``max_pixels``
  pixels is refused before anything is decoded; only the formats Hearth
  thumbnails are opened at all;
- JPEGs are decoded at the smallest scale that still covers the box (draft
  mode) and other images are reduced by whole factors while resampling, so a
  request holds at most one decoded image (plus one RGBA copy for palette
  images) and thumbnail-sized copies: a few bytes per source pixel;
- an animation keeps its frames only while frames times pixels stays within
  ``max_pixels`` and there are at most :data:`MAX_FRAMES`; otherwise the
  thumbnail is a still of the first frame.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

#: The sizes the spec asks servers to produce (width, height, method).
STANDARD_SIZES = ((32, 32, "crop"), (96, 96, "crop"), (320, 240, "scale"), (640, 480, "scale"), (800, 600, "scale"))
#: Content types Hearth thumbnails.
THUMBNAILABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/apng", "image/bmp"})
#: Content types that may hold an animation.
ANIMATABLE = frozenset({"image/gif", "image/webp", "image/png", "image/apng"})
#: The image formats Pillow may open here, whatever the content type claims.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
#: The longest side of a thumbnail Hearth makes.
MAX_SIDE = 800
#: Sizes between the standard ones are rounded up to one of these.
SIZE_STEPS = (32, 48, 64, 96, 128, 192, 256, 320, 384, 480, 512, 640, 800)
#: Frames an animated thumbnail keeps at most.
MAX_FRAMES = 250

#: EXIF orientation -> the transposition that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class SourceTooLarge(Exception):
    """The image has more pixels than the server will decode."""


class NotAnImage(Exception):
    """The content cannot be decoded as an image."""


@dataclass(frozen=True)
class ThumbnailImage:
    data: bytes
    content_type: str


def choose_size(width: int, height: int, method: str) -> tuple[int, int] | None:
    """The size to produce: the smallest standard size of ``method`` at least as big
    as requested, else the request rounded up to :data:`SIZE_STEPS`; ``None`` when
    the request is bigger than :data:`MAX_SIDE` (serve the original)."""
    for w, h, m in STANDARD_SIZES:
        if m == method and w >= width and h >= height:
            return w, h
    if width > MAX_SIDE or height > MAX_SIDE:
        return None
    return _step(width), _step(height)


def _step(side: int) -> int:
    return next(step for step in SIZE_STEPS if step >= side)


def make_thumbnail(
    source: Path, width: int, height: int, method: str, *, animated: bool, max_pixels: int
) -> ThumbnailImage | None:
    """A thumbnail of the image in ``source`` for the box ``width`` x ``height``, or
    ``None`` when the original is no bigger than the box (serve the original)."""
    try:
        with Image.open(source, formats=FORMATS) as image:
            if image.width * image.height > max_pixels:
                raise SourceTooLarge()
            return _thumbnail(image, width, height, method, animated=animated, max_pixels=max_pixels)
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError) as e:
        raise NotAnImage(str(e)) from None


def _thumbnail(
    image: Image.Image, width: int, height: int, method: str, *, animated: bool, max_pixels: int
) -> ThumbnailImage | None:
    transpose = _ORIENTATION.get(image.getexif().get(0x0112, 1))
    turned = transpose in (Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE,
                           Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)
    # The box in the stored image's own orientation.
    box_w, box_h = (height, width) if turned else (width, height)
    if image.width <= box_w and image.height <= box_h:
        return None
    if method == "crop" and (image.width < box_w or image.height < box_h):
        return None  # cropping would have to upscale
    if animated and getattr(image, "is_animated", False) and _frames_within(image, max_pixels):
        resized = [
            _orient(_resize(frame, box_w, box_h, method), transpose).convert("RGBA")
            for frame in ImageSequence.Iterator(image)
        ]
        out = io.BytesIO()
        resized[0].save(
            out, format="WEBP", save_all=True, append_images=resized[1:], loop=image.info.get("loop", 0),
            duration=image.info.get("duration", 100),
        )
        return ThumbnailImage(out.getvalue(), "image/webp")
    source_format = image.format
    if source_format == "JPEG":
        # Decode at 1/2, 1/4 or 1/8 scale when that still covers the box.
        image.draft("RGB", _covering(image.size, box_w, box_h, method))
    frame = _orient(_resize(image, box_w, box_h, method), transpose)
    out = io.BytesIO()
    if source_format == "JPEG":
        frame.convert("RGB").save(out, format="JPEG", quality=85)
        return ThumbnailImage(out.getvalue(), "image/jpeg")
    frame = frame.convert("RGBA") if frame.mode in ("P", "LA", "RGBA", "PA") else frame.convert("RGB")
    frame.save(out, format="PNG", optimize=True)
    return ThumbnailImage(out.getvalue(), "image/png")


def _frames_within(image: Image.Image, max_pixels: int) -> bool:
    """Whether an animation is small enough to keep its frames (counting them reads
    the file's frame headers, not its pixels)."""
    frames = getattr(image, "n_frames", 1)
    return frames <= MAX_FRAMES and frames * image.width * image.height <= max_pixels


def _covering(size: tuple[int, int], box_w: int, box_h: int, method: str) -> tuple[int, int]:
    """The smallest size of the image, aspect kept, from which ``method`` makes the box."""
    w, h = size
    scale = max(box_w / w, box_h / h) if method == "crop" else min(box_w / w, box_h / h)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def _resize(image: Image.Image, box_w: int, box_h: int, method: str) -> Image.Image:
    """Scale (fit in the box) or crop (fill the box, centred), reducing by whole
    factors first so no full-size copy is made."""
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode in ("PA", "P") else "RGB")
    w, h = image.size
    if method == "crop":
        scale = max(box_w / w, box_h / h)
        crop_w, crop_h = box_w / scale, box_h / scale
        left, top = (w - crop_w) / 2, (h - crop_h) / 2
        return image.resize(
            (box_w, box_h), Image.Resampling.LANCZOS, box=(left, top, left + crop_w, top + crop_h), reducing_gap=2.0
        )
    target = _covering((w, h), box_w, box_h, "scale")
    target = (min(target[0], box_w), min(target[1], box_h))
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _orient(image: Image.Image, transpose: Image.Transpose | None) -> Image.Image:
    return image.transpose(transpose) if transpose is not None else image
