"""Decoded pixels → the grey thumbnail a photo stores for the copy screen of duplicate grouping.

Made from the pixels the embedder decodes anyway (no second decode): the whole upright frame,
grey, area-averaged onto :data:`THUMB_SIDE` x :data:`THUMB_SIDE` pixels whatever its aspect (kept
beside it). Squeezing to a square commutes with quarter turns and mirrors, so the eight dihedral
variants of a photo's thumbnail are those of the square (``lookalike.search.copy_screen``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from lookalike.types import Thumb

THUMB_SIDE = 32
"""Side of the square thumbnail (pixels): 1,024 bytes a photo. The screen compares them at half
that (``copy_screen.SCREEN_SIDE``); the rest is kept for a finer test."""


def grey_thumb(rgb: npt.NDArray[np.uint8], side: int = THUMB_SIDE) -> Thumb:
    """The thumbnail of an upright (H, W, 3) uint8 image: (side, side) uint8 grey levels
    (ITU-R 601 luma, Pillow's "L"), box-averaged, with the image's (width, height)."""
    height, width = rgb.shape[:2]
    grey = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).convert("L")
    small = grey.resize((side, side), Image.Resampling.BOX)
    return Thumb(np.asarray(small, np.uint8).copy(), int(width), int(height))
