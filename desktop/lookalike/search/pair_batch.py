"""Many candidate pairs → the pair check's evidence for each, in a few large NumPy operations.

The same check as :func:`lookalike.search.pair_check.check_locals`, batched over pairs:

1. :class:`LocalsTable`: the local features of many photos, decoded from their stored blobs in
   one pass per blob size and padded to one (n, K, 2 + d) shape (padded cells have zero codes:
   they never make a match).
2. :func:`check_batch`: for a block of pairs, one stacked product gives every pair's code
   cosines, mutual nearest neighbours come from two argmaxes over the whole block, and RANSAC
   scores the same hypotheses as :func:`lookalike.search.rerank.ransac_affine` (the same seeded
   triples for the same number of matches) for all pairs at once. Only the refit of each
   winning map and :func:`~lookalike.search.pair_check.judge_fit` (the copy/burst test, kept
   in one place) run per pair, and only for pairs with more matches than chance gives.

The decisions are the pair check's. The arithmetic differs only in rounding: the code cosines
are summed in another order, the distances of the matches from each hypothesis come from one
product in float64 (``ransac_affine``: float32 passes), and the refit solves the normal
equations of all pairs at once (``ransac_affine``: ``lstsq`` per pair). A match that lies
within rounding of a bound can fall on the other side; tested to give the same evidence on
copies, turned copies, crops, other shots and unrelated photos (and, in
``benchmarks/duplicates_speed.py``, every planted copy).

Cost (one core, synthetic 256-cell photos): about 0.8 ms of CPU per pair, against 8-14 ms for
``check_locals`` pair by pair on the same loaded machine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.search.affine import affine_from_triples, seeded_triples
from lookalike.search.pair_check import CHECK_ITERATIONS, PairEvidence, judge_fit
from lookalike.search.rerank import CHANCE_INLIERS, DEFAULT_PARAMS
from lookalike.types import CODE_STEP, locals_from_bytes, locals_to_bytes

log = logging.getLogger(__name__)

RANSAC_GROUP = 16
"""Pairs whose RANSAC runs at once, grouped by their number of matches (less padding)."""
BATCH = 64
"""Pairs per stacked product and RANSAC block: (64, 256, 256) float32 cosines are 16 MB, and
RANSAC's (64, 128, m) scores a few times that."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Ids = npt.NDArray[np.int64]
Fitted = tuple[PairEvidence, F64 | None]
"""A pair's evidence and the (3, 2) affine map of a's positions onto b's (None: no fit)."""


@dataclass(frozen=True)
class LocalsTable:
    """Local features of many photos, padded to one shape.

    Attributes:
        rows: photo id → row.
        xy: (n, K, 2) float32 cell positions (units of the long side); padded cells 0.
        codes: (n, K, d) float32 unit codes (the float16 values ``locals_from_bytes`` gives);
            padded 0.
        count: (n,) int64 real cells of each photo (the first ``count`` of its row).
    """

    rows: dict[int, int]
    xy: F32
    codes: F32
    count: Ids

    @classmethod
    def from_blobs(cls, blobs: Mapping[int, bytes]) -> LocalsTable:
        """Decode stored local-feature blobs (``locals_to_bytes``); unreadable ones are logged
        and left out, and so are photos whose code size differs from most photos'."""
        by_size: dict[int, list[int]] = {}
        for photo_id, blob in blobs.items():
            by_size.setdefault(len(blob), []).append(photo_id)
        blocks: list[Block] = []
        for ids in by_size.values():
            blocks += _decode_same_size(ids, [blobs[i] for i in ids])
        return cls.from_blocks(blocks)

    @classmethod
    def from_blocks(cls, blocks: Sequence[Block]) -> LocalsTable:
        """Build from blocks of photos: (ids, (n, k, 2) positions, (n, k, d) codes)."""
        widths = [c.shape[-1] for _, _, c in blocks for _ in range(len(c))]
        width = max(set(widths), key=widths.count) if widths else 1
        kept = [b for b in blocks if b[2].shape[-1] == width]
        if len(kept) < len(blocks):
            log.warning("%d photos have local features of another size: not checked",
                        sum(len(b[0]) for b in blocks) - sum(len(b[0]) for b in kept))  # fmt: skip
        if len(kept) == 1:  # the usual case: every blob in the compact format, one size
            ids, pos, code = kept[0]
            every = {photo_id: j for j, photo_id in enumerate(ids)}
            return cls(every, pos, code, np.full(len(ids), code.shape[1], np.int64))
        n = sum(len(ids) for ids, _, _ in kept)
        k = max((c.shape[1] for _, _, c in kept), default=1)
        xy = np.zeros((n, k, 2), np.float32)
        codes = np.zeros((n, k, width), np.float32)
        count = np.zeros(n, np.int64)
        rows: dict[int, int] = {}
        for ids, pos, code in kept:
            first = len(rows)
            rows.update((photo_id, first + j) for j, photo_id in enumerate(ids))
            xy[first : len(rows), : pos.shape[1]] = pos
            codes[first : len(rows), : code.shape[1]] = code
            count[first : len(rows)] = code.shape[1]
        return cls(rows, xy, codes, count)


