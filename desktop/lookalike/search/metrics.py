"""Retrieval quality on a labelled bench: mAP, recall@k (the protocol of ``bench/README.md``).

Every image of a group is a query; its positives are the other images of its group; the query
itself is not counted; everything else (other groups, distractors) is a negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Scores:
    """Bench results, in percent (0..100)."""

    mean_ap: float
    recall_at_1: float
    recall_at_5: float
    queries: int


def average_precision(ranked_positive: npt.NDArray[np.bool_], n_positives: int) -> float:
    """AP of one ranked list: mean over positives of the precision at each positive's rank.

    Args:
        ranked_positive: (N,) bool, True where the item at that rank is a positive.
        n_positives: number of positives in the whole database (missing ones count as 0).
    """
    if n_positives == 0:
        return 0.0
    hits = np.flatnonzero(ranked_positive)
    precisions = np.arange(1, len(hits) + 1) / (hits + 1)
    return float(precisions.sum() / n_positives)


def evaluate(similarity: npt.NDArray[np.float32], labels: Sequence[int]) -> Scores:
    """Score a full similarity matrix.

    Args:
        similarity: (N, N) float, higher = more similar; row i ranks the database for query i.
        labels: (N,) group id per image; -1 marks a distractor (never a query, never a positive).
    """
    lab = np.asarray(labels)
    aps, r1, r5 = [], [], []
    for i in np.flatnonzero(lab >= 0):
        order = np.argsort(-similarity[i], kind="stable")
        order = order[order != i]
        positive = lab[order] == lab[i]
        n_pos = int(positive.sum())
        if n_pos == 0:
            continue
        aps.append(average_precision(positive, n_pos))
        r1.append(bool(positive[:1].any()))
        r5.append(bool(positive[:5].any()))
    return Scores(
        mean_ap=100.0 * float(np.mean(aps)),
        recall_at_1=100.0 * float(np.mean(r1)),
        recall_at_5=100.0 * float(np.mean(r5)),
        queries=len(aps),
    )
