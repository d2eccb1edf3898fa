"""Help → Keyboard Shortcuts: every key the window and the viewer answer to, on one sheet."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

GRID_KEYS: Sequence[tuple[str, str]] = (
    ("Space, Enter or double-click", "View the selected photo large"),
    ("Arrow keys", "Move through the results or the album"),
    ("Mouse back / forward buttons", "Previous / next search"),
)
"""Keys of the photo grids that are not menu actions."""

VIEWER_KEYS: Sequence[tuple[str, str]] = (
    ("Esc, Space or Backspace", "Back to the grid"),
    ("Left / Right, Page Up / Page Down", "Previous / next photo"),
    ("F", "Fit the photo in the window"),
    ("1", "100 % (one photo pixel per screen pixel)"),
    ("Ctrl++ / Ctrl+-", "Zoom in / out"),
    ("Drag", "Move around a zoomed photo"),
    ("Double-click", "Switch between fit and 100 %"),
    ("H", "Show or hide why the photo matches"),
)
"""Keys of the photo viewer (see ``gui.photo_viewer``)."""


def action_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(keys, what) for every action that has a shortcut, in the given order."""
    rows = []
    for action in actions:
        keys = ", ".join(
            k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
        )
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of shortcuts, grouped: the window's actions, the grids, the viewer."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        groups = (
            ("Window", action_rows(actions)),
            ("Photo grids", list(GRID_KEYS)),
            ("Photo viewer", list(VIEWER_KEYS)),
        )
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().setDefaultSectionSize(24)
        for title, rows in groups:
            self._add_row(title, "", heading=True)
            for keys, what in rows:
                self._add_row(keys, what)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 700)

    def _add_row(self, keys: str, what: str, heading: bool = False) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        first = QTableWidgetItem(keys)
        if heading:
            font = first.font()
            font.setBold(True)
            first.setFont(font)
        self.table.setItem(row, 0, first)
        self.table.setItem(row, 1, QTableWidgetItem(what))

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def rows(self) -> list[tuple[str, str]]:
        """The (keys, does) text of every row, headings included (for tests)."""
        return [
            (self._text(r, 0), self._text(r, 1))
            for r in range(self.table.rowCount())
        ]
