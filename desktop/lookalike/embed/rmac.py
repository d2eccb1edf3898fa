"""The R-MAC math in NumPy: the region grid shared by the exporter, the embedder and the
highlighter, and the reference pooling the ONNX graph is checked against.

Array convention: feature maps are (C, H, W) float32; boxes are (R, 4) int32 rows
``x0, y0, x1, y1`` in feature-map cells, inclusive; descriptors are (D,) or (N, D) float32.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lookalike.types import l2n as l2n  # re-exported: the model and the exporter use it

Boxes = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float32]

OVERLAP = 0.4
"""Target overlap between neighbouring regions of one level (Tolias et al., 2016)."""


def region_grid(height: int, width: int, levels: int = 3) -> Boxes:
    """The R-MAC regions of a feature map: the whole map, then ``levels`` levels of square regions.

    At level ``l`` (1-based) the regions are squares of side ``2·min(H, W) / (l + 1)``, laid out
    uniformly so that neighbours overlap by about 40%; the long side gets extra regions chosen so
    that its overlap is also closest to 40%.

    Args:
        height: feature-map height in cells (>= 1).
        width: feature-map width in cells (>= 1).
        levels: number of levels below the whole-image region.

    Returns:
        (R, 4) int32 boxes ``x0, y0, x1, y1``, inclusive, in cells; row 0 is the whole map.
    """
    if height < 1 or width < 1:
        raise ValueError(f"empty feature map {height}x{width}")
    boxes: list[tuple[int, int, int, int]] = [(0, 0, width - 1, height - 1)]
    short, long_ = min(height, width), max(height, width)
    extra = _extra_steps(short, long_)
    extra_w = extra if width > height else 0
    extra_h = extra if height > width else 0
    for level in range(1, levels + 1):
        side = max(1, math.floor(2 * short / (level + 1)))
        xs = _starts(width, side, level + extra_w)
        ys = _starts(height, side, level + extra_h)
        for y0 in ys:
            for x0 in xs:
                box = (x0, y0, x0 + side - 1, y0 + side - 1)
                if box not in boxes:
                    boxes.append(box)
    return np.asarray(boxes, dtype=np.int32)


def _extra_steps(short: int, long_: int) -> int:
    """How many extra regions the long side gets so its overlap is closest to OVERLAP."""
    if long_ == short:
        return 0
    best, best_err = 0, math.inf
    for steps in range(1, 7):
        stride = (long_ - short) / steps
        err = abs((short * short - short * stride) / (short * short) - OVERLAP)
        if err < best_err:
            best, best_err = steps, err
    return best


def _starts(extent: int, side: int, count: int) -> list[int]:
    """``count`` start positions of a window of ``side`` cells spread evenly over ``extent``."""
    if count <= 1 or extent <= side:
        return [max(0, (extent - side) // 2)]
    step = (extent - side) / (count - 1)
    return sorted({min(extent - side, round(i * step)) for i in range(count)})


def pool_regions(fmap: Floats, boxes: Boxes) -> Floats:
    """Max-pool each region of a (C, H, W) feature map: (R, C) float32."""
    out = np.empty((len(boxes), fmap.shape[0]), dtype=np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        out[i] = fmap[:, y0 : y1 + 1, x0 : x1 + 1].max(axis=(1, 2))
    return out


def rmac(fmap: Floats, boxes: Boxes, shift: Floats, proj: Floats) -> Floats:
    """The reference R-MAC descriptor of one feature map.

    Region MACs → L2 → whitening ``(v - shift) @ proj.T`` → L2 → sum over regions → L2.

    Args:
        fmap: (C, H, W) float32 non-negative activations.
        boxes: (R, 4) int32 regions from :func:`region_grid`.
        shift: (C,) float32 whitening mean.
        proj: (D, C) float32 whitening projection.

    Returns:
        (D,) float32 L2-normalised descriptor.
    """
    regions = l2n(pool_regions(fmap, boxes))
    whitened = l2n((regions - shift) @ proj.T)
    return l2n(whitened.sum(axis=0))


def mac(fmap: Floats) -> Floats:
    """Global max-pooling of a (C, H, W) map: (C,) float32 (not normalised)."""
    out: Floats = fmap.reshape(fmap.shape[0], -1).max(axis=1).astype(np.float32)
    return out
