"""Affine maps from point correspondences: exact maps of point triples in closed form, the
seeded random triples RANSAC draws them from, and least-squares refits (shared by the search's
re-ranking, :mod:`lookalike.search.rerank`, and duplicate grouping's batched checks,
:mod:`lookalike.search.pair_batch`)."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

Affine = npt.NDArray[np.float64]
"""(3, 2): ``[x y 1] @ A`` maps a point of the query onto the candidate."""


def homogeneous(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(..., 2) points -> (..., 3) with a 1 appended."""
    return np.concatenate([points, np.ones((*points.shape[:-1], 1))], axis=-1)


def affine_from_triples(
    src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]
) -> tuple[Affine, npt.NDArray[np.bool_]]:
    """The exact affine maps of (I, 3, 2) point triples onto theirs, in closed form (Cramer's
    rule: many times faster than ``np.linalg.solve`` on a stack of 3x3 systems).

    Returns:
        (I, 3, 2) maps (``[x y 1] @ A``) and the (I,) mask of non-degenerate triples (the
        others have a zero linear part).
    """
    coef, ok = triple_maps(src[:, :, 0].T, src[:, :, 1].T, dst[:, :, 0].T, dst[:, :, 1].T)
    return np.ascontiguousarray(coef.T).reshape(-1, 3, 2), ok


def triple_maps(
    src_x: npt.NDArray[np.float64],
    src_y: npt.NDArray[np.float64],
    dst_x: npt.NDArray[np.float64],
    dst_y: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """:func:`affine_from_triples` of I triples given as (3, I) coordinates (row j: the j-th
    point of every triple), each row contiguous: the passes then run over contiguous arrays.

    Returns:
        (6, I) coefficients, the (3, 2) maps flattened row by row (a d b e c f for
        ``u = a x + b y + c``, ``v = d x + e y + f``; a degenerate triple gets a zero linear
        part); and the (I,) mask of the others.
    """
    p1x, p1y = src_x[1] - src_x[0], src_y[1] - src_y[0]
    p2x, p2y = src_x[2] - src_x[0], src_y[2] - src_y[0]
    det = p1x * p2y - p2x * p1y
    ok = np.abs(det) > 1e-9
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    coef = np.empty((6, len(det)), np.float64)
    # x' = m[0, c] x + m[1, c] y + m[2, c] for output coordinate c: solve [q1 q2] = M [p1 p2].
    for c, dst in enumerate((dst_x, dst_y)):
        q1, q2 = dst[1] - dst[0], dst[2] - dst[0]
        coef[c] = (q1 * p2y - q2 * p1y) * inv
        coef[2 + c] = (q2 * p1x - q1 * p2x) * inv
        coef[4 + c] = dst[0] - coef[c] * src_x[0] - coef[2 + c] * src_y[0]
    return coef, ok


def random_triples(rng: np.random.Generator, n: int, count: int) -> npt.NDArray[np.int64]:
    """(count, 3) random triples of distinct indices in 0..n-1 (n >= 3), each ordered triple
    equally likely, in O(count) (no shuffle of all n per triple)."""
    a = rng.integers(0, n, count)
    b = rng.integers(0, n - 1, count)
    b += b >= a  # skip a
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    c = rng.integers(0, n - 2, count)
    c += c >= lo  # skip the smaller, then the larger of a and b
    c += c >= hi
    return np.stack([a, b, c], axis=1)


@functools.lru_cache(maxsize=512)
def seeded_triples(n: int, count: int, seed: int) -> npt.NDArray[np.int64]:
    """:func:`random_triples` of a fresh generator seeded ``seed``: the same for every
    candidate with ``n`` matches, so drawn once (a search verifies 50 candidates; the draws
    were ~5 % of it)."""
    picks = random_triples(np.random.default_rng(seed), n, count)
    picks.setflags(write=False)
    return picks


def fit_affine(src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]) -> Affine:
    """Least-squares affine map (3, 2) from ``src`` (n, 2) to ``dst`` (n, 2), n >= 3."""
    sol = np.linalg.lstsq(homogeneous(src), dst, rcond=None)[0]
    return np.asarray(sol, dtype=np.float64)
