"""Two photos and the affine map verification found → is one a pixel-exact copy of the other?

The stride-16 cells of re-ranking locate a map to a fraction of a cell at best, and when the
two photos' cells fall on different grids (a crop, another resolution, a frame) a copy's cells
lie up to half a cell off the map: the cells cannot tell a copy from a second shot a step away.
The pixels can. This module warps the candidate onto the query with the fitted map at a low
resolution (:data:`SIDE` pixels on the query's long side), measures the shift of every textured
block of the query (normalised cross-correlation over a small search window, sub-pixel by a
parabola) and fits one affine correction to these shifts:

- a **copy** (resized, recompressed, cropped, recoloured, framed) is one affine image of the
  other: every block moves with the correction, to a fraction of a pixel (interpolation and JPEG
  noise), and its blocks correlate strongly;
- **another shot** of the scene, even from a tripod a step away, has perspective and parallax
  that no single affine map explains: its blocks scatter by a pixel or more.

:func:`pixel_check` gives the measurements (:class:`PixelEvidence`); :func:`is_pixel_copy`
applies the calibrated thresholds (``benchmarks/verdict_calibrate.py``). Pure NumPy; decoding
is the caller's (:func:`gray_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.search.copy_align import dihedral, distortion

Gray = npt.NDArray[np.float32]
"""(H, W) float32 grey levels 0..255."""
Affine = npt.NDArray[np.float64]

SIDE = 256
"""Long side (pixels) of the query at which blocks are compared: above the 320-px copies that
messaging apps make, it still resolves a shift of a quarter pixel = 0.001 of the long side."""
BLOCK = 16
"""Block side in pixels (at :data:`SIDE`)."""
SEARCH = 3
"""Largest shift (pixels) searched around the fitted map in one pass (default)."""
PASSES = ((2, 4), (1, 2), (1, 2))
"""(downscale, search radius in pixels at that scale) of each refinement pass: half size first
(shifts up to 8 pixels at :data:`SIDE`: the cells' map is off by up to half a cell, 2 pixels
for 1024-px photos, 6 for a 320-px one, plus RANSAC's error), then at full size."""
MIN_TEXTURE = 6.0
"""Grey-level standard deviation below which a block is flat (sky, wall) and has no shift."""
ISOTROPY = 0.1
"""Smallest ratio of a block's gradient structure tensor eigenvalues (weaker / stronger) for
its shift to count: below it the block holds one straight edge and slides along it."""
MIN_BLOCKS = 8
"""Textured blocks, inside both photos, that a verdict needs."""
COPY_SHIFT = 0.30
"""Largest median distance (pixels at :data:`SIDE`) of the blocks' shifts from one affine
correction for a copy (see ``benchmarks/verdict_calibrate.py`` and docs/QUALITY.md)."""
SCATTER_PERCENTILE = 90
"""The blocks' scatter is this percentile of their distances from the affine field: a second
shot's perspective moves the blocks near the frame's edges most, which a median hides."""
COPY_NCC = 0.80
"""Smallest median correlation of the blocks at their best shift for a copy."""
COPY_PERSPECTIVE = 1.2
"""Largest perspective gain (:attr:`PixelEvidence.perspective`) of a copy."""
COPY_DISTORTION = 0.01
"""Largest :attr:`PixelEvidence.distortion` of a copy (0.6 degrees of rotation; calibration
bench: copies max 0.0085, p99 0.0057; tripod shots 0.02-0.06 but for one scene at 0.004)."""


@dataclass(frozen=True)
class PixelEvidence:
    """What the pixel check measured.

    Attributes:
        blocks: textured blocks compared (inside both photos).
        shift: median distance (pixels at :data:`SIDE`) of the blocks' shifts from the
            best affine correction (0: one exact affine image; inf: not measured).
        ncc: median normalised cross-correlation of the blocks at their best shift.
        median: the median of those distances.
        perspective: how much better one homography than one affine map explains the blocks'
            positions (ratio of their :data:`SCATTER_PERCENTILE` residuals; about 1 for a copy,
            above for another shot's perspective).
        distortion: how far the refined map's linear part, divided by its scale, lies from
            the nearest quarter turn or mirror (largest entry difference; a copy's is a scaled
            turn or mirror exactly, while another shot is also rotated by a few degrees,
            sheared or stretched; inf: not measured).
    """

    blocks: int = 0
    shift: float = float("inf")
    ncc: float = 0.0
    median: float = float("inf")
    perspective: float = 1.0
    distortion: float = float("inf")


def to_gray(rgb: npt.NDArray[np.uint8], side: int) -> Gray:
    """(H, W, 3) uint8 → (h, w) float32 grey, long side ``side`` (area-averaged, never
    enlarged beyond the photo's own size)."""
    from PIL import Image

    grey = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    scale = min(1.0, side / max(grey.size))
    if scale < 1.0:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return np.asarray(grey, np.float32)


def _bilinear(image: Gray, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
              ) -> tuple[Gray, npt.NDArray[np.bool_]]:  # fmt: skip
    """``image`` sampled at pixel positions (x, y) (pixel centres at integers), and where the
    positions fall inside it."""
    h, w = image.shape
    inside = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
    xc, yc = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = xc.astype(np.intp), yc.astype(np.intp)
    fx, fy = (xc - x0).astype(np.float32), (yc - y0).astype(np.float32)
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, np.float32), inside


