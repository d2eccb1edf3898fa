"""RANSAC for one affine map between matched points: many hypotheses from seeded random
triples, scored at once, the best refitted by least squares (spatial re-ranking's
verification, :mod:`lookalike.search.rerank`, and the pair check of duplicate grouping,
:mod:`lookalike.search.pair_check`).

Everything is pure NumPy and deterministic (fixed seed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lookalike.search.affine import Affine, fit_affine, homogeneous, seeded_triples, triple_maps

Floats = npt.NDArray[np.float32]


def ransac_affine(
    src: npt.NDArray[np.floating],
    dst: npt.NDArray[np.floating],
    tolerance: float,
    iterations: int = 256,
    max_scale: float = 16.0,
    seed: int = 0,
) -> tuple[Affine | None, npt.NDArray[np.bool_]]:
    """RANSAC for an affine map ``dst ≈ [src 1] @ A`` with all hypotheses at once.

    Hypotheses come from 3 random correspondences; a map that mirrors, collapses or scales
    the area by more than ``max_scale`` (or less than its inverse) is rejected. The best one is
    refitted by least squares on its inliers and scored again.

    Args:
        src, dst: (n, 2) matched points.
        tolerance: largest distance of an inlier from its mapped position.
        iterations: hypotheses.
        max_scale: bound on the area ratio.
        seed: RANSAC is deterministic for a given seed.

    Returns:
        The (3, 2) map (None when n < 3 or no hypothesis is valid) and the (n,) inlier mask.
    """
    return ransac_affines([(src, dst)], tolerance, iterations, max_scale, seed)[0]


def ransac_affines(
    pairs: Sequence[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]],
    tolerance: float,
    iterations: int = 256,
    max_scale: float = 16.0,
    seed: int = 0,
) -> list[tuple[Affine | None, npt.NDArray[np.bool_]]]:
    """:func:`ransac_affine` of each of many (src, dst) pairs of matched points, the same maps
    and masks as one call per pair.

    The hypotheses of every pair are made in one pass over all of them (their arithmetic is
    elementwise, so each pair's maps are those it gets alone; a search verifies 50 candidates,
    and one pass instead of 50 saves ~6 ms); each pair is then scored and refitted on its own,
    on (n, I) arrays that stay in the cache.
    """
    src64 = [np.asarray(s, np.float64) for s, _ in pairs]
    dst64 = [np.asarray(d, np.float64) for _, d in pairs]
    out: list[tuple[Affine | None, npt.NDArray[np.bool_]]] = [
        (None, np.zeros(len(s), np.bool_)) for s in src64
    ]
    fitted = [p for p, s in enumerate(src64) if len(s) >= 3]
    if not fitted:
        return out
    coef, ok = _hypotheses([src64[p] for p in fitted], [dst64[p] for p in fitted],
                           iterations, max_scale, seed)  # fmt: skip
    for row, p in enumerate(fitted):
        hypotheses = coef[:, row * iterations : (row + 1) * iterations]
        out[p] = _best_map(src64[p], dst64[p], hypotheses, ok[row], tolerance, max_scale)
    return out


def _hypotheses(
    src: Sequence[npt.NDArray[np.float64]],
    dst: Sequence[npt.NDArray[np.float64]],
    iterations: int,
    max_scale: float,
    seed: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The maps of the seeded triples of P pairs (each of n >= 3 points): (6, P·I)
    coefficients (:func:`lookalike.search.affine.triple_maps`), pair by pair, and the (P, I)
    mask of the valid ones (not degenerate, area ratio within ``max_scale``)."""
    counts = [len(s) for s in src]
    starts = np.cumsum([0, *counts[:-1]])
    picks = np.stack([seeded_triples(n, iterations, seed) for n in counts])
    rows = np.ascontiguousarray((picks + starts[:, None, None]).reshape(-1, 3).T)  # (3, P·I)
    # np.take, not fancy indexing: the same values many times faster
    sx, sy = (np.take(np.ascontiguousarray(c), rows) for c in np.concatenate(src).T)
    dx, dy = (np.take(np.ascontiguousarray(c), rows) for c in np.concatenate(dst).T)
    coef, ok = triple_maps(sx, sy, dx, dy)
    area = coef[0] * coef[3] - coef[2] * coef[1]
    ok &= (area > 1.0 / max_scale) & (area < max_scale)
    return coef, ok.reshape(len(src), iterations)


def _best_map(
    src64: npt.NDArray[np.float64],
    dst64: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    ok: npt.NDArray[np.bool_],
    tolerance: float,
    max_scale: float,
) -> tuple[Affine | None, npt.NDArray[np.bool_]]:
    """RANSAC's choice among one pair's hypotheses, (6, I) coefficients (``ok``: the valid
    ones): the one with the most inliers (the first on ties), refitted on them when that
    explains at least as many."""
    if not ok.any():
        return None, np.zeros(len(src64), np.bool_)
    kept = coef[:, ok]
    # scoring every hypothesis on every match is most of the time: float32 is ample for
    # positions in 0..1 against a tolerance of a few hundredths. Laid out (n, I'), each pass
    # runs along the hypotheses (a match's coordinate is one scalar per row): ~1.5x faster
    # than (I', n), with the same products and sums, so the same distances
    k32 = kept.astype(np.float32)
    (x, y), (u, v) = src64.T.astype(np.float32), dst64.T.astype(np.float32)
    dist = _squared_residual(k32[0], k32[2], k32[4], x, y, u)
    dist += _squared_residual(k32[1], k32[3], k32[5], x, y, v)
    inside = dist < np.float32(tolerance**2)  # (n, I'): each map's inliers
    winner = int(np.argmax(inside.sum(axis=0)))
    best, mask = kept[:, winner].reshape(3, 2), np.ascontiguousarray(inside[:, winner])
    if mask.sum() >= 3:
        refit = fit_affine(src64[mask], dst64[mask])
        area = refit[0, 0] * refit[1, 1] - refit[0, 1] * refit[1, 0]
        if 1.0 / max_scale < area < max_scale:
            remask = ((homogeneous(src64) @ refit - dst64) ** 2).sum(axis=-1) < tolerance**2
            if remask.sum() >= mask.sum():
                best, mask = refit, remask
    return best, mask


def _squared_residual(a: Floats, b: Floats, c: Floats, x: Floats, y: Floats, target: Floats
                      ) -> Floats:  # fmt: skip
    """(n, I) ``(a x + b y + (c - target))²`` of n points under I maps' rows (a, b, c) (I,),
    computed in place in that order."""
    out: Floats = x[:, None] * a
    out += y[:, None] * b
    out += c - target[:, None]
    out *= out
    return out
