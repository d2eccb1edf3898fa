"""The Duplicates page: copies and bursts side by side, keep or remove, trash with undo.

Finding (``DuplicateFinder.update`` + ``groups``) runs on the page's own runner, so that the
first grouping of a large library (about a minute at 100k photos) never holds up a search on
the window's library runner, where trashing and restoring run; it shows how many photos are
checked, and stops at :meth:`DuplicatesPage.shutdown`. This page only draws what comes back
(``DuplicateGroup`` objects) and the user's marks (:class:`DuplicatesModel`).

Signals:
    loaded(int): groups were found and drawn (their number, all kinds).
    trashed(object): photos went to the trash: the ``TrashResult``.
    restored(object): undo finished: the restored paths.
    failed(object): a background call failed: the ``Failure``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from lookalike.gui.duplicates_model import DuplicatesModel
from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.gui.workers import Failure, TaskRunner
from lookalike.library import DuplicateGroup, DuplicatePhoto, Library, TrashResult

KINDS = (("Copies and bursts", None), ("Copies only", "copy"), ("Bursts only", "burst"))
TILE_SIDE = 200


def size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"


def date_text(photo: DuplicatePhoto) -> str:
    if photo.taken:
        day, _, clock = photo.taken.partition(" ")
        return f"taken {day.replace(':', '-')} {clock[:5]}"
    return "modified " + time.strftime("%Y-%m-%d %H:%M", time.localtime(photo.mtime_ns / 1e9))


class DuplicatesPage(QWidget):
    """The Duplicates tab (see the module docstring)."""

    loaded = Signal(int)
    trashed = Signal(object)
    restored = Signal(object)
    failed = Signal(object)
    checking = Signal(int, int)  # internal: photos checked, of how many (from a worker thread)

    def __init__(self, library: Library, runner: TaskRunner, thumbnails: ThumbnailCache,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._library, self._runner, self._thumbs = library, runner, thumbnails
        self._finder = TaskRunner(1, self)  # finding only: a search never waits for it
        self._stop = threading.Event()
        self.model = DuplicatesModel(self)
        self._last_trash: TrashResult | None = None
        self._loaded_once = False
        self._notice = ""  # what the last trash or undo did: shown again after the reload
        self._images: dict[str, list[QLabel]] = {}
        self._boxes: dict[Path, QCheckBox] = {}
        self._build()
        self.model.changed.connect(self._draw_groups)
        self.checking.connect(self._on_checking)
        self.model.marksChanged.connect(self._draw_marks)
        thumbnails.ready.connect(self._on_thumbnail)

    def _build(self) -> None:
        self.kind = QComboBox(self)
        for text, kind in KINDS:
            self.kind.addItem(text, kind)
        self.kind.currentIndexChanged.connect(
            lambda _i: self.model.set_kind(self.kind.currentData()))
        self.find_button = QPushButton("Find duplicates", self)
        self.find_button.clicked.connect(self.reload)
        self.suggest_all = QPushButton("Keep suggested in all groups", self)
        self.suggest_all.clicked.connect(lambda: self.model.keep_suggested())
        self.trash_button = QPushButton("Move to trash", self)
        self.trash_button.clicked.connect(self.trash_marked)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        bar = QHBoxLayout()  # two rows, so the page never makes the window wider
        for w in (self.kind, self.find_button, self.suggest_all):
            bar.addWidget(w)
        bar.addStretch(1)
        self.summary = QLabel("", self)
        self.summary.setObjectName("panelTitle")
        actions = QHBoxLayout()
        actions.addWidget(self.summary, 1)
        actions.addWidget(self.trash_button)
        actions.addWidget(self.undo_button)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self._cards = QWidget()
        self._cards_layout = QVBoxLayout(self._cards)
        self._cards_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._cards)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(bar)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)

    # -- loading ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self.reload()

    def reload(self) -> None:
        """Check new and changed photos, then show every group (in the background)."""
        self._loaded_once = True
        self.find_button.setEnabled(False)
        self.status.setText("Looking for copies and bursts…")
        finder = self._library.duplicates()

        def work() -> list[DuplicateGroup]:
            finder.update(self._stop, self.checking.emit)
            return [] if self._stop.is_set() else finder.groups()

        self._finder.submit(work, self._on_groups, self._on_failed)

    def _on_checking(self, checked: int, total: int) -> None:
        if checked < total:
            self.status.setText(f"Looking for copies and bursts… {checked:,} of {total:,} "
                                "photos checked")

    def shutdown(self, wait_ms: int) -> bool:
        """Stop finding (after the chunk of photos being checked; the rest are checked next
        time) and never call back again; True if it stopped within ``wait_ms``."""
        self._stop.set()
        return self._finder.shutdown(wait_ms)

    def _on_groups(self, groups: list[DuplicateGroup]) -> None:
        self.find_button.setEnabled(True)
        self.model.set_groups(groups)
        if self._notice:
            self.status.setText(self._notice)
        elif not groups:
            self.status.setText("No copies or bursts in your library.")
        else:
            self.status.setText("Tick the photos to remove, or use “Keep suggested”. They go to "
                                "the system trash, and Undo brings them back.")
        self._notice = ""
        self.loaded.emit(len(groups))

    def _on_failed(self, failure: Failure) -> None:
        self.find_button.setEnabled(True)
        self.status.setText(failure.message)
        self.failed.emit(failure)

    # -- drawing ------------------------------------------------------------------------------
    def _draw_groups(self) -> None:
        while self._cards_layout.count() > 1:
            item = self._cards_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._images, self._boxes = {}, {}
        groups = self.model.groups
        for group in groups:
            self._cards_layout.insertWidget(self._cards_layout.count() - 1, self._card(group))
        total = sum(g.freeable_bytes for g in groups)
        self.summary.setText(f"{len(groups)} groups · up to {size_text(total)} can be freed"
                             if groups else "")  # fmt: skip

    def _card(self, group: DuplicateGroup) -> QFrame:
        card = QFrame(self._cards)
        card.setFrameShape(QFrame.Shape.StyledPanel)
        kind = "Copies of one photo" if group.kind == "copy" else "Burst: near-identical takes"
        title = QLabel(f"<b>{kind}</b> · {len(group.photos)} photos · "
                       f"{size_text(group.freeable_bytes)} to free", card)  # fmt: skip
        suggest = QPushButton("Keep suggested", card)
        suggest.clicked.connect(lambda _=False, g=group: self.model.keep_suggested([g]))
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(suggest)
        row = QHBoxLayout()
        for photo in group.photos:
            row.addWidget(self._tile(photo, card))
        row.addStretch(1)
        layout = QVBoxLayout(card)
        layout.addLayout(head)
        layout.addLayout(row)
        return card

    def _tile(self, photo: DuplicatePhoto, parent: QWidget) -> QWidget:
        tile = QWidget(parent)
        tile.setFixedWidth(TILE_SIDE + 16)
        image = QLabel(tile)
        image.setFixedSize(TILE_SIDE, TILE_SIDE * 3 // 4)
        image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._images.setdefault(str(photo.path), []).append(image)
        pixmap = self._thumbs.get(photo.path)
        if pixmap is not None:
            self._show_pixmap(image, pixmap)
        verdict = ("<b>Suggested to keep</b>: " if photo.keep else "") + photo.reason
        info = QLabel(
            f"<b>{photo.path.name}</b><br>{photo.width}×{photo.height} · "
            f"{size_text(photo.size_bytes)} · {photo.format}<br>{date_text(photo)}<br>"
            f"<span style='color:gray'>{photo.path.parent}</span><br>{verdict}", tile)
        info.setWordWrap(True)
        info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        info.setToolTip(str(photo.path))
        layout = QVBoxLayout(tile)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(image)
        if photo.reference:
            layout.addWidget(QLabel("Reference folder: always kept", tile))
        else:
            box = QCheckBox("Remove", tile)
            box.toggled.connect(lambda on, p=photo: self.model.set_marked(p, on))
            self._boxes[photo.path] = box
            layout.addWidget(box)
        layout.addWidget(info)
        layout.addStretch(1)
        return tile

    def _show_pixmap(self, label: QLabel, pixmap: QPixmap) -> None:
        label.setPixmap(pixmap.scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))  # fmt: skip

    def _on_thumbnail(self, key: str) -> None:
        pixmap = self._thumbs.get(Path(key)) if key in self._images else None
        if pixmap is None:
            return
        for label in self._images.get(key, []):
            self._show_pixmap(label, pixmap)

    def _draw_marks(self) -> None:
        for path, box in self._boxes.items():
            marked = self.model.is_marked(path)
            box.blockSignals(True)
            box.setChecked(marked)
            box.blockSignals(False)
            box.setText("Remove: goes to the trash" if marked else "Remove")
            box.setStyleSheet("color: #c0392b; font-weight: bold" if marked else "")
        to_trash = self.model.marked()
        self.trash_button.setEnabled(bool(to_trash))
        self.trash_button.setText(
            f"Move {len(to_trash)} to trash ({size_text(self.model.marked_bytes())})"
            if to_trash else "Move to trash")  # fmt: skip

    # -- trash and undo -----------------------------------------------------------------------
    def trash_marked(self) -> None:
        """Move the marked photos to the system trash (never a whole group)."""
        if self.model.whole_group_marked() is not None:
            self.status.setText("Keep at least one photo of each group: untick one of them.")
            return
        paths = self.model.marked()
        if not paths:
            return
        self.trash_button.setEnabled(False)
        self._runner.submit(lambda: self._library.trash(paths), self._on_trashed,
                            self._on_failed)  # fmt: skip

    def _on_trashed(self, result: TrashResult) -> None:
        self._last_trash = result
        self.undo_button.setEnabled(bool(result.moved))
        moved = len(result.moved)
        text = f"Moved {moved} photo{'s' if moved != 1 else ''} to the trash."
        if result.failed:
            text += " Not moved: " + "; ".join(f"{p.name} ({why})" for p, why in result.failed)
        self.status.setText(text)
        self._notice = text
        self.trashed.emit(result)
        self.reload()

    def undo(self) -> None:
        """Bring the photos of the last move back from the trash."""
        if self._last_trash is None:
            return
        items, self._last_trash = self._last_trash.moved, None
        self.undo_button.setEnabled(False)
        self._runner.submit(lambda: self._library.untrash(items), self._on_restored,
                            self._on_failed)  # fmt: skip

    def _on_restored(self, outcome: tuple[list[Path], list[tuple[Path, str]]]) -> None:
        restored, failed = outcome
        text = f"Restored {len(restored)} photo{'s' if len(restored) != 1 else ''}."
        if failed:
            text += " Not restored: " + "; ".join(f"{p.name} ({why})" for p, why in failed)
        self.status.setText(text)
        self._notice = text
        self.restored.emit(restored)
        self.reload()
