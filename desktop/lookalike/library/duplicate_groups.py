"""Duplicate groups as shown and printed: the photos of a group, the one to keep first, with
the reasons in words (:mod:`lookalike.search.keep_choice`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lookalike.search.grouping import Edges
from lookalike.search.keep_choice import PhotoFacts, explain_group
from lookalike.search.pair_check import Kind


@dataclass(frozen=True)
class DuplicatePhoto:
    """One photo of a group, as shown and printed.

    Attributes:
        path: the file.
        size_bytes: its size.
        width, height: upright pixels.
        format: "JPEG", "PNG", ...
        taken: the EXIF original date ("2024:04:01 10:00:00") or None.
        mtime_ns: the file's modification time, ns since the epoch.
        keep: True for the photo suggested to keep.
        reason: for the kept photo, why; for the others, how they differ ("smaller, cropped").
        reference: in a reference folder: never offered for removal.
    """

    path: Path
    size_bytes: int
    width: int
    height: int
    format: str
    taken: str | None
    mtime_ns: int
    keep: bool
    reason: str
    reference: bool


@dataclass(frozen=True)
class DuplicateGroup:
    """A group of copies or burst takes; ``photos`` has the one to keep first."""

    kind: Kind
    photos: tuple[DuplicatePhoto, ...]

    @property
    def keep(self) -> DuplicatePhoto:
        return self.photos[0]

    @property
    def freeable_bytes(self) -> int:
        """Bytes freed by removing every photo but the one kept (reference photos stay)."""
        return sum(p.size_bytes for p in self.photos[1:] if not p.reference)


def _in(path: Path, folders: Sequence[Path]) -> bool:
    return any(path.is_relative_to(f) for f in folders)


def describe(kind: Kind, facts: list[PhotoFacts], edges: Edges, refs: Sequence[Path]
              ) -> DuplicateGroup:  # fmt: skip
    """A group as shown: the photo to keep first (a reference photo if there is one)."""
    in_ref = [f for f in facts if _in(f.path, refs)]
    keep, reason, diffs = explain_group(facts, edges, in_ref)
    if in_ref:
        reason = f"in a reference folder; {reason}"
        for f in in_ref:
            diffs.setdefault(f.id, []).insert(0, "in a reference folder")
    photos = [_photo(keep, True, reason, refs)]
    photos += [_photo(f, False, ", ".join(diffs[f.id]), refs)
               for f in sorted(facts, key=lambda f: str(f.path)) if f is not keep]  # fmt: skip
    return DuplicateGroup(kind, tuple(photos))


def _photo(f: PhotoFacts, keep: bool, reason: str, refs: Sequence[Path]) -> DuplicatePhoto:
    return DuplicatePhoto(f.path, f.size_bytes, f.width, f.height, f.format, f.taken,
                          f.mtime_ns, keep, reason, _in(f.path, refs))  # fmt: skip
