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
        others hold zeros).
    """
    p1, p2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
    q1, q2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    det = p1[:, 0] * p2[:, 1] - p2[:, 0] * p1[:, 1]
    ok = np.abs(det) > 1e-9
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    maps = np.empty((len(src), 3, 2), np.float64)
    # x' = m[0, c] x + m[1, c] y + m[2, c] for output coordinate c: solve [q1 q2] = M [p1 p2].
    for c in (0, 1):
        maps[:, 0, c] = (q1[:, c] * p2[:, 1] - q2[:, c] * p1[:, 1]) * inv
        maps[:, 1, c] = (q2[:, c] * p1[:, 0] - q1[:, c] * p2[:, 0]) * inv
        maps[:, 2, c] = dst[:, 0, c] - maps[:, 0, c] * src[:, 0, 0] - maps[:, 1, c] * src[:, 0, 1]
    return maps, ok


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
