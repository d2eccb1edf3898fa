"""What the Duplicates page shows and what the user chose: groups, filter, keep/remove marks.

Holds the ``DuplicateGroup`` list that ``DuplicateFinder.groups()`` returned, filtered by kind,
most space to free first, and the set of photos marked for removal. Nothing is marked until
the user marks it or asks for the suggestion; photos in reference folders can never be marked.

Signals:
    changed(): the groups or the filter changed (rebuild the cards).
    marksChanged(): the marks changed (update the checkboxes and the trash button).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from lookalike.library import DuplicateGroup, DuplicatePhoto


class DuplicatesModel(QObject):
    """Groups, the kind filter and the photos marked for removal."""

    changed = Signal()
    marksChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all: list[DuplicateGroup] = []
        self.kind: str | None = None
        self._remove: set[Path] = set()

    def set_groups(self, groups: Sequence[DuplicateGroup]) -> None:
        """New groups (``DuplicateGroup``); marks of photos no longer shown are dropped."""
        self._all = sorted(groups, key=lambda g: -g.freeable_bytes)
        shown = {p.path for g in self._all for p in g.photos}
        self._remove &= shown
        self.changed.emit()
        self.marksChanged.emit()

    def set_kind(self, kind: str | None) -> None:
        """Show only "copy" or "burst" groups (None: both)."""
        self.kind = kind
        self.changed.emit()
        self.marksChanged.emit()

    @property
    def groups(self) -> list[DuplicateGroup]:
        """The groups shown, most space to free first."""
        return [g for g in self._all if self.kind is None or g.kind == self.kind]

    def is_marked(self, path: Path) -> bool:
        return path in self._remove

    def set_marked(self, photo: DuplicatePhoto, remove: bool) -> None:
        """Mark a photo for removal, or keep it; reference photos are always kept."""
        if photo.reference:
            return
        (self._remove.add if remove else self._remove.discard)(photo.path)
        self.marksChanged.emit()

    def keep_suggested(self, groups: Iterable[DuplicateGroup] | None = None) -> None:
        """Mark every photo but the suggested one in ``groups`` (default: all groups shown)."""
        for group in self.groups if groups is None else groups:
            for photo in group.photos:
                if photo.reference or photo.keep:
                    self._remove.discard(photo.path)
                else:
                    self._remove.add(photo.path)
        self.marksChanged.emit()

    def marked(self) -> list[Path]:
        """The photos marked for removal among the groups shown, in order."""
        return [p.path for g in self.groups for p in g.photos if p.path in self._remove]

    def marked_bytes(self) -> int:
        return sum(p.size_bytes for g in self.groups for p in g.photos if p.path in self._remove)

    def whole_group_marked(self) -> DuplicateGroup | None:
        """A shown group all of whose photos are marked (removing all would lose the photo)."""
        return next((g for g in self.groups if all(p.path in self._remove for p in g.photos)),
                    None)  # fmt: skip