def warp_onto(query: Gray, candidate: Gray, affine: Affine) -> tuple[Gray, npt.NDArray[np.bool_]]:
    """The candidate resampled on the query's pixel grid through ``affine``.

    Args:
        query: (hq, wq) grey query.
        candidate: (hc, wc) grey candidate.
        affine: (3, 2) map ``[x y 1] @ A`` of query positions onto candidate positions, both in
            units of each photo's long side.

    Returns:
        (hq, wq) warped candidate and the mask of query pixels that fall inside it.
    """
    hq, wq = query.shape
    lq, lc = max(hq, wq), max(candidate.shape)
    u = ((np.arange(wq) + 0.5) / lq)[None, :]
    v = ((np.arange(hq) + 0.5) / lq)[:, None]
    cx = (u * affine[0, 0] + v * affine[1, 0] + affine[2, 0]) * lc - 0.5
    cy = (u * affine[0, 1] + v * affine[1, 1] + affine[2, 1]) * lc - 0.5
    return _bilinear(candidate, cx, cy)


def _blocks(image: Gray, by: int, bx: int) -> Gray:
    """(by * BLOCK, bx * BLOCK) image → (by, bx, BLOCK * BLOCK) blocks."""
    return image.reshape(by, BLOCK, bx, BLOCK).transpose(0, 2, 1, 3).reshape(by, bx, -1)


def _two_dimensional(image: Gray, by: int, bx: int) -> npt.NDArray[np.bool_]:
    """(by, bx) blocks whose texture fixes a shift in both directions: the smaller eigenvalue of
    the block's gradient structure tensor is at least :data:`ISOTROPY` of the larger (a block
    on one straight edge only slides along it: its shift there is noise, the aperture
    problem)."""
    gx = np.zeros_like(image)
    gy = np.zeros_like(image)
    gx[:, 1:-1] = image[:, 2:] - image[:, :-2]
    gy[1:-1] = image[2:] - image[:-2]
    xx = _blocks(gx * gx, by, bx).sum(axis=-1)
    yy = _blocks(gy * gy, by, bx).sum(axis=-1)
    xy = _blocks(gx * gy, by, bx).sum(axis=-1)
    half_trace, det = (xx + yy) / 2, xx * yy - xy * xy
    root = np.sqrt(np.maximum(half_trace * half_trace - det, 0))
    return np.asarray(half_trace - root >= ISOTROPY * (half_trace + root), np.bool_)


def _normalised(blocks: Gray) -> tuple[Gray, Gray]:
    """Blocks with mean 0 and unit norm, and each block's standard deviation."""
    centred = blocks - blocks.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=-1, keepdims=True))
    std = norm[..., 0] / np.sqrt(blocks.shape[-1])
    return centred / np.maximum(norm, 1e-6), std


