"""Rotation-robust search: the query at quarter turns (optionally mirrored) → merged matches.

A photo stored sideways (no or wrong EXIF orientation) has a global descriptor unlike its
upright copy; the CNN is not rotation-invariant. Searching with the query turned by 0, 90, 180
and 270 degrees and keeping, per photo, the best score of any turn finds it again, at the cost
of one embedding and one index query per turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from lookalike.search.similar import Match

Rgb = npt.NDArray[np.uint8]


def turns(rgb: Rgb, mirror: bool = False) -> list[Rgb]:
    """The query's variants: the upright image first, then 90, 180 and 270 degrees
    counter-clockwise, then (with ``mirror``) the same four of its left-right mirror image.

    Args:
        rgb: (H, W, 3) uint8.
        mirror: also add the mirrored turns.

    Returns:
        C-contiguous (h, w, 3) uint8 arrays; the first is ``rgb`` itself.
    """
    bases = [rgb, rgb[:, ::-1]] if mirror else [rgb]
    out = [rgb]
    for b, base in enumerate(bases):
        for k in range(4):
            if b == 0 and k == 0:
                continue
            out.append(np.ascontiguousarray(np.rot90(base, k)))
    return out


def merge_max(results: Iterable[Sequence[Match]], top: int) -> list[Match]:
    """Merge the match lists of several query variants: each photo keeps its best score.

    Args:
        results: one best-first match list per variant.
        top: most matches returned.

    Returns:
        At most ``top`` matches by descending best score (ties: the earlier variant and rank),
        re-numbered from rank 1.
    """
    best: dict[int, Match] = {}
    for matches in results:
        for m in matches:
            if m.photo_id not in best or m.score > best[m.photo_id].score:
                best[m.photo_id] = m
    ranked = sorted(best.values(), key=lambda m: -m.score)
    return [Match(m.photo_id, m.path, m.score, r) for r, m in enumerate(ranked[:top], start=1)]
