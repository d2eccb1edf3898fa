"""A group's photos and their file facts → the photo to keep, why, and how the others differ.

The rule, in order: the largest resolution, the least compressed (most bytes per pixel), the one
with the camera's original EXIF, the oldest file. Each criterion only decides when the ones
before it are (nearly) tied, and the reason names the criterion that decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lookalike.search.grouping import Pair, pair
from lookalike.search.pair_check import PairEvidence

SAME_PIXELS = 0.95
"""Resolutions within this ratio count as the same size."""
SAME_QUALITY = 0.85
"""Bytes per pixel within this ratio count as the same compression."""


@dataclass(frozen=True)
class PhotoFacts:
    """What the keep rule reads about one photo file.

    Attributes:
        id: catalog photo id.
        path: absolute file path.
        size_bytes: file size.
        width, height: upright size in pixels (0 if unknown).
        format: e.g. "JPEG", "PNG", "HEIF".
        camera_exif: True when the file carries a camera make/model or original date.
        mtime_ns: modification time, ns since the epoch.
        taken: EXIF DateTimeOriginal as written ("2023:05:01 12:00:03"), or None.
    """

    id: int
    path: Path
    size_bytes: int
    width: int
    height: int
    format: str
    camera_exif: bool
    mtime_ns: int
    taken: str | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bytes_per_pixel(self) -> float:
        return self.size_bytes / self.pixels if self.pixels else 0.0


def _beats(a: PhotoFacts, b: PhotoFacts) -> str | None:
    """The reason ``a`` is kept over ``b``, or None if it is not."""
    if a.pixels > b.pixels / SAME_PIXELS:
        return f"largest ({a.width}×{a.height})"
    if b.pixels > a.pixels / SAME_PIXELS:
        return None
    if a.bytes_per_pixel * SAME_QUALITY > b.bytes_per_pixel:
        return "least compressed"
    if b.bytes_per_pixel * SAME_QUALITY > a.bytes_per_pixel:
        return None
    if a.camera_exif != b.camera_exif:
        return "has the camera's original EXIF" if a.camera_exif else None
    if a.mtime_ns != b.mtime_ns:
        return "oldest file" if a.mtime_ns < b.mtime_ns else None
    return "first by path" if str(a.path) < str(b.path) else None


def choose_keep(photos: Sequence[PhotoFacts]) -> tuple[PhotoFacts, str]:
    """The photo to keep and the reason in words (e.g. "largest (4032×3024)")."""
    best = photos[0]
    for other in photos[1:]:
        if _beats(other, best) is not None:
            best = other
    reasons = sorted({r for o in photos if o is not best and (r := _beats(best, o))},
                     key=_rank)  # fmt: skip
    return best, (reasons[0] if reasons else "the only photo")


_REASONS_ORDER = ("largest", "least compressed", "has the camera's original EXIF",
                  "oldest file", "first by path")  # fmt: skip


def _rank(reason: str) -> int:
    """Position of a reason in the rule (the resolution reason carries its size)."""
    return next(i for i, r in enumerate(_REASONS_ORDER) if reason.startswith(r))


def differences(keep: PhotoFacts, other: PhotoFacts, evidence: PairEvidence | None,
                keep_is_a: bool) -> list[str]:  # fmt: skip
    """How ``other`` differs from the photo kept, in words ("smaller", "cropped", ...).

    Args:
        keep: the photo kept.
        other: another photo of its group.
        evidence: the pair check of the two (None when they are linked only through others).
        keep_is_a: whether ``keep`` is photo a of ``evidence``.
    """
    words = []
    if other.pixels < keep.pixels * SAME_PIXELS:
        words.append("smaller")
    if evidence is not None and evidence.kind == "copy":
        cov_keep = evidence.coverage_a if keep_is_a else evidence.coverage_b
        cov_other = evidence.coverage_b if keep_is_a else evidence.coverage_a
        if cov_keep < 0.8 and cov_other >= cov_keep + 0.1:
            words.append("cropped")
        if evidence.turns:
            words.append("rotated")
    if other.bytes_per_pixel < keep.bytes_per_pixel * SAME_QUALITY or other.format != keep.format:
        words.append("recompressed" if other.format == keep.format else f"as {other.format}")
    if keep.camera_exif and not other.camera_exif:
        words.append("no camera EXIF")
    if evidence is not None and evidence.kind == "burst":
        words.insert(0, "another take")
    return words or ["same size and quality"]


def explain_group(photos: Sequence[PhotoFacts], edges: Mapping[Pair, PairEvidence],
                  candidates: Sequence[PhotoFacts] = ()
                  ) -> tuple[PhotoFacts, str, dict[int, list[str]]]:  # fmt: skip
    """The photo to keep (among ``candidates`` if given), why, and each other photo's
    differences (by id)."""
    keep, reason = choose_keep(candidates or photos)
    diffs = {}
    for other in photos:
        if other is keep:
            continue
        evidence = edges.get(pair(keep.id, other.id))
        diffs[other.id] = differences(keep, other, evidence, keep.id < other.id)
    return keep, reason, diffs
