"""Re-ranking's fits → a verdict per verified result: ``same_photo``, ``same_place``, ``similar``.

The verdict reuses what spatial re-ranking already computed for each shortlisted candidate (its
mutual matches and RANSAC's affine map, :class:`lookalike.search.rerank.Fit`): no second
matching pass. Rules (:func:`decide`):

- ``same_photo``: duplicate grouping's copy test (:func:`lookalike.search.pair_check.judge_fit`,
  the one implementation both use) says the map carries most of one photo exactly onto the
  other, AND the tripod guard holds (see :data:`SAME_PHOTO_COSINE`).
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

from lookalike.search.pair_check import PairEvidence, judge_fit
from lookalike.search.rerank import DEFAULT_PARAMS, Fit, RerankParams, rerank_fits
from lookalike.search.similar import Match, Verdict
from lookalike.types import Locals

SAME_PLACE_INLIERS = 16
"""Inliers above which a result is the same place: the chance level of verification between
unrelated photos plus a margin. Measured on the copies bench (no bench photos; 130 images,
every pair of different copy groups and scenes, 256 stride-16 cells, the search's RANSAC):
see docs/QUALITY.md "Verdicts" for the distribution (p99 and max) this is derived from."""

SAME_PHOTO_COSINE = 0.90
"""Tripod guard: a near-exact map (pair_check's copy) is the same photo only with a global
cosine at least this high. Copies keep nearly all pixels and therefore their global descriptor
(copies bench: see docs/QUALITY.md "Verdicts"); crops and re-encodes lower it less than a
second shot's changed light and blur do."""

ORDER: tuple[Verdict, ...] = get_args(Verdict)
"""Verdicts, strongest first."""


def at_least(verdict: Verdict, floor: Verdict) -> bool:
    """Whether ``verdict`` is as strong as ``floor`` (same_photo > same_place > similar)."""
    return ORDER.index(verdict) <= ORDER.index(floor)


def decide(evidence: PairEvidence) -> Verdict:
    """The verdict of one verified pair from its evidence (see the module docstring)."""
    if evidence.kind == "copy" and evidence.cosine >= SAME_PHOTO_COSINE:
        return "same_photo"
    if evidence.inliers > SAME_PLACE_INLIERS:
        return "same_place"
    return "similar"


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
