"""Rotation-robust search: the matches of the query's quarter turns (``decode.query.turns``)
merged, each photo keeping its best score.

A photo stored sideways (no or wrong EXIF orientation) has a global descriptor unlike its
upright copy; the CNN is not rotation-invariant. Searching with the query turned by 0, 90, 180
and 270 degrees and keeping, per photo, the best score of any turn finds it again, at the cost
of one embedding and one index query per turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from lookalike.search.similar import Match


def merge_max(results: Iterable[Sequence[Match]], top: int) -> list[Match]:
    """Merge the match lists of several query variants: each photo keeps its best score and
    its strongest verdict (a copy confirmed by one variant stays ``same_photo``).

    Args:
        results: one best-first match list per variant.
        top: most matches returned.

    Returns:
        At most ``top`` matches, same-photo results first, then by descending best score
        (ties: the earlier variant and rank), re-numbered from rank 1.
    """
    best: dict[int, Match] = {}
    for matches in results:
        for m in matches:
            old = best.get(m.photo_id)
            if old is not None:
                winner = m if m.score > old.score else old
                copy = "same_photo" in (m.verdict, old.verdict)
                m = replace(winner, verdict="same_photo") if copy else winner
            best[m.photo_id] = m
    ranked = sorted(best.values(), key=lambda m: (m.verdict != "same_photo", -m.score))
    return [replace(m, rank=r) for r, m in enumerate(ranked[:top], start=1)]