def block_shifts(query: Gray, warped: Gray, valid: npt.NDArray[np.bool_], r: int = SEARCH
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Gray]:  # fmt: skip
    """Each textured block's shift (at most ``r`` pixels) between the query and the warped
    candidate.

    Returns:
        (n, 2) block centres (query pixels), (n, 2) sub-pixel shifts (x, y) that carry each
        query block onto the warped candidate, and (n,) their correlation at that shift.
    """
    h, w = query.shape
    by, bx = (h - 2 * r) // BLOCK, (w - 2 * r) // BLOCK
    if by < 1 or bx < 1:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, np.float32)
    span = (slice(r, r + by * BLOCK), slice(r, r + bx * BLOCK))
    q, q_std = _normalised(_blocks(query[span], by, bx))
    inside = valid.astype(np.float32)
    # a block counts when its whole search window lies inside the candidate: the warped
    # candidate's frame is convex, so the blocks at the four extreme shifts tell
    window = np.ones((by, bx), bool)
    for dy, dx in ((-r, -r), (-r, r), (r, -r), (r, r)):
        part = (slice(r + dy, r + dy + by * BLOCK), slice(r + dx, r + dx + bx * BLOCK))
        window &= _blocks(inside[part], by, bx).min(axis=-1) > 0
    keep = window & (q_std > MIN_TEXTURE) & _two_dimensional(query[span], by, bx)
    if not keep.any():
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, np.float32)
    q = q[keep]  # (n, BLOCK * BLOCK), zero mean: q . c = q . (c - mean c)
    size = BLOCK * BLOCK
    floor = np.float32((MIN_TEXTURE / 2) ** 2 * size)  # flat candidate blocks score -1
    scores = np.empty(((2 * r + 1) ** 2, len(q)), np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            part = (slice(r + dy, r + dy + by * BLOCK), slice(r + dx, r + dx + bx * BLOCK))
            c = _blocks(warped[part], by, bx)[keep]
            total = c.sum(axis=-1)
            var = np.einsum("nk,nk->n", c, c) - total * total / size  # sum of squared deviations
            dot = np.einsum("nk,nk->n", q, c)
            row = (dy + r) * (2 * r + 1) + dx + r
            scores[row] = np.where(var > floor, dot / np.sqrt(np.maximum(var, floor)), -1)
    flat = scores  # (S, n)
    best = flat.argmax(axis=0)
    iy, ix = np.divmod(best, 2 * r + 1)
    shifts = np.stack([_subpixel(flat, ix, iy, r, axis) for axis in (0, 1)], axis=1)
    rows, cols = np.nonzero(keep)
    centres = np.stack([r + (cols + 0.5) * BLOCK, r + (rows + 0.5) * BLOCK], axis=1)
    return centres.astype(np.float64), shifts, flat.max(axis=0)


def _subpixel(flat: Gray, ix: npt.NDArray[np.intp], iy: npt.NDArray[np.intp], r: int,
              axis: int) -> npt.NDArray[np.float64]:  # fmt: skip
    """Sub-pixel shift along x (axis 0) or y (axis 1): a parabola through the best score and
    its two neighbours (none at the window's edge)."""
    n, side = flat.shape[1], 2 * r + 1
    at = (ix if axis == 0 else iy).astype(np.float64)
    lo = np.clip((ix - 1, iy) if axis == 0 else (ix, iy - 1), 0, side - 1)
    hi = np.clip((ix + 1, iy) if axis == 0 else (ix, iy + 1), 0, side - 1)
    cols = np.arange(n)
    s0 = flat[iy * side + ix, cols].astype(np.float64)
    sm = flat[lo[1] * side + lo[0], cols].astype(np.float64)
    sp = flat[hi[1] * side + hi[0], cols].astype(np.float64)
    curve = sm - 2 * s0 + sp
    inner = (at > 0) & (at < side - 1) & (curve < -1e-9)
    offset = np.where(inner, 0.5 * (sm - sp) / np.where(inner, curve, -1.0), 0.0)
    return np.asarray(at - r + np.clip(offset, -0.5, 0.5), np.float64)


def affine_scatter(centres: npt.NDArray[np.float64], shifts: npt.NDArray[np.float64]
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # fmt: skip
    """Distances of the block shifts from one affine field fitted to them, and the (3, 2)
    field ``[x y 1] @ F`` (query pixels → shift).

    The field is refitted on the blocks within three times the median distance, so that a few
    blocks on repeated texture or occluded by a caption do not bend it.
    """
    homog = np.concatenate([centres, np.ones((len(centres), 1))], axis=1)
    keep = np.ones(len(centres), bool)
    field = np.zeros((3, 2))
    for _ in range(2):
        field = _least_squares(homog[keep], shifts[keep])
        dist = np.linalg.norm(homog @ field - shifts, axis=1)
        keep = dist <= 3 * max(float(np.median(dist)), 0.05)
        if keep.sum() < 3:
            break
    return np.linalg.norm(homog @ field - shifts, axis=1), field


def _least_squares(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
                   ) -> npt.NDArray[np.float64]:  # fmt: skip
    """``argmin |a x - b|`` for a tall, thin ``a`` by its normal equations (a tiny ridge keeps
    a degenerate set of blocks solvable)."""
    normal = a.T @ a + 1e-9 * np.eye(a.shape[1])
    return np.asarray(np.linalg.solve(normal, a.T @ b), np.float64)


def _halved(image: Gray) -> Gray:
    """Half the size, averaging 2 x 2 pixels."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    return np.asarray(image[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)), np.float32)


def pixel_check(query: Gray, candidate: Gray, affine: Affine) -> PixelEvidence:
    """Measure how exactly ``affine`` (refined on the pixels) carries the candidate onto the
    query.

    Three passes: at half resolution (shifts up to :data:`SEARCH` pixels there), then twice at
    full (up to 2, then 1 pixel), each correcting the map by the affine field the blocks'
    shifts follow (cells locate the map only roughly); the last one measures the shifts that
    no affine correction explains.

    Args:
        query: (hq, wq) grey query, long side about :data:`SIDE`.
        candidate: (hc, wc) grey candidate, at about the query's pixel scale.
        affine: (3, 2) map of query positions onto candidate positions (long-side units).
    """
    current = np.asarray(affine, np.float64)
    half = (_halved(query), _halved(candidate))
    dist = centres = shifts = np.zeros(0)
    for down, r in PASSES:
        q, c = half if down == 2 else (query, candidate)
        warped, valid = warp_onto(q, c, current)
        centres, shifts, ncc = block_shifts(q, warped, valid, r)
        if len(centres) < (3 if down == 2 else MIN_BLOCKS):
            return PixelEvidence(len(centres))
        if float(np.median(ncc)) < COPY_NCC / 2:  # nothing aligns: no copy, stop early
            return PixelEvidence(len(centres), ncc=float(np.median(ncc)))
        centres = np.asarray(centres, np.float64)
        dist, field = affine_scatter(centres, shifts)
        current = _corrected(current, field, max(q.shape))
    spread = float(np.percentile(dist, SCATTER_PERCENTILE))
    projective = float(np.percentile(homography_scatter(centres, centres + shifts),
                                     SCATTER_PERCENTILE))  # fmt: skip
    return PixelEvidence(len(centres), spread, float(np.median(ncc)), float(np.median(dist)),
                         spread / max(projective, 0.02), distortion(current))  # fmt: skip



def homography_scatter(src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]
                       ) -> npt.NDArray[np.float64]:  # fmt: skip
    """Distances (pixels) of (n, 2) points ``dst`` from ``src`` mapped by the least-squares
    (DLT, centred and scaled) homography between them; zeros when n < 5."""
    if len(src) < 5:
        return np.zeros(len(src))
    mean, size = src.mean(axis=0), max(float(np.abs(src - src.mean(axis=0)).max()), 1e-9)
    a, b = (src - mean) / size, (dst - mean) / size
    x, y, u, v = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    one, zero = np.ones(len(a)), np.zeros(len(a))
    rows = np.concatenate([
        np.stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u], axis=1),
        np.stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v], axis=1)])
    # the null vector of the (2n, 9) system from its 9 x 9 normal matrix (no threaded LAPACK)
    h = np.linalg.eigh(rows.T @ rows)[1][:, 0].reshape(3, 3)
    mapped = np.stack([x, y, one], axis=1) @ h.T
    w = np.where(np.abs(mapped[:, 2:]) > 1e-12, mapped[:, 2:], 1e-12)
    return np.asarray(np.linalg.norm(mapped[:, :2] / w - b, axis=1) * size, np.float64)


def _corrected(affine: Affine, field: npt.NDArray[np.float64], lq: int) -> Affine:
    """The map composed with a shift field fitted in query pixels: a query position p now maps
    where ``affine`` maps p + field(p)."""
    # query pixel x = u * lq - 0.5, so the shift in long-side units is
    # d(u) = u @ lin + (off - 0.5 * [1 1] @ lin) / lq
    lin, off = field[:2], field[2]
    off_units = (off - 0.5 * lin.sum(axis=0)) / lq
    step = np.zeros((3, 3))
    step[:2, :2], step[2, :2], step[2, 2] = np.eye(2) + lin, off_units, 1.0
    return np.asarray(step @ affine, np.float64)


def check_files(query: Path, candidate: Path, affine: Affine, variant: int = 0) -> PixelEvidence:
    """:func:`pixel_check` of two photo files at :func:`comparison_side` (or
    :func:`retry_side`; an unreadable file: nothing measured); ``affine`` maps the query's
    dihedral ``variant`` (``copy_align.dihedral``) onto the candidate."""
    from lookalike.decode.image import decode
    from lookalike.errors import KnownError

    evidence = PixelEvidence()
    try:
        q = decode(query, SIDE)
        c = decode(candidate, candidate_side(affine))
        side: int | None = comparison_side(max(q.original_size), max(c.original_size), affine)
        while side is not None:
            grey = to_gray(q.rgb if side == SIDE else decode(query, side).rgb, side)
            wanted = candidate_side(affine, side)
            pixels = c if wanted == candidate_side(affine) else decode(candidate, wanted)
            other = to_gray(pixels.rgb, wanted)  # decoded once when the sides agree
            evidence = pixel_check(np.asarray(dihedral(grey, variant), np.float32), other, affine)
            side = retry_side(evidence, side)
    except (KnownError, OSError):
        return PixelEvidence()
    return evidence


def retry_side(evidence: PixelEvidence, side: int) -> int | None:
    """The side to measure again at (or None): twice ``side``, up to :data:`SIDE`, when fewer
    than :data:`MIN_BLOCKS` blocks fell inside both (a 320-px copy against a crop)."""
    return min(SIDE, 2 * side) if evidence.blocks < MIN_BLOCKS and side < SIDE else None


def map_scale(affine: Affine) -> float:
    """Linear scale of a map (candidate long sides per query long side)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(affine)[:2]))))


