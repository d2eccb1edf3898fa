"""Retrieval quality on a labelled bench: mAP, recall@k (the protocol of ``bench/README.md``).

Every image of a group is a query; its positives are the other images of its group; the query
itself is not counted; everything else (other groups, distractors) is a negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.search.similar import Match


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


@dataclass(frozen=True)
class VerdictScores:
    """Precision and recall of the verdicts over every query's verified shortlist (0..1).

    Same place: a positive is a result with verdict same_place or same_photo, true when it
    shows the query's place. Same photo: a positive is a same_photo result, true when it is in
    the query's copy group. Recall counts the true results within the shortlists.
    """

    same_place_precision: float
    same_place_recall: float
    same_photo_precision: float
    same_photo_recall: float


def verdict_scores(
    rankings: Sequence[Sequence[Match]],
    place: Sequence[int],
    photo: Sequence[int],
    depth: int,
) -> VerdictScores:
    """Score the verdicts of each query's top ``depth`` results.

    Args:
        rankings: per image its matches (``Match.photo_id`` = image index); empty: no query.
        place: (N,) place label per image (-1: none, e.g. a distractor).
        photo: (N,) copy-group label per image (-1: none, e.g. another shot of a scene).
        depth: the verified shortlist's length (``RerankParams.depth``).
    """
    counts = np.zeros((2, 3), np.int64)  # rows place/photo; columns positives, true, relevant
    for i, matches in enumerate(rankings):
        for m in matches[:depth]:
            j = m.photo_id
            for row, labels, positive in ((0, place, m.verdict != "similar"),
                                          (1, photo, m.verdict == "same_photo")):  # fmt: skip
                relevant = labels[i] >= 0 and labels[j] == labels[i]
                counts[row] += (positive, positive and relevant, relevant)

    def ratio(a: int, b: int) -> float:
        return round(float(a / b), 4) if b else 0.0

    (pp, pt, pr), (hp, ht, hr) = counts.tolist()
    return VerdictScores(ratio(pt, pp), ratio(pt, pr), ratio(ht, hp), ratio(ht, hr))
