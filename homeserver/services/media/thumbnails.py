"""Thumbnail sizes and scaling (spec: Client-Server API, "Thumbnails"), with Pillow.

Pure functions of bytes in, bytes out; the service runs them in a worker
thread. "scale" keeps the aspect ratio and fits the requested box; "crop"
fills the box exactly, cutting the overflow from the middle. Images are never
made larger: when the original is no bigger than the request, the original
is served instead.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

#: The sizes the spec asks servers to produce (width, height, method).
STANDARD_SIZES = ((32, 32, "crop"), (96, 96, "crop"), (320, 240, "scale"), (640, 480, "scale"), (800, 600, "scale"))
#: Content types Hearth thumbnails.
THUMBNAILABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/apng", "image/bmp"})
#: Content types that may hold an animation.
ANIMATABLE = frozenset({"image/gif", "image/webp", "image/png", "image/apng"})


class SourceTooLarge(Exception):
    """The image has more pixels than the server will decode."""


class NotAnImage(Exception):
    """The content cannot be decoded as an image."""


@dataclass(frozen=True)
class ThumbnailImage:
    data: bytes
    content_type: str


def choose_size(width: int, height: int, method: str) -> tuple[int, int]:
    """The size to produce: the smallest standard size of ``method`` at least as big
    as requested, or exactly the request when it is bigger than every standard size."""
    for w, h, m in STANDARD_SIZES:
        if m == method and w >= width and h >= height:
            return w, h
    return width, height


def make_thumbnail(
    data: bytes, width: int, height: int, method: str, *, animated: bool, max_pixels: int
) -> ThumbnailImage | None:
    """A thumbnail of ``data`` for the box ``width`` x ``height``, or ``None`` when the
    original is no bigger than the box (serve the original)."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > max_pixels:
            raise SourceTooLarge()
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise NotAnImage(str(e)) from None
    if image.width <= width and image.height <= height:
        return None
    if method == "crop" and (image.width < width or image.height < height):
        return None  # cropping would have to upscale
    if animated and getattr(image, "is_animated", False):
        frames = [_resize(frame.convert("RGBA"), width, height, method) for frame in ImageSequence.Iterator(image)]
        out = io.BytesIO()
        frames[0].save(
            out, format="WEBP", save_all=True, append_images=frames[1:], loop=image.info.get("loop", 0),
            duration=image.info.get("duration", 100),
        )
        return ThumbnailImage(out.getvalue(), "image/webp")
    image = ImageOps.exif_transpose(image)
    frame = _resize(image.convert("RGBA") if image.mode in ("P", "LA", "RGBA") else image.convert("RGB"), width, height, method)
    out = io.BytesIO()
    if image.format == "JPEG":
        frame.save(out, format="JPEG", quality=85)
        return ThumbnailImage(out.getvalue(), "image/jpeg")
    frame.save(out, format="PNG", optimize=True)
    return ThumbnailImage(out.getvalue(), "image/png")


def _resize(image: Image.Image, width: int, height: int, method: str) -> Image.Image:
    if method == "crop":
        return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    scaled = image.copy()
    scaled.thumbnail((width, height), Image.Resampling.LANCZOS)
    return scaled
