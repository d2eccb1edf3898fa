"""Many candidate pairs → the pair check's evidence for each, in a few large NumPy operations.

The same check as :func:`lookalike.search.pair_check.check_locals`, batched over pairs:

1. :class:`LocalsTable`: the local features of many photos, decoded from their stored blobs in
   one pass per blob size and padded to one (n, K, 2 + d) shape (padded cells have zero codes:
   they never make a match).
2. :func:`check_batch`: for a block of pairs, one stacked product gives every pair's code
   cosines and mutual nearest neighbours come from two argmaxes over the whole block; then
   each pair with more matches than chance gives gets the search's own RANSAC
   (:func:`lookalike.search.ransac.ransac_affines`: the hypotheses of all of them in one pass,
   the same maps as ``ransac_affine``) and :func:`~lookalike.search.pair_check.judge_fit` (the
   copy/burst test, kept in one place).

The decisions are the pair check's. The arithmetic differs only in rounding, where the code
cosines are summed in another order: a match whose cosine lies within rounding of another's
can be chosen the other way; tested to give the same evidence on copies, turned copies,
crops, other shots and unrelated photos (and, in ``benchmarks/duplicates_speed.py``, every
planted copy); 300 of 300 synthetic pairs of the 100k library got check_locals' kind and
inliers.

Cost (one core, synthetic 256-cell photos): about 0.55-0.6 ms of CPU per pair, against 8-14 ms
for ``check_locals`` pair by pair on the same loaded machine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.search.pair_check import CHECK_ITERATIONS, PairEvidence, judge_fit
from lookalike.search.ransac import ransac_affines
from lookalike.search.rerank import CHANCE_INLIERS, DEFAULT_PARAMS
from lookalike.types import CODE_STEP, locals_from_bytes, locals_to_bytes

log = logging.getLogger(__name__)

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
    """``check_batch_fits`` for at most :data:`BATCH` pairs of photos that are in the table:
    the mutual matches of all at once, then RANSAC (:func:`lookalike.search.ransac.
    ransac_affines`, the search's own) and the copy/burst test of each."""
    mutual, fwd = _mutual(table, ra, rb)
    matches = mutual.sum(axis=1)
    out: list[Fitted] = [(PairEvidence(None, float(c)), None) for c in cosine]
    fit = np.flatnonzero(matches > CHANCE_INLIERS)  # inliers <= matches: else nothing to find
    pairs = []
    for i in fit.tolist():
        cells = np.flatnonzero(mutual[i])  # by a's cell
        pairs.append((table.xy[ra[i], cells], table.xy[rb[i], fwd[i, cells]]))
    p = DEFAULT_PARAMS
    found = ransac_affines(pairs, p.tolerance, CHECK_ITERATIONS, p.max_scale)
    for i, (src, dst), (affine, mask) in zip(fit.tolist(), pairs, found, strict=True):
        ka, kb = int(table.count[ra[i]]), int(table.count[rb[i]])
        evidence = judge_fit(table.xy[ra[i], :ka], table.xy[rb[i], :kb], src, dst, affine,
                             mask, float(cosine[i]))  # fmt: skip
        out[i] = (evidence, affine if evidence.inliers > CHANCE_INLIERS else None)
    return out
