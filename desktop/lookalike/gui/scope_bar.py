"""The search page's scope row: the folder searched in (the sidebar's selection) and an
optional date range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QCheckBox, QDateEdit, QLabel, QToolButton, QWidget

from lookalike.gui.layouts import row
from lookalike.library import Scope, days_scope


class ScopeBar(QWidget):
    """Which photos a search may return: "All folders" or one folder, and optionally the days
    from..to (EXIF date, else file time).

    Signals:
        changed(): the scope changed (the page searches again).
        folderCleared(): the user asked to search all folders again (the window clears the
            sidebar's selection).
    """

    changed = Signal()
    folderCleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._folder: Path | None = None
        self.folder_label = QLabel("All folders", self)
        self.folder_label.setObjectName("caption")
        self.clear_folder = QToolButton(self)
        self.clear_folder.setText("✕")
        self.clear_folder.setAutoRaise(True)
        self.clear_folder.setToolTip("Search all folders")
        self.clear_folder.clicked.connect(lambda: self._clear_folder())
        self.dates = QCheckBox("Dates", self)
        self.dates.setToolTip("Only photos taken in this range (EXIF date, else file time)")
        today = QDate.currentDate()
        self.first = self._date_edit(today.addYears(-1), "First day")
        self.last = self._date_edit(today, "Last day")
        self.dates.toggled.connect(self._dates_toggled)
        row(self, 4, self.folder_label, self.clear_folder, None, self.dates, self.first,
            QLabel("–", self), self.last)  # fmt: skip
        self._dates_toggled(False)
        self._show_folder()

    def _date_edit(self, date: QDate, tip: str) -> QDateEdit:
        edit = QDateEdit(date, self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setToolTip(tip)
        edit.dateChanged.connect(self._date_changed)
        return edit

    def _date_changed(self, _date: QDate) -> None:
        if self.dates.isChecked():
            self.changed.emit()

    def set_folder(self, folder: Path | None) -> None:
        """Search only inside ``folder`` (None: all folders)."""
        folder = None if folder is None else Path(folder)
        if folder == self._folder:
            return
        self._folder = folder
        self._show_folder()
        self.changed.emit()

    def _show_folder(self) -> None:
        folder = self._folder
        self.folder_label.setText("All folders" if folder is None else f"In {folder.name}")
        self.folder_label.setToolTip("" if folder is None else str(folder))
        self.clear_folder.setVisible(folder is not None)

    def _clear_folder(self) -> None:
        self.set_folder(None)
        self.folderCleared.emit()

    def set_dates(self, first: dt.date | None, last: dt.date | None) -> None:
        """Limit to the days ``first``..``last`` (both None: no date range)."""
        if first is not None and last is not None:
            self.first.setDate(QDate(first.year, first.month, first.day))
            self.last.setDate(QDate(last.year, last.month, last.day))
        self.dates.setChecked(first is not None and last is not None)

    def _dates_toggled(self, on: bool) -> None:
        self.first.setEnabled(on)
        self.last.setEnabled(on)
        self.changed.emit()

    def scope(self) -> Scope | None:
        """The scope of the next search, or None for everything."""
        folders = () if self._folder is None else (self._folder,)
        if not self.dates.isChecked():
            return days_scope(folders) if folders else None
        first, last = _day(self.first.date()), _day(self.last.date())
        if first > last:
            first, last = last, first
        return days_scope(folders, first, last)


def _day(date: QDate) -> dt.date:
    return dt.date(date.year(), date.month(), date.day())
