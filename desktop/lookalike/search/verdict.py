"""Re-ranking's fits → a verdict per verified result: ``same_photo``, ``same_place``, ``similar``.

The verdict reuses what spatial re-ranking already computed for each shortlisted candidate (its
mutual matches and RANSAC's affine map, :class:`lookalike.search.rerank.Fit`): no second
matching pass. Rules (:func:`decide`):

- ``same_photo``: the fit passes the copy gate of duplicate grouping
  (:func:`lookalike.search.pair_check.copy_gate`: inliers above chance, a high inlier ratio,
  most of one frame covered) AND the pixels confirm it: the map, refined on both photos' pixels,
  carries every textured block exactly (:mod:`lookalike.search.copy_check`,
  :mod:`lookalike.search.copy_pixels`), which another shot's perspective never allows. A
  copy that the cells cannot fit (mirrored, sideways, 320 px, or turned and cropped) is
  aligned on the pixels alone over the query's eight dihedral variants (``copy_check``,
  ``copy_align``). Same-photo results rank first, then by score. Without the query's
  pixels (``pixels=None``), :func:`decide`: the cells' copy test with the exact map on one grid
  (:data:`SAME_PHOTO_RESIDUAL`), which misses resampled copies (crops, 320 px).
- ``same_place``: more inliers than unrelated photos reach by chance (:data:`SAME_PLACE_INLIERS`).
- ``similar``: neither could be verified (also every result below the verified depth).

Calibration (``benchmarks/verdict_calibrate.py`` on the copies bench of
``benchmarks/make_copies_bench.py``, photos from no bench; bench/dev only reports): the inliers
of pairs of photos from different copy groups and scenes ("unrelated") give the chance level.
Quarter-turned copies mostly verify as they are (the stride-16 cells of a turned photo still
match); ``SearchOptions.rotate`` adds the turned query variants for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import get_args

import numpy as np

from lookalike.search.copy_check import MAX_ALIGNED, SUSPECT_COSINE, CopyPixels
from lookalike.search.pair_check import COPY_RESIDUAL, PairEvidence, copy_gate, judge_fit
from lookalike.search.rerank import (
    DEFAULT_PARAMS,
    Fit,
    Floats,
    RerankParams,
    boost,
    rerank_fits,
)
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

IDENTITY = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
"""The map of a copy with the query's framing (long-side units)."""

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
    q_xy = np.asarray(query[:, :2], np.float32)  # positions only: not the codes' 64 columns
    c_xy = np.asarray(candidate[:, :2], np.float32)
    return judge_fit(q_xy, c_xy, fit.query_xy, fit.candidate_xy, fit.affine, fit.mask, cosine)


def fits_by_id(
    query: Locals, ids: Sequence[int], candidates: Mapping[int, Locals],
    params: RerankParams = DEFAULT_PARAMS, threads: int = 0,
) -> dict[int, Fit | None]:
    """The :class:`Fit` of each of ``ids`` (None: no local features, or nothing verified),
    the same as :func:`rerank_fits` gives it wherever the photo stands in the list: a fit
    depends on the two photos' local features only (``threads``: as ``rerank_fits``)."""
    _, fits = rerank_fits(np.zeros(len(ids), np.float32), query,
                          [candidates.get(i) for i in ids], params, threads)  # fmt: skip
    return dict(zip((int(i) for i in ids), fits, strict=True))


def boosted(scores: Sequence[float] | Floats, fits: Sequence[Fit | None],
            params: RerankParams = DEFAULT_PARAMS) -> Floats:  # fmt: skip
    """(n,) float32 ``scores`` plus the boost of each one's fit: :func:`rerank_fits`'s scores
    for fits computed beforehand."""
    out = np.asarray(scores, np.float32).copy()
    for i, fit in enumerate(fits):
        if fit is not None:
            out[i] += boost(fit.inliers, params)
    return out