def candidate_side(affine: Affine, side: int = SIDE) -> int:
    """Long side (pixels) to decode a candidate at so that its pixels match the query's at
    ``side`` under ``affine`` (query → candidate, long-side units)."""
    return int(min(1024, max(64, round(side / max(map_scale(affine), 1e-3)))))


def comparison_side(query_long: int, candidate_long: int, affine: Affine) -> int:
    """The query's long side (pixels) to compare at: :data:`SIDE`, or half the detail the
    poorer photo holds over the query's frame when that is less (a 320-px copy: 160 px), where
    its JPEG blocks and resampling blur average out instead of moving the blocks' shifts.

    Args:
        query_long: the query's long side in pixels (as stored).
        candidate_long: the candidate's long side in pixels (as stored).
        affine: the query → candidate map (long-side units).
    """
    detail = min(query_long, candidate_long * map_scale(affine))
    return int(max(64, min(SIDE, detail // 2)))


def is_pixel_copy(evidence: PixelEvidence) -> bool:
    """Whether the pixel check shows a copy (thresholds: module constants)."""
    return (evidence.blocks >= MIN_BLOCKS and evidence.shift <= COPY_SHIFT
            and evidence.ncc >= COPY_NCC
            and evidence.perspective <= COPY_PERSPECTIVE
            and evidence.distortion <= COPY_DISTORTION)  # fmt: skip
