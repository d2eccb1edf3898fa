"""Query pixels: an image given as a file, bytes or array → the upright (cropped, turned)
RGB arrays a search embeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.cores import usable_cores
from lookalike.decode.image import decode
from lookalike.errors import KnownError

Rgb = npt.NDArray[np.uint8]


QUERY_BANDS = min(8, usable_cores())
"""Threads a query's JPEG is decoded on (``decode(..., bands=)``): a search waits for its
query's pixels with nothing else to do, so every core decodes a band of it."""
Crop = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` fractions (0..1) of the upright image."""


def turns(rgb: Rgb, mirror: bool = False) -> list[Rgb]:
    """The query's variants: the upright image first, then 90, 180 and 270 degrees
    counter-clockwise, then (with ``mirror``) the same four of its left-right mirror image.

    Args:
        rgb: (H, W, 3) uint8.
        mirror: also add the mirrored turns.

    Returns:
        C-contiguous (h, w, 3) uint8 arrays; the first is ``rgb`` itself.
    """
    bases = [rgb, rgb[:, ::-1]] if mirror else [rgb]
    out = [rgb]
    for b, base in enumerate(bases):
        for k in range(4):
            if b == 0 and k == 0:
                continue
            out.append(np.ascontiguousarray(np.rot90(base, k)))
    return out


def crop_fraction(
    rgb: npt.NDArray[np.uint8], crop: tuple[float, float, float, float]
) -> npt.NDArray[np.uint8]:
    """Cut part of an image out for a query.

    Args:
        rgb: (H, W, 3) uint8 upright image.
        crop: ``(x0, y0, x1, y1)`` fractions of the width and height, ``0 <= x0 < x1 <= 1`` and
            ``0 <= y0 < y1 <= 1``.

    Returns:
        The (h, w, 3) uint8 crop, C-contiguous, at least 1×1 pixel.

    Raises:
        KnownError: the fractions are out of range or empty.
    """
    x0, y0, x1, y1 = crop
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise KnownError(f"invalid crop {crop}: need 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    h, w = rgb.shape[:2]
    left, top = min(int(x0 * w), w - 1), min(int(y0 * h), h - 1)
    right, bottom = max(left + 1, round(x1 * w)), max(top + 1, round(y1 * h))
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def query_pixels(
    image: Path | bytes | npt.NDArray[np.uint8],
    crop: tuple[float, float, float, float] | None,
    max_side: int | None = None,
) -> npt.NDArray[np.uint8]:
    """The upright pixels of a query image, cropped if asked.

    Args:
        image: a file, encoded image bytes, or an (H, W, 3) uint8 RGB array.
        crop: ``(x0, y0, x1, y1)`` fractions (see :func:`crop_fraction`), or None.
        max_side: without a crop, decode a file or bytes as indexing does (at this long side,
            DCT-scaled: ``decode(..., exact=False)``) so the query's pixels are the library's;
            a crop is cut from the full-size photo.

    Returns:
        (h, w, 3) uint8 RGB.

    Raises:
        UnreadablePhoto: the file or bytes cannot be decoded.
        KnownError: an array of another shape or type, or an invalid crop.
    """
    if isinstance(image, Path | bytes):
        side = max_side if crop is None else None
        rgb = decode(image, side, exact=side is None, bands=QUERY_BANDS).rgb
    elif isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 \
            and image.shape[2] == 3:
        rgb = image
    else:
        raise KnownError("the query image must be an (H, W, 3) uint8 RGB array")
    return rgb if crop is None else crop_fraction(rgb, crop)