Block = tuple[Sequence[int], F32, F32]
"""Photos decoded together: their ids, (n, k, 2) positions, (n, k, d) codes."""

_STEPS = (np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32) * CODE_STEP
          ).astype(np.float16).astype(np.float32)  # fmt: skip
"""The code value of each int8 step (by its byte), as ``locals_from_bytes`` gives it."""


def _decode_same_size(ids: Sequence[int], blobs: Sequence[bytes]) -> list[Block]:
    """Blobs of one length: all at once when they share the compact format's header (int8
    codes), else one by one with ``locals_from_bytes`` (older float16 rows, damaged blobs)."""
    try:
        first = locals_from_bytes(blobs[0])
    except ValueError:
        first = None
    if first is not None and len(first):
        k, width = first.shape
        head = locals_to_bytes(np.zeros((0, width), np.float32))
        raw = np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), -1)
        size = len(head) + k * (4 + width - 2)
        if raw.shape[1] == size and (raw[:, : len(head)] == np.frombuffer(head, np.uint8)).all():
            body = raw[:, len(head) :]
            xy = np.ascontiguousarray(body[:, : 4 * k]).view("<f2").reshape(-1, k, 2)
            codes = _STEPS[body[:, 4 * k :]].reshape(-1, k, width - 2)
            return [(ids, xy.astype(np.float32), codes)]
    out: list[Block] = []
    for photo_id, blob in zip(ids, blobs, strict=True):
        try:
            loc = locals_from_bytes(blob).astype(np.float32)
        except ValueError as exc:
            log.warning("photo %d: unreadable local features (%s)", photo_id, exc)
            continue
        out.append(([photo_id], loc[None, :, :2], loc[None, :, 2:]))
    return out


def check_batch(table: LocalsTable, a: Sequence[int], b: Sequence[int],
                cosine: Sequence[float], threads: int = 1) -> list[PairEvidence]:  # fmt: skip
    """The pair check of each pair (``a[i]``, ``b[i]``): :func:`check_batch_fits` without
    the maps."""
    return [e for e, _ in check_batch_fits(table, a, b, cosine, threads)]


def check_batch_fits(table: LocalsTable, a: Sequence[int], b: Sequence[int],
                     cosine: Sequence[float], threads: int = 1) -> list[Fitted]:  # fmt: skip
    """The pair check of each pair (``a[i]``, ``b[i]``) with global cosine ``cosine[i]``.

    Args:
        table: the local features of the pairs' photos.
        a, b: photo ids.
        cosine: the pairs' global cosines.
        threads: blocks of :data:`BATCH` pairs checked at once (NumPy releases the GIL in the
            products and passes that take most of the time).

    Returns:
        One (evidence, map) per pair: the evidence as ``check_locals`` gives it without its
        pixel test (``kind`` None for a photo missing from ``table``), and the (3, 2) map of
        a's positions onto b's that RANSAC fitted (None: no fit above chance), which the
        pixel test (:func:`lookalike.search.pair_check.pixel_confirmed`) refines.
    """
    out: list[Fitted] = [(PairEvidence(None, float(c)), None) for c in cosine]
    ra = np.asarray([table.rows.get(int(i), -1) for i in a], np.int64)
    rb = np.asarray([table.rows.get(int(i), -1) for i in b], np.int64)
    cos = np.asarray(cosine, np.float64)
    ok = (ra >= 0) & (rb >= 0)
    ok[ok] &= (table.count[ra[ok]] >= 3) & (table.count[rb[ok]] >= 3)
    todo = np.flatnonzero(ok)
    blocks = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]

    def run(block: Ids) -> list[Fitted]:
        return _check_block(table, ra[block], rb[block], cos[block])

    if threads > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(min(threads, len(blocks))) as pool:
            results = list(pool.map(run, blocks))
    else:
        results = [run(block) for block in blocks]
    for block, found in zip(blocks, results, strict=True):
        for i, evidence in zip(block.tolist(), found, strict=True):
            out[i] = evidence
    return out


