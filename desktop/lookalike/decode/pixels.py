"""Pixels of an opened photo: the target size, 8-bit RGB, shrinking, EXIF orientation, alpha.

The steps :func:`lookalike.decode.image.decode` runs on an image whose header is read; why
they are done this way is in that module's docstring.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image

DRAFT_SLACK: Final = 0.9
"""JPEG ``draft`` is asked for this fraction of the target (see :mod:`lookalike.decode.image`)."""

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_BIT_MODES: Final = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_STRIP_BYTES: Final = 16 << 20


def target_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(w, h) of the result in stored orientation: long side min(max_side, long side)."""
    width, height = size
    long_side = max(width, height)
    if max_side is None or max_side >= long_side:
        return size
    factor = max_side / long_side
    if width >= height:
        return max_side, max(1, round(height * factor))
    return max(1, round(width * factor)), max_side


def draft_request(size: tuple[int, int], target_long: int) -> tuple[int, int]:
    """Size to ask ``Image.draft`` for: ``DRAFT_SLACK`` × the target, same aspect ratio.

    JPEG's draft picks the largest scale 1/s (s in 8, 4, 2, 1) with s <= min(w // rw, h // rh),
    so its result is never smaller than this request.
    """
    factor = DRAFT_SLACK * target_long / max(size)
    return max(1, math.floor(size[0] * factor)), max(1, math.floor(size[1] * factor))


def to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB, or to RGBA when the image has any transparency."""
    if im.mode in _HIGH_BIT_MODES:
        grey = _grey_to_uint8(np.asarray(im), im.mode)
        return Image.fromarray(grey).convert("RGB")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    return im if im.mode == "RGB" else im.convert("RGB")


def _grey_to_uint8(values: npt.NDArray[Any], mode: str) -> npt.NDArray[np.uint8]:
    """Map one high-bit-depth channel to 0..255.

    Args:
        values: (H, W) uint16, int32 or float32 samples of an image in ``mode``.
        mode: "I;16*" (0..65535), or "I" / "F" whose range is guessed: 0..1 (float), 0..255,
            0..65535, else 0..max.

    Returns:
        (H, W) uint8.
    """
    samples: npt.NDArray[np.float32] = np.nan_to_num(
        values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0
    )
    top = float(samples.max()) if samples.size else 0.0
    if mode.startswith("I;16") or 255.0 < top <= 65535.0:
        full_scale = 65535.0
    elif mode == "F" and top <= 1.0:
        full_scale = 1.0
    elif top <= 255.0:
        full_scale = 255.0
    else:
        full_scale = top
    scaled = samples * np.float32(255.0 / full_scale) + np.float32(0.5)
    grey: npt.NDArray[np.uint8] = np.clip(scaled, 0.0, 255.0).astype(np.uint8)
    return grey


def shrink(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to exactly ``size``: box-filter by the whole factor, then antialiased bilinear."""
    factor = min(im.width // size[0], im.height // size[1])
    if factor >= 2:
        im = im.reduce(factor)
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    return im


def transpose(im: Image.Image, orientation: int) -> Image.Image:
    """Apply EXIF ``orientation`` (1..8) to the stored pixels, giving the upright picture."""
    method = _TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


def flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite an RGBA image onto white; return RGB images unchanged."""
    if im.mode != "RGBA":
        return im
    white = Image.new("RGB", im.size, (255, 255, 255))
    white.paste(im, (0, 0), im)
    return white


def to_array(im: Image.Image) -> npt.NDArray[np.uint8]:
    """(H, W, 3) uint8 writable copy of an RGB image; closes the image.

    Copied in strips of about ``_STRIP_BYTES``: ``Image.tobytes`` holds its output twice while
    joining it, which for a full-size 100 MP photo would add 600 MB to the peak.
    """
    width, height = im.size
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _STRIP_BYTES // (3 * width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = im if (top, bottom) == (0, height) else im.crop((0, top, width, bottom))
        rgb[top:bottom] = np.frombuffer(strip.tobytes(), dtype=np.uint8).reshape(-1, width, 3)
    im.close()
    return rgb


def upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(w, h) after applying EXIF ``orientation``: 5..8 swap the sides."""
    return (size[1], size[0]) if orientation >= 5 else size
