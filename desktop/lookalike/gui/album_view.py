"""Albums: browse the library by folder, and search with any photo in it."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QShowEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QSplitter, QTreeView, QVBoxLayout, QWidget

from lookalike.gui.icons import action_icon
from lookalike.gui.results_model import PhotoItem, ResultsModel
from lookalike.gui.results_view import ResultsView
from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.gui.wording import plural
from lookalike.gui.workers import TaskRunner
from lookalike.library import Library

log = logging.getLogger(__name__)

PathRole = Qt.ItemDataRole.UserRole + 1


def folder_counts(root: Path, photos: Iterable[Path]) -> dict[Path, int]:
    """How many photos each folder under ``root`` holds, subfolders included.

    Pure Python; meant for a worker thread.

    Args:
        root: a library root.
        photos: photo paths under it.

    Returns:
        folder → recursive photo count, for ``root`` and every folder between it and a photo.
    """
    counts: dict[Path, int] = {root: 0}
    for photo in photos:
        folder = photo.parent
        while True:
            counts[folder] = counts.get(folder, 0) + 1
            if folder == root or folder == folder.parent or root not in folder.parents:
                break
            folder = folder.parent
    return counts


class AlbumView(QWidget):
    """A folder tree (library roots and their subfolders) beside the selected folder's photos.

    Selecting a folder shows the photos in it and its subfolders; double-clicking a photo (or
    Space) opens it in the viewer, "Find Similar" in its menu searches with it. The tree is
    (re)built from the library when the view is shown after :meth:`mark_stale`; library calls
    go through ``runner``.

    Signals:
        folderSelected(object): the user selected this folder ``Path``.
        findSimilarRequested(int, object): photo id and path to search with.
        failed(object): a library call failed: a ``Failure``.
        photosShown(int): a folder's photos are in the grid (their number).
    """

    folderSelected = Signal(object)
    findSimilarRequested = Signal(int, object)
    failed = Signal(object)
    photosShown = Signal(int)

    def __init__(
        self,
        library: Library,
        runner: TaskRunner,
        thumbnails: ThumbnailCache,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._library, self._runner = library, runner
        self._stale = True
        self._pending_folder: Path | None = None
        self._tree_model = QStandardItemModel(self)
        self.tree = QTreeView(self)
        self.tree.setObjectName("folderTree")
        self.tree.setHeaderHidden(True)
        self.tree.setModel(self._tree_model)
        self.tree.setUniformRowHeights(True)
        self.tree.selectionModel().currentChanged.connect(self._on_folder_changed)
        self.folderSelected.connect(self._load_photos)
        self.model = ResultsModel(thumbnails, self)
        self.grid = ResultsView(self.model, parent=self)
        self.grid.findSimilarRequested.connect(self.findSimilarRequested)
        self._caption = QLabel("Choose a folder")
        self._caption.setObjectName("panelTitle")
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 8, 8, 0)
        right_layout.addWidget(self._caption)
        right_layout.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self._shown: Path | None = None

    def set_folders(self, counts_by_root: Mapping[Path, Mapping[Path, int]]) -> None:
        """Rebuild the tree from :func:`folder_counts` of each root (keeps the selection)."""
        selected = self.current_folder()
        self._tree_model.clear()
        icon = action_icon("folder")
        for root, counts in counts_by_root.items():
            nodes: dict[Path, QStandardItem] = {}
            for folder in sorted(counts, key=lambda p: (len(p.parts), str(p).lower())):
                name = folder.name or str(folder)
                node = QStandardItem(icon, f"{name}  ({counts[folder]:,})")
                node.setData(str(folder), PathRole)  # str: matchable
                node.setToolTip(str(folder))
                node.setEditable(False)
                parent = nodes.get(folder.parent) if folder != root else None
                (parent or self._tree_model.invisibleRootItem()).appendRow(node)
                nodes[folder] = node
        self.tree.expandToDepth(0)
        if selected is not None:
            self.select_folder(selected)

    def select_folder(self, folder: Path) -> bool:
        """Select a folder in the tree (emits :attr:`folderSelected`); False if not listed."""
        matches = self._tree_model.match(
            self._tree_model.index(0, 0),
            PathRole,
            str(folder),
            1,
            Qt.MatchFlag.MatchRecursive | Qt.MatchFlag.MatchExactly,
        )
        if not matches:
            return False
        self.tree.setCurrentIndex(matches[0])
        self.tree.scrollTo(matches[0])
        return True

    def current_folder(self) -> Path | None:
        """The folder selected in the tree, or None."""
        index = self.tree.currentIndex()
        return Path(index.data(PathRole)) if index.isValid() else None

    def mark_stale(self) -> None:
        """The library changed: rebuild the tree now if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.reload()

    def browse(self, folder: Path) -> None:
        """Select a folder, once the tree lists it."""
        if not self.select_folder(folder):
            self._pending_folder = folder
            self.mark_stale()

    def reload(self) -> None:
        """Rebuild the folder tree from the library (off the GUI thread), then the grid."""
        self._stale = False
        library = self._library

        def counts() -> dict[Path, dict[Path, int]]:
            return {
                r.path: folder_counts(r.path, (p for _, p, _ in library.photos_under(r.path)))
                for r in library.roots()
            }

        self._runner.submit(counts, self._on_counts, self.failed.emit)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _on_counts(self, by_root: dict[Path, dict[Path, int]]) -> None:
        self.set_folders(by_root)
        pending, self._pending_folder = self._pending_folder, None
        if pending is not None:
            self.select_folder(pending)

    def _load_photos(self, folder: Path) -> None:
        self._runner.submit(
            lambda: self._library.photos_under(folder),
            lambda rows: self.show_photos(folder, rows),
            self.failed.emit,
        )

    def show_photos(self, folder: Path, rows: Sequence[tuple[int, Path, str]]) -> None:
        """Show a folder's photos: ``(photo_id, path, state)`` rows from ``photos_under``."""
        if folder != self.current_folder():
            return  # the user has moved on
        self._shown = folder
        items = sorted(
            (PhotoItem(pid, Path(p), state=state) for pid, p, state in rows),
            key=lambda it: str(it.path).lower(),
        )
        self.model.set_items(items)
        searchable = sum(1 for it in items if it.state == "indexed")
        extra = (
            "" if searchable == len(items) else f" ({len(items) - searchable:,} not searchable yet)"
        )
        self._caption.setText(f"{folder.name or folder} · {plural(len(items), 'photo')}{extra}")
        self.photosShown.emit(len(items))

    def _on_folder_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        folder = Path(current.data(PathRole)) if current.isValid() else None
        if folder is not None:
            self._caption.setText(f"{folder.name or folder} · loading…")
            self.folderSelected.emit(folder)
