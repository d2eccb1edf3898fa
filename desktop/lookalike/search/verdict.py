"""Re-ranking's fits → a verdict per verified result: ``same_photo``, ``same_place``, ``similar``.

The verdict reuses what spatial re-ranking already computed for each shortlisted candidate (its
mutual matches and RANSAC's affine map, :class:`lookalike.search.rerank.Fit`): no second
matching pass. Rules (:func:`decide`):

- ``same_photo``: duplicate grouping's copy test (:func:`lookalike.search.pair_check.judge_fit`,
  the one implementation both use) says the map carries most of one photo exactly onto the
  other, AND the tripod guard holds: the map is exact on one grid (:data:`SAME_PHOTO_RESIDUAL`).
- ``same_place``: more inliers than unrelated photos reach by chance (:data:`SAME_PLACE_INLIERS`).
- ``similar``: neither could be verified (also every result below the verified depth).

Calibration (``benchmarks/verdict_calibrate.py`` on the copies bench of
``benchmarks/make_copies_bench.py``, photos from no bench; bench/dev only reports): the inliers
of pairs of photos from different copy groups and scenes ("unrelated") give the chance level.
A sideways or mirrored copy is verified only when the query's turns are searched too
(``SearchOptions.rotate``): stride-16 codes are not rotation-invariant, and affine RANSAC
rejects mirror maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import get_args

import numpy as np

from lookalike.search.pair_check import COPY_RESIDUAL, PairEvidence, judge_fit
from lookalike.search.rerank import DEFAULT_PARAMS, Fit, RerankParams, rerank_fits
from lookalike.search.similar import Match, Verdict
from lookalike.types import Locals

SAME_PLACE_INLIERS = 18
"""Inliers above which a result is the same place: above the chance level of verification
between unrelated photos. Measured (benchmarks/verdict_calibrate.py) on the copies bench of
make_copies_bench.py (photos from no bench; 130 images; 15,408 ordered pairs of different copy
groups / scenes, each verified with the search's own re-ranking fit, 256 stride-16 cells):
inliers median 6, p90 9, p99 14, max 25; 12 pairs (0.08 %) have more than 18, i.e. 18 is the
p99.9 of chance: p99 plus a margin of 4. With 50 verified candidates a query then gets a false
same_place about once in 25 searches. True pairs above it there: other shots 92 %, tripod shots
93 %, copies 81 % (the quarter turns and the mirror keep few inliers)."""

SAME_PHOTO_RESIDUAL = COPY_RESIDUAL
"""Tripod guard: pair_check's copy test allows half a cell of residual when the two photos'
cells fall on different grids (a resized or cropped copy), which also lets through other shots
of the scene (copies bench: 425 of 672 copy pairs, but also 262 of 405 step shots and 140 of 217
tripod shots). The same-photo verdict asks for the exact map on one grid (residual <=
``COPY_RESIDUAL``, 0.004 of the long side): 196 copy pairs, 20 step shots, 15 tripod shots
(precision 0.85 over those three kinds). A global-cosine guard was measured and rejected: at
0.85 it drops half the true copies (196 -> 104) and few shots (35 -> 29)."""

ORDER: tuple[Verdict, ...] = get_args(Verdict)
"""Verdicts, strongest first."""


def at_least(verdict: Verdict, floor: Verdict) -> bool:
    """Whether ``verdict`` is as strong as ``floor`` (same_photo > same_place > similar)."""
    return ORDER.index(verdict) <= ORDER.index(floor)


def decide(evidence: PairEvidence) -> Verdict:
    """The verdict of one verified pair from its evidence (see the module docstring)."""
    if evidence.inliers <= SAME_PLACE_INLIERS:
        return "similar"
    if evidence.kind == "copy" and evidence.residual <= SAME_PHOTO_RESIDUAL:
        return "same_photo"
    return "same_place"


def evidence_of(query: Locals, candidate: Locals, fit: Fit | None, cosine: float
                ) -> PairEvidence:  # fmt: skip
    """The pair evidence of one re-ranking fit (no fit: nothing verified)."""
    if fit is None:
        return PairEvidence(None, cosine)
    q_xy = np.asarray(query, np.float32)[:, :2]
    c_xy = np.asarray(candidate, np.float32)[:, :2]
    return judge_fit(q_xy, c_xy, fit.query_xy, fit.candidate_xy, fit.affine, fit.mask, cosine)


def verified_matches(
    matches: Sequence[Match],
    query: Locals,
    candidates: Mapping[int, Locals],
    cosines: Mapping[int, float],
    top: int,
    params: RerankParams = DEFAULT_PARAMS,
) -> list[Match]:
    """Re-rank the first ``params.depth`` matches by spatial verification and give each its
    verdict and inliers (the rest stay ``similar``, 0 inliers).

    Args:
        matches: global matches, best first.
        query: the query's local features.
        candidates: photo id → its local features (photos missing keep their score).
        cosines: photo id → global cosine with the query (the tripod guard); missing: score.
        top: how many matches to return.
        params: the re-ranking knobs.

    Returns:
        At most ``top`` matches, re-numbered from rank 1.
    """
    head, tail = list(matches[: params.depth]), list(matches[params.depth:])
    locals_ = [candidates.get(m.photo_id) for m in head]
    new, fits = rerank_fits([m.score for m in head], query, locals_, params)
    judged = []
    for m, score, fit, loc in zip(head, new.tolist(), fits, locals_, strict=True):
        cosine = cosines.get(m.photo_id, m.score)
        evidence = evidence_of(query, loc, fit, cosine) if loc is not None else None
        verdict = "similar" if evidence is None else decide(evidence)
        inliers = 0 if fit is None else fit.inliers
        judged.append(replace(m, score=float(score), inliers=inliers, verdict=verdict))
    order = np.argsort(-new, kind="stable")
    ranked = [judged[i] for i in order.tolist()] + tail
    return [replace(m, rank=r) for r, m in enumerate(ranked[:top], start=1)]
