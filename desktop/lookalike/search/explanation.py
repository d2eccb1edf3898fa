"""Why a photo matches a query: numbered regions, the best box and the verified point pairs.

``Library.explain`` returns an :class:`Explanation`; the match view and ``lookalike explain``
only show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.search import regions
from lookalike.search.regions import Box, Point
from lookalike.search.rerank import DEFAULT_PARAMS, RerankParams, inlier_pairs, rerank_fits
from lookalike.search.similar import Verdict
from lookalike.search.verdict import decide, evidence_of
from lookalike.types import Embedding

MIN_BOX = 0.08
"""Smallest region box side, as a fraction of the image, so boxes stay visible."""

Points = npt.NDArray[np.float32]
"""(n, 2) float32 x, y in units of the photo's long side (as in ``Locals``)."""


@dataclass(frozen=True)
class NumberedRegion:
    """One numbered reason for the match: a feature that fires in both photos.

    Attributes:
        number: 1 for the strongest, then 2, 3, ...
        weight: its share of the explained similarity (the weights sum to 1).
        query_box: ``(x0, y0, x1, y1)`` fractions 0..1 of the query.
        result_box: the same in the result.
    """

    number: int
    weight: float
    query_box: Box
    result_box: Box


@dataclass(frozen=True)
class Explanation:
    """Everything the match view shows about one result.

    Attributes:
        photo_id: the result's catalog id.
        path: the result's file.
        regions: the numbered regions, strongest first.
        best_box: the result's region that best matches the query, fractions, or None.
        query_points: verified matching points in the query, (n, 2) float32, long-side units,
            best first; None when either photo has no local features.
        result_points: their matches in the result, aligned with ``query_points``.
        inliers: n, the number of verified point pairs (0 without local features).
        is_match: whether the verdict supports drawing a match (not "similar").
        verdict: "same_photo", "same_place" or "similar" (``search.verdict.decide``, the rules
            the search's verified shortlist uses).
    """

    photo_id: int
    path: Path
    regions: tuple[NumberedRegion, ...]
    best_box: Box | None
    query_points: Points | None
    result_points: Points | None
    inliers: int
    is_match: bool
    verdict: Verdict = "similar"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (points as lists of [x, y])."""
        def pts(xy: Points | None) -> list[list[float]] | None:
            return None if xy is None else np.round(xy.astype(float), 4).tolist()

        return {
            "photo_id": self.photo_id,
            "path": str(self.path),
            "regions": [_region_json(r) for r in self.regions],
            "best_box": None if self.best_box is None else _rounded(self.best_box),
            "query_points": pts(self.query_points),
            "result_points": pts(self.result_points),
            "inliers": self.inliers,
            "is_match": self.is_match,
            "verdict": self.verdict,
        }


def explain(
    query: Embedding,
    result: Embedding,
    photo_id: int,
    path: Path,
    params: RerankParams = DEFAULT_PARAMS,
    top: int = 8,
    verdict: Verdict | None = None,
) -> Explanation:
    """Explain one match from the two embeddings (peaks and local features).

    Args:
        query: the query's embedding (``SearchResult.query``).
        result: the result's stored embedding.
        photo_id: the result's id.
        path: the result's file.
        params: the re-ranking knobs (the same spatial check as the search's).
        top: most numbered regions.
        verdict: the search's verdict of this result (its pixel copy test and mirrored query
            need the query's pixels, which an embedding does not hold); None: decided here
            from the cells (``search.verdict.decide``).
    """
    q_side, r_side = _box_side(regions.cell_size(query.peaks)), _box_side(
        regions.cell_size(result.peaks))
    numbered = tuple(
        NumberedRegion(n + 1, pair.weight, regions.box_for(pair.query_xy, q_side),
                       regions.box_for(pair.result_xy, r_side))
        for n, pair in enumerate(regions.explain(query, result, top=top))
    )  # fmt: skip
    q_xy = r_xy = None
    decided: Verdict = "similar"
    if query.locals is not None and result.locals is not None:
        q_xy, r_xy = inlier_pairs(query.locals, result.locals, params)
        cosine = float(np.dot(query.vector, result.vector))
        fit = rerank_fits([cosine], query.locals, [result.locals], params)[1][0]
        decided = decide(evidence_of(query.locals, result.locals, fit, cosine))
    verdict = decided if verdict is None else verdict
    inliers = 0 if q_xy is None else len(q_xy)
    return Explanation(photo_id, path, numbered, regions.best_region(query, result), q_xy, r_xy,
                       inliers, verdict != "similar", verdict)  # fmt: skip


def _box_side(cell: Point) -> Point:
    """Region box size for a feature cell: two cells, at least :data:`MIN_BOX`."""
    return (max(2 * cell[0], MIN_BOX), max(2 * cell[1], MIN_BOX))


def _region_json(region: NumberedRegion) -> dict[str, Any]:
    return {"number": region.number, "weight": round(region.weight, 4),
            "query_box": _rounded(region.query_box), "result_box": _rounded(region.result_box)}


def _rounded(box: Box) -> list[float]:
    return [round(float(v), 4) for v in box]