def _mutual(table: LocalsTable, ra: Ids, rb: Ids) -> tuple[npt.NDArray[np.bool_], Ids]:
    """(P, K) mask of each pair's mutual matches (a's cells whose best cell in b chooses them
    back, above the re-ranker's minimum cosine) and (P, K) that best cell.

    "Chooses them back" is tested as "the cell's cosine is its best cell's column maximum",
    the first such cell winning (an argmax over the other axis of the block costs four times
    a maximum); it differs from an argmax only when another cell ties that maximum exactly
    but prefers a third cell.
    """
    sim = np.matmul(table.codes[ra], table.codes[rb].transpose(0, 2, 1))  # (P, K, K) cosines
    fwd = sim.argmax(axis=2)
    best = np.take_along_axis(sim, fwd[:, :, None], axis=2)[:, :, 0]
    column_max = sim.max(axis=1)
    mutual = (best == np.take_along_axis(column_max, fwd, axis=1))
    mutual &= best > DEFAULT_PARAMS.min_similarity
    pair, cell = np.nonzero(mutual)
    key = pair * sim.shape[2] + fwd[pair, cell]
    first = np.zeros(len(key), np.bool_)
    first[np.unique(key, return_index=True)[1]] = True
    mutual[pair[~first], cell[~first]] = False
    return mutual, fwd


def _check_block(table: LocalsTable, ra: Ids, rb: Ids, cosine: F64) -> list[Fitted]:
    """``check_batch_fits`` for at most :data:`BATCH` pairs of photos that are in the table."""
    mutual, fwd = _mutual(table, ra, rb)
    matches = mutual.sum(axis=1)
    out: list[Fitted] = [(PairEvidence(None, float(c)), None) for c in cosine]
    fit = np.flatnonzero(matches > CHANCE_INLIERS)  # inliers <= matches: else nothing to find
    # RANSAC pads each group's matches to its largest count: pairs with similar counts go
    # together (its cost follows the padded size; each pair's result does not depend on it)
    fit = fit[np.argsort(matches[fit], kind="stable")]
    for start in range(0, len(fit), RANSAC_GROUP):
        group = fit[start : start + RANSAC_GROUP]
        src, dst = _matched(table, ra[group], rb[group], mutual[group], fwd[group])
        maps, masks = _ransac_block(src, dst, matches[group])
        maps, masks = _refit_block(src, dst, matches[group], maps, masks)
        for j, i in enumerate(group.tolist()):
            n = int(matches[i])
            affine = None if np.isnan(maps[j]).any() else maps[j]
            ka, kb = int(table.count[ra[i]]), int(table.count[rb[i]])
            found = judge_fit(table.xy[ra[i], :ka], table.xy[rb[i], :kb], src[j, :n],
                              dst[j, :n], affine, masks[j, :n], float(cosine[i]))  # fmt: skip
            out[i] = (found, affine if found.inliers > CHANCE_INLIERS else None)
    return out


def _matched(table: LocalsTable, ra: Ids, rb: Ids, mutual: npt.NDArray[np.bool_], fwd: Ids
             ) -> tuple[F32, F32]:  # fmt: skip
    """(P, M, 2) positions in a and (P, M, 2) in b of each pair's mutual matches (by a's
    cell), padded with zeros to the largest count M."""
    count = mutual.sum(axis=1)
    pair, cell = np.nonzero(mutual)  # row-major: each pair's matches by a's cell
    slot = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
    src = np.zeros((len(ra), int(count.max()), 2), np.float32)
    dst = np.zeros_like(src)
    src[pair, slot] = table.xy[ra[pair], cell]
    dst[pair, slot] = table.xy[rb[pair], fwd[pair, cell]]
    return src, dst


def _ransac_block(src: F32, dst: F32, n: Ids) -> tuple[F64, npt.NDArray[np.bool_]]:
    """RANSAC's hypotheses and scoring (``ransac_affine`` before its refit) for P pairs.

    Args:
        src, dst: (P, M, 2) matched positions, the first ``n[p]`` of each pair real.
        n: (P,) matches per pair (each >= 3).

    Returns:
        (P, 3, 2) each pair's best map (NaN where no hypothesis was valid) and (P, M) its
        inliers.
    """
    picks = np.stack([seeded_triples(int(k), CHECK_ITERATIONS, 0) for k in n])  # (P, I, 3)
    rows = np.arange(len(n))[:, None, None]
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    maps, ok = affine_from_triples(src64[rows, picks].reshape(-1, 3, 2),
                                    dst64[rows, picks].reshape(-1, 3, 2))  # fmt: skip
    maps, ok = maps.reshape(len(n), CHECK_ITERATIONS, 3, 2), ok.reshape(len(n), -1)
    area = maps[..., 0, 0] * maps[..., 1, 1] - maps[..., 0, 1] * maps[..., 1, 0]
    scale = DEFAULT_PARAMS.max_scale
    ok &= (area > 1.0 / scale) & (area < scale)
    inside = _inside(src, dst, maps)  # (P, M, I)
    inside &= (np.arange(src.shape[1])[None, :] < n[:, None])[:, :, None]
    counts = np.where(ok, inside.sum(axis=1), -1)
    winner = counts.argmax(axis=1)
    best = maps[np.arange(len(n)), winner]
    best[~ok.any(axis=1)] = np.nan
    return best, inside[np.arange(len(n)), :, winner]