def verified_matches(
    matches: Sequence[Match],
    query: Locals,
    candidates: Mapping[int, Locals],
    cosines: Mapping[int, float],
    top: int,
    params: RerankParams = DEFAULT_PARAMS,
    pixels: CopyPixels | None = None,
    fits: Mapping[int, Fit | None] | None = None,
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
        pixels: the pixel copy test (:mod:`lookalike.search.copy_check`); None: the cells'
            copy test only (:func:`decide`).
        fits: photo id → its fit (``rerank.fits_by_id``), computed beforehand for every one
            of the first ``params.depth`` matches; None: computed here.

    Returns:
        At most ``top`` matches, re-numbered from rank 1.
    """
    head, tail = list(matches[: params.depth]), list(matches[params.depth:])
    locals_ = [candidates.get(m.photo_id) for m in head]
    if fits is not None and all(m.photo_id in fits for m in head):
        found = [fits[m.photo_id] for m in head]
        new = boosted([m.score for m in head], found, params)
    else:
        new, found = rerank_fits([m.score for m in head], query, locals_, params)
    judged, gated = [], []
    for m, score, fit, loc in zip(head, new.tolist(), found, locals_, strict=True):
        cosine = cosines.get(m.photo_id, m.score)
        evidence = evidence_of(query, loc, fit, cosine) if loc is not None else None
        gated.append(evidence is not None and copy_gate(evidence))
        if evidence is None:
            verdict: Verdict = "similar"
        elif pixels is None:
            verdict = decide(evidence)
        else:
            verdict = decide_pixels(evidence, fit, m.photo_id, pixels)
        inliers = 0 if fit is None else fit.inliers
        judged.append(replace(m, score=float(score), inliers=inliers, verdict=verdict))
    if pixels is not None:
        suspects = [i for i, m in enumerate(judged)
                    if m.verdict != "same_photo" and locals_[i] is not None
                    and cosines.get(m.photo_id, m.score) >= SUSPECT_COSINE]  # fmt: skip
        suspects.sort(key=lambda i: -cosines.get(judged[i].photo_id, judged[i].score))
        judged = _variant_copies(judged, suspects[:MAX_ALIGNED], head, locals_, cosines, pixels,
                                 params)  # fmt: skip
    order = sorted(range(len(judged)), key=lambda i: (judged[i].verdict != "same_photo",
                                                      -judged[i].score))  # fmt: skip
    ranked = [judged[i] for i in order] + tail
    return [replace(m, rank=r) for r, m in enumerate(ranked[:top], start=1)]


def decide_pixels(evidence: PairEvidence, fit: Fit | None, photo_id: int, pixels: CopyPixels,
                  variant: int = 0) -> Verdict:  # fmt: skip
    """The verdict with the pixel copy test: ``same_photo`` when the cells' copy gate holds
    and the pixels confirm the map of the query's ``variant`` (``copy_check.dihedral``) onto
    the candidate, else as :func:`decide` without its cell-level copy test."""
    if fit is not None and copy_gate(evidence) and pixels.is_copy(photo_id, fit.affine, variant):
        return "same_photo"
    return "same_place" if evidence.inliers > SAME_PLACE_INLIERS else "similar"


def _variant_copies(judged: list[Match], suspects: Sequence[int], head: Sequence[Match],
                    locals_: Sequence[Locals | None], cosines: Mapping[int, float],
                    pixels: CopyPixels, params: RerankParams) -> list[Match]:  # fmt: skip
    """The ``suspects`` (indices into ``judged``: close in cosine, but the upright query's
    cells did not confirm a copy) aligned on the pixels over the query's dihedral variants
    (``CopyPixels.aligned_copy``), then tried against the fits of the embedded variants
    (``CopyPixels.embedded``, embedded on demand) until none is left. A confirmed copy becomes
    ``same_photo`` (with a fitted variant: its inliers and boost)."""
    out, left = list(judged), list(suspects)
    aligned = pixels.aligned_copies([head[i].photo_id for i in left])
    for i, found in zip(list(left), aligned, strict=True):  # any variant, scale and shift
        if found is not None:
            out[i] = replace(judged[i], verdict="same_photo")
            left.remove(i)
    for variant in pixels.embedded:
        if not left:
            break
        query = pixels.query.variant_locals(variant)
        if query is None:
            break
        new, fits = rerank_fits([head[i].score for i in left], query,
                                [locals_[i] for i in left], params)  # fmt: skip
        for i, score, fit in zip(list(left), new.tolist(), fits, strict=True):
            loc = locals_[i]
            if fit is None or loc is None:
                continue
            evidence = evidence_of(query, loc, fit, cosines.get(head[i].photo_id, head[i].score))
            if decide_pixels(evidence, fit, head[i].photo_id, pixels, variant) == "same_photo":
                out[i] = replace(judged[i], score=max(float(score), judged[i].score),
                                 inliers=fit.inliers, verdict="same_photo")  # fmt: skip
                left.remove(i)
    return out
