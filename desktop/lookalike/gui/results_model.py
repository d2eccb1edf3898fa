"""A list of photos (search results or an album) as a Qt item model, with lazy thumbnails."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Slot,
)
from PySide6.QtGui import QPixmap

from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.library import Match

log = logging.getLogger(__name__)

ModelIndex = QModelIndex | QPersistentModelIndex

SCORE_EXPLAINED = (
    "score = similarity + verification boost: the similarity of the two photos as a whole "
    "(up to 1.0), plus up to 0.5 when many points line up in both photos in the same layout; "
    "a score above 1.0 always includes that boost"
)
"""How a result's score is made, in words (tooltips and the results legend)."""


@dataclass(frozen=True)
class PhotoItem:
    """One photo in a grid.

    Attributes:
        photo_id: catalog id (0 when the photo is not indexed).
        path: the file.
        score: similarity to the query (cosine, plus the re-ranking boost), or None in albums.
        rank: 1-based rank among the results, or None in albums.
        state: catalog state ("indexed", "pending", "skipped", ...) or "" when unknown.
        verdict: the search's verdict ("same_photo", "same_place", "similar"), "" in albums.
        inliers: verified matching points with the query.
        copies: other copies of the same photo stacked into this tile (same-photo results).
    """

    photo_id: int
    path: Path
    score: float | None = None
    rank: int | None = None
    state: str = ""
    verdict: str = ""
    inliers: int = 0
    copies: int = 0

    def words(self) -> str:
        """The verdict in words, e.g. "same place · 131 matching points" ("" in albums)."""
        if not self.verdict:
            return ""
        if self.verdict == "similar":
            return "looks similar"
        points = f"{self.inliers} matching point{'' if self.inliers == 1 else 's'}"
        return f"{self.verdict.replace('_', ' ')} · {points}"


SECTIONS = (("same_photo", "Same photo"), ("same_place", "Same place"),
            ("similar", "Looks similar"))  # fmt: skip
"""The result sections, strongest verdict first: (verdict, title)."""


def sectioned(matches: Sequence[Match], stack_copies: bool = True) -> list[PhotoItem]:
    """Search matches as grid items, grouped by verdict (same photo, same place, looks similar;
    best first within each), the same-photo results stacked into one tile with ``copies``."""
    items = [PhotoItem(m.photo_id, Path(m.path), m.score, m.rank, "indexed", m.verdict, m.inliers)
             for m in matches]  # fmt: skip
    out: list[PhotoItem] = []
    for verdict, _title in SECTIONS:
        group = [it for it in items if it.verdict == verdict]
        if verdict == "same_photo" and stack_copies and len(group) > 1:
            group = [replace(group[0], copies=len(group) - 1)]
        out += group
    return out


NOTHING_HERE = "Nothing in your library shows this"
"""The section line when no result is verified: only look-alikes were found."""


def section_titles(counts: dict[str, int]) -> str:
    """The result sections in words: "Same photo (1) · Same place (4) · Looks similar (15)",
    or :data:`NOTHING_HERE` first when neither the same photo nor the same place was found."""
    shown = [f"{title} ({counts.get(verdict, 0)})" for verdict, title in SECTIONS
             if counts.get(verdict, 0)]  # fmt: skip
    if not counts.get("same_photo") and not counts.get("same_place"):
        return f"<b>{NOTHING_HERE}</b>" + (f" · {shown[0]}" if shown else "")
    return " · ".join(f"<b>{t}</b>" if i < 2 else t for i, t in enumerate(shown))

