"""Index neighbours → ranked :class:`Match` rows (``search.pipeline.nearest`` uses them)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["same_photo", "same_place", "similar"]
"""How sure a result is, strongest first (``lookalike.search.verdict``)."""


@dataclass(frozen=True)
class Match:
    """One photo found for a query.

    Attributes:
        photo_id: catalog id (also the hnswlib label).
        path: absolute path of the photo.
        score: cosine similarity in [-1, 1]; higher is more similar.
        rank: 1 for the best match, then 2, 3, ...
        inliers: verified point pairs with the query (0: not verified).
        verdict: "same_photo", "same_place" or "similar" (not verified).
    """

    photo_id: int
    path: Path
    score: float
    rank: int
    inliers: int = 0
    verdict: Verdict = "similar"


def clamp_k(k: int, live_count: int, n_excluded: int) -> int:
    """How many neighbours to ask the index for.

    Asking for more than the index holds makes hnswlib raise, so ``k`` is clamped to the live
    count; the excluded ids may come back among the neighbours, so that many more are asked for.

    Args:
        k: wanted number of matches (values below 1 give 0).
        live_count: number of vectors in the index.
        n_excluded: number of ids that will be dropped from the answer.

    Returns:
        The number to pass to ``VectorIndex.knn`` (0 = do not query).
    """
    if k < 1 or live_count < 1:
        return 0
    return min(k + n_excluded, live_count)


def rank(
    ids: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    k: int,
    exclude: Collection[int] = (),
    lookup: Callable[[int], Path | None] = lambda _: None,
) -> list[Match]:
    """Turn one row of index neighbours into at most ``k`` ranked matches.

    Args:
        ids: (k',) int64 photo ids, best first.
        scores: (k',) float32 cosine similarities, aligned with ``ids``.
        k: maximum number of matches.
        exclude: ids to drop (the query photo itself).
        lookup: photo id → path; ids it maps to None (removed meanwhile, no longer indexed)
            are dropped.

    Returns:
        Matches with ranks 1..n, in the order of ``ids``.
    """
    matches: list[Match] = []
    for photo_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        if len(matches) >= k:
            break
        if photo_id in exclude:
            continue
        path = lookup(int(photo_id))
        if path is not None:
            matches.append(Match(int(photo_id), path, float(score), len(matches) + 1))
    return matches
