"""The list of files that could not be read as photos, and why."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lookalike.gui import desktop

log = logging.getLogger(__name__)


class SkippedDialog(QDialog):
    """Lists unreadable files with their reasons; copy the list or show a file in its folder."""

    def __init__(self, entries: Sequence[tuple[Path, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unreadable Files")
        self.resize(760, 420)
        count = len(entries)
        intro = QLabel(
            f"{count:,} file{'s' if count != 1 else ''} in your library could not be read as "
            "photos. They are skipped; fix or convert them and they are picked up automatically."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(count, 2, self)
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for row, (path, reason) in enumerate(sorted(entries, key=lambda e: str(e[0]).lower())):
            file_item = QTableWidgetItem(str(path))
            file_item.setToolTip(str(path))
            file_item.setData(Qt.ItemDataRole.UserRole, Path(path))
            self.table.setItem(row, 0, file_item)
            self.table.setItem(row, 1, QTableWidgetItem(reason))
        self.table.doubleClicked.connect(lambda _index: self._show_selected())
        show = QPushButton("Show in Folder")
        show.clicked.connect(self._show_selected)
        copy = QPushButton("Copy List")
        copy.clicked.connect(self.copy_list)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(show, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _path(self, row: int) -> Path:
        item = self.table.item(row, 0)
        return Path(item.data(Qt.ItemDataRole.UserRole) if item is not None else "")

    def paths(self) -> list[Path]:
        """The files listed, in table order."""
        return [
            self._path(r) for r in range(self.table.rowCount())
        ]

    def copy_list(self) -> None:
        """Copy "path<TAB>reason" lines to the clipboard."""
        lines = [
            f"{self._cell(r, 0)}\t{self._cell(r, 1)}"
            for r in range(self.table.rowCount())
        ]
        QGuiApplication.clipboard().setText("\n".join(lines))

    def _show_selected(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            desktop.show_in_folder(self._path(row))
