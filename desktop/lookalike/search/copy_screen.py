"""Stored thumbnails of candidate pairs → the pairs worth a pixel test as whole-frame copies.

Duplicate grouping checks its candidate pairs on the stored stride-16 cells
(:mod:`lookalike.search.pair_check`), which cannot fit a copy that is turned a quarter,
mirrored or only 320 pixels wide, and its prefilter leaves out such copies' lower cosines. Each
photo also stores a grey thumbnail of its whole frame squeezed to a square
(:class:`lookalike.types.Thumb`). A copy of the whole frame (resized, recompressed, recoloured,
turned or mirrored) is, at :data:`SCREEN_SIDE` pixels, one of the eight dihedral variants of the
other's thumbnail, with the same aspect once turned: this module scores every pair by the best
normalised correlation of the eight (batched NumPy, no file read), and maps the best variant
onto the other frame (:func:`frame_map`) for the pixel test (``copy_pixels.check_files``),
which alone decides (another shot from a tripod correlates too).

Crops and framed copies are not whole-frame copies: the cells fit them against the upright
copies, and grouping links them through those (``grouping.star_linkage``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SCREEN_SIDE = 16
"""Side (pixels) at which thumbnails are compared: 256 grey levels a photo."""
SCREEN_NCC = 0.95
"""Correlation of the best variant from which a pair goes to the pixel test. Calibration copies
bench (seed 1, ``benchmarks/copy_screen_chance.py``): whole-frame copy pairs (turned, mirrored,
320 px, recoloured) 0.989 and more; unrelated pairs p99.9 0.74, max 0.87; other shots of a
scene up to 0.98 (tripod): those the pixel test rejects."""
ASPECT_TOLERANCE = 0.03
"""Largest |log| ratio of the two frames' aspects (after the variant's turn) of a whole-frame
copy: a 320-px copy's rounding is 0.5 %, a 3 % difference a 16-pixel border on 512."""
PAIR_BATCH = 8192
"""Pairs scored per NumPy batch (8 variants x 256 float32: 67 MB)."""

Sizes = npt.NDArray[np.int64]
"""(N, 2) width, height of each photo (its aspect)."""


def signatures(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """(N, S, S) uint8 thumbnails (S a multiple of :data:`SCREEN_SIDE`) → (N, SCREEN_SIDE,
    SCREEN_SIDE) float32, box-averaged, zero mean and unit norm (a flat one: all zero)."""
    n, side = pixels.shape[0], pixels.shape[1]
    k = side // SCREEN_SIDE
    if side % SCREEN_SIDE or pixels.shape[2] != side:
        raise ValueError(f"thumbnails must be square multiples of {SCREEN_SIDE}: {pixels.shape}")
    whole = pixels.astype(np.float32)
    # box means as sums of k * k strided views (exact: sums of small integers), a few times
    # faster than a mean over two inner axes
    small = np.zeros((n, SCREEN_SIDE, SCREEN_SIDE), np.float32)
    for i in range(k):
        for j in range(k):
            small += whole[:, i::k, j::k]
    small /= k * k
    small -= small.mean(axis=(1, 2), keepdims=True)
    norm = np.sqrt((small * small).sum(axis=(1, 2), keepdims=True))
    return np.asarray(np.where(norm > 1e-3, small / np.maximum(norm, 1e-3), 0.0), np.float32)


EVEN, ODD = (0, 2, 4, 6), (1, 3, 5, 7)
"""The variants that keep a frame's aspect, and those that swap its width and height."""


def _variants(sig: npt.NDArray[np.float32], variants: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """(P, s, s) → (P, len(variants), s * s): dihedral variants as ``copy_align.dihedral``
    numbers them (0-3 quarter turns counter-clockwise, 4-7 the same of the left-right mirror)."""
    out = []
    for variant in variants:
        base = sig[:, :, ::-1] if variant >= 4 else sig
        out.append(np.rot90(base, variant % 4, axes=(1, 2)).reshape(len(sig), -1))
    return np.ascontiguousarray(np.stack(out, axis=1))


def _log_aspect(sizes: Sizes) -> npt.NDArray[np.float64]:
    """(P, 2) width, height → (P,) log(width / height) (a degenerate size: 0)."""
    wh = np.maximum(np.asarray(sizes, np.float64), 1.0)
    return np.asarray(np.log(wh[:, 0] / wh[:, 1]), np.float64)


def screen(sigs: npt.NDArray[np.float32], sizes: Sizes, a: npt.NDArray[np.intp],
           b: npt.NDArray[np.intp]
           ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:  # fmt: skip
    """The best whole-frame correlation of each pair and the variant of a that gives it.

    Args:
        sigs: (N, s, s) :func:`signatures`.
        sizes: (N, 2) width, height of each photo.
        a, b: (P,) rows of ``sigs`` of each pair's photos.

    Returns:
        (P,) correlations (-1 where no variant has b's aspect) and (P,) variants of a
        (``copy_align.dihedral``) that carry it onto b.
    """
    score = np.full(len(a), -1.0, np.float32)
    best = np.zeros(len(a), np.int64)
    for start in range(0, len(a), PAIR_BATCH):
        ia, ib = a[start : start + PAIR_BATCH], b[start : start + PAIR_BATCH]
        aspect_a, aspect_b = _log_aspect(sizes[ia]), _log_aspect(sizes[ib])
        upright = np.abs(aspect_a - aspect_b) <= ASPECT_TOLERANCE
        turned = np.abs(aspect_a + aspect_b) <= ASPECT_TOLERANCE  # odd variants swap w, h
        ncc = np.full((len(ia), 8), -1.0, np.float32)  # only the variants the aspects allow
        for fits, variants in ((upright, EVEN), (turned, ODD)):
            rows = np.flatnonzero(fits)
            if len(rows):
                found = np.einsum("pvf,pf->pv", _variants(sigs[ia[rows]], variants),
                                  sigs[ib[rows]].reshape(len(rows), -1))  # fmt: skip
                ncc[np.ix_(rows, np.asarray(variants, np.intp))] = found
        best[start : start + len(ia)] = ncc.argmax(axis=1)
        score[start : start + len(ia)] = ncc.max(axis=1)
    return score, best


def frame_map(variant: int, size_a: tuple[int, int], size_b: tuple[int, int]
              ) -> npt.NDArray[np.float64]:  # fmt: skip
    """The (3, 2) map ``[x y 1] @ A`` of a's variant ``variant`` onto b's whole frame, in
    long-side units (as ``copy_align`` proposes maps: the pixel test refines it).

    Args:
        variant: as in ``copy_align.dihedral``.
        size_a, size_b: (width, height) of each photo.
    """
    wa, ha = size_a if variant % 2 == 0 else (size_a[1], size_a[0])
    wb, hb = size_b
    la, lb = max(wa, ha), max(wb, hb)
    out = np.zeros((3, 2))
    out[0, 0] = la * wb / (wa * lb)
    out[1, 1] = la * hb / (ha * lb)
    return out