class ResultsModel(QAbstractListModel):
    """Photos for a ``QListView``; thumbnails are requested only for the rows the view paints.

    Roles: ``DisplayRole`` the file name, ``ToolTipRole`` path and score, :attr:`ItemRole` the
    :class:`PhotoItem`, :attr:`ThumbnailRole` a ``QPixmap`` or None while loading,
    :attr:`ThumbFailedRole` the reason a thumbnail cannot be made, or None.

    Python callers should use :meth:`item`, :meth:`thumbnail` and :meth:`thumbnail_failure`
    rather than ``index.data(role)``: PySide6 6.12 under-counts references to None when it
    converts an invalid QVariant to Python (``QModelIndex.data``, ``QComboBox.currentData``,
    ...), and on Python 3.11, where None is not immortal, enough such calls crash the
    interpreter ("none_dealloc"). Painting goes through here many times a second.
    """

    ItemRole = Qt.ItemDataRole.UserRole + 1
    ThumbnailRole = Qt.ItemDataRole.UserRole + 2
    ThumbFailedRole = Qt.ItemDataRole.UserRole + 3

    def __init__(self, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thumbs = thumbnails
        self._items: list[PhotoItem] = []
        self._rows: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    def set_items(self, items: Iterable[PhotoItem]) -> None:
        """Replace the whole list."""
        self.beginResetModel()
        self._items = list(items)
        self._rows = {}
        for row, item in enumerate(self._items):
            self._rows.setdefault(str(item.path), []).append(row)
        self.endResetModel()

    def set_matches(self, matches: Sequence[Match]) -> None:
        """Replace the list with ``lookalike.library.Match`` objects, best first, in their
        verdict sections (:func:`sectioned`)."""
        self.set_items(sectioned(matches))

    def section_counts(self) -> dict[str, int]:
        """Results per verdict (stacked copies counted), for the section titles."""
        counts = dict.fromkeys((v for v, _ in SECTIONS), 0)
        for item in self._items:
            if item.verdict in counts:
                counts[item.verdict] += 1 + item.copies
        return counts

    def items(self) -> list[PhotoItem]:
        """All items, in order."""
        return list(self._items)

    def item(self, row: int) -> PhotoItem:
        """The item at ``row``."""
        return self._items[row]

    def thumbnail(self, row: int) -> QPixmap | None:
        """The row's thumbnail if loaded; otherwise None and it starts loading."""
        return self._thumbs.get(self._items[row].path)

    def thumbnail_failure(self, row: int) -> str | None:
        """Why the row's thumbnail cannot be made, or None."""
        return self._thumbs.failure(self._items[row].path)

    def row_of(self, photo_id: int) -> int:
        """The row of a photo id, or -1."""
        return next((r for r, it in enumerate(self._items) if it.photo_id == photo_id), -1)

    def row_of_path(self, path: Path) -> int:
        """The first row showing ``path``, or -1."""
        rows = self._rows.get(str(path))
        return rows[0] if rows else -1

    def drop_missing(self, present: dict[int, Path]) -> int:
        """Keep only the photos still in the library, at their current paths.

        Args:
            present: photo id → path of every catalogued photo (``Library.photos_under``).

        Returns:
            How many rows left (deleted or removed photos); moved ones stay, with the new path.
        """
        kept = [
            replace(item, path=present[item.photo_id])
            for item in self._items
            if item.photo_id in present
        ]
        gone = len(self._items) - len(kept)
        if gone or kept != self._items:
            self.set_items(kept)
        return gone

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.path.name
        if role == self.ThumbnailRole:
            return self._thumbs.get(item.path)
        if role == self.ItemRole:
            return item
        if role == self.ThumbFailedRole:
            return self._thumbs.failure(item.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """Dragged results are file URLs: drop one on the query to search with it."""
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime.setUrls([QUrl.fromLocalFile(str(self._items[r].path)) for r in rows])
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def _tooltip(self, item: PhotoItem) -> str:
        lines = [str(item.path)]
        if item.rank is not None and item.score is not None:
            lines.append(f"Rank {item.rank} · score {item.score:.3f}"
                         + (f" · {item.words()}" if item.verdict else ""))
            if item.copies:
                lines.append(f"Stacked with {item.copies} more "
                             f"cop{'y' if item.copies == 1 else 'ies'} of this photo")
            lines.append(SCORE_EXPLAINED)
        if item.state and item.state != "indexed":
            lines.append(f"Not searchable: {item.state}")
        failure = self._thumbs.failure(item.path)
        if failure:
            lines.append(f"Cannot show: {failure}")
        return "\n".join(lines)

    @Slot(str)
    def _on_thumbnail(self, key: str) -> None:
        for row in self._rows.get(key, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [self.ThumbnailRole, self.ThumbFailedRole])
