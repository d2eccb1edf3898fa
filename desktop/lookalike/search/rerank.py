"""Spatial re-ranking: query and candidate local features → geometrically verified scores.

For each of the top candidates of the global search, the local features (``Locals``, see
``lookalike.embed.local``) of the query and the candidate are matched as mutual nearest
neighbours, and RANSAC (:mod:`lookalike.search.ransac`) looks for one affine map of the image
plane that carries many query cells onto their matches. A photo showing the same scene has
many such inliers; an unrelated photo only has the handful that a random map explains by
chance. The candidate's score becomes

    score + weight · clip(inliers - BASELINE, 0, cap) / cap

so verification can only add to the global cosine (the order below the re-ranked depth is
unchanged) and the boost saturates (a few hundred inliers do not beat a near-duplicate).

Everything is pure NumPy and deterministic (fixed RANSAC seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.cores import usable_cores
from lookalike.search.affine import Affine
from lookalike.search.ransac import ransac_affine as ransac_affine  # pair_check imports it here
from lookalike.search.ransac import ransac_affines
from lookalike.search.similar import Match
from lookalike.types import Locals

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RerankParams:
    """The knobs of spatial re-ranking.

    Attributes:
        depth: how many of the best global matches are verified (dev 94.73 at 30, 50 and
            100; synthetic 97.59 / 97.59 / 97.71; the cost grows with it).
        weight: the largest boost, in units of cosine similarity (0.3: with stride-16 local
            features, 0.3 and 0.5 score alike on dev, 94.78 / 94.83, and 0.3 is better on the
            synthetic bench, 97.74 / 96.78; docs/QUALITY.md).
        cap: inliers (above the baseline) at which the boost saturates.
        baseline: inliers that chance alone gives (3 of them are the minimal sample itself).
        tolerance: inlier distance in units of the long side (0.05 ≈ 51 px at 1024 px: three
            16-pixel cells).
        min_similarity: cosine a mutual match needs between the two codes.
        iterations: RANSAC hypotheses per candidate.
        max_scale: largest area ratio (and smallest, as its inverse) of an accepted map.
    """

    depth: int = 50
    weight: float = 0.3
    cap: int = 20
    baseline: int = 6
    tolerance: float = 0.05
    min_similarity: float = 0.0
    iterations: int = 256
    max_scale: float = 16.0


DEFAULT_PARAMS = RerankParams()

CHANCE_INLIERS = 10
"""Inliers that two unrelated photos reach by chance: at or below it, points that line up do
not show that the photos share a scene, and the match view does not claim they do (90th
percentile of unrelated pairs among the top 50 with 256 stride-16 cells: 9 on bench/dev, 10 on
the synthetic bench; median 7, while matching photos have a median of 25-34)."""


def mutual_matches(
    query: Floats, candidate: Floats, min_similarity: float = -1.0
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Mutual nearest neighbours between two sets of unit codes.

    Args:
        query: (Kq, d) float32 unit rows.
        candidate: (Kc, d) float32 unit rows.
        min_similarity: pairs whose cosine is not above this are dropped.

    Returns:
        Indices into ``query`` and into ``candidate`` of the mutual pairs, by query index.
    """
    if len(query) == 0 or len(candidate) == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty
    return mutual_from_similarity(query @ candidate.T, min_similarity)