_UPPER = np.triu_indices(5)
_TOLERANCE2 = float(np.float32(DEFAULT_PARAMS.tolerance**2))
"""The inlier bound on the squared distance, as ``ransac_affine`` compares it (float32)."""


def _inside(src: F32, dst: F32, maps: F64) -> npt.NDArray[np.bool_]:
    """(P, M, I) whether each match is within the tolerance of each hypothesis' map.

    The squared distance of match z = (x, y, 1, u, v) from map i is a quadratic form
    zᵀ Q_i z (Q_i = w₁w₁ᵀ + w₂w₂ᵀ, w₁ = (a, b, c, -1, 0) and w₂ = (d, e, f, 0, -1) for the map's
    two output rows): one product of the 15 monomials of each match with the 15 coefficients
    of each map gives all of them, in float64 (no cancellation worth a tie at the bound),
    instead of a dozen passes over a (P, I, M) array.
    """
    ones = np.ones((*src.shape[:2], 1))
    z = np.concatenate([src, ones, dst], axis=2, dtype=np.float64)  # (P, M, 5)
    phi = z[:, :, _UPPER[0]] * z[:, :, _UPPER[1]]  # (P, M, 15)
    a, b, c = maps[..., 0, 0], maps[..., 1, 0], maps[..., 2, 0]  # u ≈ a x + b y + c
    d, e, f = maps[..., 0, 1], maps[..., 1, 1], maps[..., 2, 1]  # v ≈ d x + e y + f
    one, zero = np.ones_like(a), np.zeros_like(a)
    # zᵀ Q z over the upper triangle of Q (off-diagonal terms twice), in _UPPER's order
    coef = np.stack([a * a + d * d, 2 * (a * b + d * e), 2 * (a * c + d * f), -2 * a, -2 * d,
                     b * b + e * e, 2 * (b * c + e * f), -2 * b, -2 * e,
                     c * c + f * f, -2 * c, -2 * f,
                     one, zero, one], axis=1)  # (P, 15, I)  # fmt: skip
    inside: npt.NDArray[np.bool_] = np.matmul(phi, coef) < _TOLERANCE2
    return inside


def _refit_block(src: F32, dst: F32, n: Ids, best: F64, mask: npt.NDArray[np.bool_]
                 ) -> tuple[F64, npt.NDArray[np.bool_]]:  # fmt: skip
    """``ransac_affine``'s last step for P pairs: refit each winning map on its inliers by
    least squares and keep the refit where it explains at least as many matches.

    The normal equations of all pairs are solved at once (``ransac_affine`` calls ``lstsq``
    per pair: the same map up to rounding; a pair whose inliers lie on one line keeps its
    hypothesis, as ``lstsq``'s minimum-norm map of such points is no affine map of the
    photo).
    """
    homog = np.concatenate([src, np.ones((*src.shape[:2], 1), np.float32)], axis=2)
    h64, d64 = homog.astype(np.float64), dst.astype(np.float64)
    w = mask.astype(np.float64)[:, :, None]
    lhs = np.matmul(h64.transpose(0, 2, 1), h64 * w)  # (P, 3, 3)
    rhs = np.matmul(h64.transpose(0, 2, 1), d64 * w)  # (P, 3, 2)
    solvable = (mask.sum(axis=1) >= 3) & ~np.isnan(best).any(axis=(1, 2))
    solvable &= np.abs(np.linalg.det(lhs)) > 1e-12
    refit = np.zeros_like(best)
    if solvable.any():
        refit[solvable] = np.linalg.solve(lhs[solvable], rhs[solvable])
    area = refit[:, 0, 0] * refit[:, 1, 1] - refit[:, 0, 1] * refit[:, 1, 0]
    scale = DEFAULT_PARAMS.max_scale
    solvable &= (area > 1.0 / scale) & (area < scale)
    inside = np.arange(src.shape[1])[None, :] < n[:, None]
    remask = (((np.matmul(h64, refit) - d64) ** 2).sum(axis=2) < DEFAULT_PARAMS.tolerance**2)
    remask &= inside
    better = solvable & (remask.sum(axis=1) >= mask.sum(axis=1))
    best = np.where(better[:, None, None], refit, best)
    return best, np.where(better[:, None], remask, mask)