def mutual_from_similarity(
    sim: Floats, min_similarity: float = -1.0
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """:func:`mutual_matches` from the (Kq, Kc) cosine matrix of the two sets."""
    if sim.size == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty
    mutual, fwd = _mutual_block(sim[:, None, :], min_similarity)
    iq = np.flatnonzero(mutual[:, 0])
    return iq, fwd[iq, 0]


def _mutual_block(
    sim: Floats, min_similarity: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Mutual nearest neighbours of one query's cells in g candidates at once.

    Args:
        sim: (Kq, g, K) code cosines of the query's cells with each candidate's K cells.
        min_similarity: pairs whose cosine is not above this are not matches.

    Returns:
        (Kq, g) mask of the query cells whose best cell in the candidate chooses them back
        (the first on ties, as ``argmax``), and (Kq, g) that best cell's index.
    """
    fwd = sim.argmax(axis=2)  # each query cell's best cell in each candidate
    best = np.take_along_axis(sim, fwd[:, :, None], axis=2)[:, :, 0]
    # A candidate cell chooses back the query cell that holds its column's maximum: when no
    # column holds its maximum twice, that is the query cell whose best value IS the maximum
    # of its best cell's column (two whole-array passes instead of a loop over the rows)
    top = sim.max(axis=0)  # (g, K)
    if np.count_nonzero(sim == top) == top.size:
        chosen_back = best == np.take_along_axis(top, fwd.T, axis=1).T
    else:  # a tie: the first of the tied rows, as argmax
        back = _first_argmax(sim)  # (g, K): each candidate cell's best query cell
        rows = np.arange(sim.shape[0])[:, None]
        chosen_back = rows == np.take_along_axis(back, fwd.T, axis=1).T
    return chosen_back & (best > min_similarity), fwd


def _first_argmax(sim: Floats) -> npt.NDArray[np.intp]:
    """``sim.argmax(axis=0)`` of a (Kq, ...) array with no NaN, by a running maximum over its
    rows: the same indices (the first on ties), ~3x faster than NumPy's argmax along a first
    axis, which copies the whole array into its transpose first (12 -> 4 ms per search)."""
    best = sim[0].copy()
    arg = np.zeros(best.shape, np.intp)
    for i in range(1, len(sim)):
        better = sim[i] > best
        np.maximum(best, sim[i], out=best)
        arg[better] = i
    return arg


def _comparable(query: Locals, candidate: Locals) -> tuple[Floats, Floats] | None:
    """Both photos' local features as float32, or None when they cannot be matched."""
    q = np.asarray(query, np.float32)
    c = np.asarray(candidate, np.float32)
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1]:
        return None
    return q, c


def _verified(
    q: Floats, c: Floats, sim: Floats, params: RerankParams
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices into ``q`` and ``c`` of the mutual matches (from their code cosines ``sim``)
    that agree with RANSAC's affine map."""
    iq, ic = mutual_from_similarity(sim, params.min_similarity)
    mask = _consistent(q[iq, :2], c[ic, :2], params)
    return iq[mask], ic[mask]


def _consistent(q_xy: Floats, c_xy: Floats, params: RerankParams) -> npt.NDArray[np.bool_]:
    """Which matched positions (query, candidate) agree with RANSAC's best affine map."""
    _, mask = ransac_affine(q_xy, c_xy, params.tolerance, params.iterations, params.max_scale)
    return mask


def _codes_similarity(q: Floats, c: Floats) -> Floats:
    sim: Floats = np.ascontiguousarray(q[:, 2:]) @ np.ascontiguousarray(c[:, 2:]).T
    return sim


def count_inliers(query: Locals, candidate: Locals, params: RerankParams = DEFAULT_PARAMS) -> int:
    """Inliers of the best affine map between two photos' local features (0 if none)."""
    pair = _comparable(query, candidate)
    if pair is None:
        return 0
    q, c = pair
    iq, _ = _verified(q, c, _codes_similarity(q, c), params)
    return len(iq)


def inlier_pairs(
    query: Locals, candidate: Locals, params: RerankParams = DEFAULT_PARAMS
) -> tuple[Floats, Floats]:
    """Where the inliers counted by :func:`count_inliers` lie in both photos.

    The same mutual matching and RANSAC as :func:`count_inliers`, so there are exactly
    ``count_inliers(query, candidate, params)`` pairs; they show why a photo matched.

    Args:
        query: the query's local features.
        candidate: the candidate's local features.
        params: the knobs.

    Returns:
        (n, 2) float32 positions in the query and (n, 2) float32 positions of their matches in
        the candidate, x and y in units of each photo's long side (as in ``Locals``); the
        pairs whose codes agree most come first. (0, 2) each when there are none.
    """
    pair = _comparable(query, candidate)
    if pair is None:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    q, c = pair
    sim = _codes_similarity(q, c)
    iq, ic = _verified(q, c, sim, params)
    order = np.argsort(-sim[iq, ic], kind="stable")
    return (
        np.ascontiguousarray(q[iq[order], :2]),
        np.ascontiguousarray(c[ic[order], :2]),
    )


def boost(inliers: int, params: RerankParams = DEFAULT_PARAMS) -> float:
    """Score added for ``inliers``: ``weight · clip(inliers - baseline, 0, cap) / cap``."""
    return params.weight * min(max(inliers - params.baseline, 0), params.cap) / params.cap


@dataclass(frozen=True)
class Fit:
    """What verifying one candidate found (kept so the verdict needs no second matching pass).

    Attributes:
        query_xy: (m, 2) float32 positions of the mutual matches in the query.
        candidate_xy: (m, 2) float32 positions of their matches in the candidate.
        affine: RANSAC's (3, 2) map of the query onto the candidate, None if none was found.
        mask: (m,) bool, the inliers of ``affine``.
    """

    query_xy: Floats
    candidate_xy: Floats
    affine: Affine | None
    mask: npt.NDArray[np.bool_]

    @property
    def inliers(self) -> int:
        """The number of verified point pairs."""
        return int(self.mask.sum())


def rerank_scores(
    scores: Sequence[float] | Floats,
    query: Locals | None,
    candidates: Sequence[Locals | None],
    params: RerankParams = DEFAULT_PARAMS,
) -> Floats:
    """Verified scores of candidates (global score + inlier boost): ``scores`` (n,) global
    cosines, ``query`` local features (None: scores unchanged), ``candidates`` each one's local
    features (None: keeps its score). Returns (n,) float32 scores to sort (descending, stable).
    """
    return rerank_fits(scores, query, candidates, params)[0]


def rerank_fits(
    scores: Sequence[float] | Floats,
    query: Locals | None,
    candidates: Sequence[Locals | None],
    params: RerankParams = DEFAULT_PARAMS,
    threads: int = 0,
) -> tuple[Floats, list[Fit | None]]:
    """:func:`rerank_scores`, plus each candidate's :class:`Fit` (None: not verified, i.e. no
    local features or no more mutual matches than the baseline); on up to ``threads``
    threads (0: one per core)."""
    out = np.asarray(scores, np.float32).copy()
    fits: list[Fit | None] = [None] * len(out)
    q = None if query is None else np.asarray(query, np.float32)
    if q is None or q.ndim != 2 or not len(q):
        return out, fits
    # Candidates with the same number of cells form one (Kq, g, K) block of code cosines: one
    # matrix product and one argmax per axis for the whole block. Many small products and
    # argmaxes cost more in call overhead and BLAS thread wake-ups than in arithmetic
    # (measured: 7 ms instead of 0.2 ms per candidate on a busy 2-core machine).
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        if c is not None and c.ndim == 2 and c.shape[1] == q.shape[1] and len(c):
            groups.setdefault(len(c), []).append(i)
    # Each group is cut into one block per core, verified on threads (NumPy's products,
    # argmaxes and RANSAC's larger array operations run without Python's lock); every fit is
    # the same as on one thread (RANSAC's seed is fixed per candidate).
    cores = threads or usable_cores()
    blocks = [part for members in groups.values() for part in _split(members, cores)]
    if len(blocks) > 1 and cores > 1:
        with ThreadPoolExecutor(len(blocks), thread_name_prefix="rerank") as pool:
            found = list(pool.map(lambda part: _verify_block(q, candidates, part, params),
                                  blocks))  # fmt: skip
    else:
        found = [_verify_block(q, candidates, part, params) for part in blocks]
    for verified in found:
        for i, fit in verified:
            fits[i] = fit
            out[i] += boost(fit.inliers, params)
    return out, fits


def _split(members: list[int], parts: int, least: int = 8) -> list[list[int]]:
    """``members`` cut into at most ``parts`` runs of nearly equal length, each of at least
    ``least`` (a thread costs more than verifying a handful of candidates)."""
    n = max(1, min(parts, len(members) // least))
    size = -(-len(members) // n)
    return [members[i : i + size] for i in range(0, len(members), size)]


def _verify_block(
    q: Floats, candidates: Sequence[Locals | None], members: list[int], params: RerankParams
) -> list[tuple[int, Fit]]:
    """Fits of the ``members`` (indices into ``candidates``, all with the same number of
    cells K) that have more mutual matches with the query ``q`` (Kq, 2 + d) than the
    baseline."""
    block = np.stack([np.asarray(candidates[i]) for i in members])  # (g, K, 2 + d)
    k = block.shape[1]
    flat = np.ascontiguousarray(block[:, :, 2:], np.float32).reshape(-1, q.shape[1] - 2)
    sim = (np.ascontiguousarray(q[:, 2:]) @ flat.T).reshape(len(q), len(members), k)
    mutual, fwd = _mutual_block(sim, params.min_similarity)
    # inliers <= matches: with no more matches than the baseline, no boost is possible
    cols = np.flatnonzero(mutual.sum(axis=0) > params.baseline).tolist()
    points = []
    for col in cols:
        iq = np.flatnonzero(mutual[:, col])
        points.append((np.ascontiguousarray(q[iq, :2]),
                       block[col, fwd[iq, col], :2].astype(np.float32)))  # fmt: skip
    found = ransac_affines(points, params.tolerance, params.iterations, params.max_scale)
    return [(members[col], Fit(q_xy, c_xy, affine, mask))
            for col, (q_xy, c_xy), (affine, mask) in zip(cols, points, found, strict=True)]


def rerank_matches(
    matches: Sequence[Match],
    query: Locals | None,
    candidates: Mapping[int, Locals],
    top: int,
    params: RerankParams = DEFAULT_PARAMS,
) -> list[Match]:
    """Re-rank the first ``params.depth`` matches (best first) by spatial verification; photos
    missing from ``candidates`` (id → local features) keep their score. Returns at most ``top``
    matches re-numbered from rank 1 (the pipeline uses ``search.verdict.verified_matches``,
    which also gives verdicts)."""
    head, tail = list(matches[: params.depth]), list(matches[params.depth :])
    new = rerank_scores(
        [m.score for m in head], query, [candidates.get(m.photo_id) for m in head], params
    )
    order = np.argsort(-new, kind="stable")
    ranked = [(head[i], float(new[i])) for i in order] + [(m, m.score) for m in tail]
    return [
        Match(m.photo_id, m.path, score, rank)
        for rank, (m, score) in enumerate(ranked[:top], start=1)
    ]
