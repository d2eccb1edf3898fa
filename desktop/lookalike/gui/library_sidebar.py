"""The sidebar listing the library's folders, with photo counts and offline state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from lookalike.gui import desktop
from lookalike.gui.icons import action_icon, tool_button
from lookalike.gui.layouts import panel, row
from lookalike.gui.wording import plural
from lookalike.library import RootInfo

log = logging.getLogger(__name__)

PathRole = Qt.ItemDataRole.UserRole + 1
DetailRole = Qt.ItemDataRole.UserRole + 2
OfflineRole = Qt.ItemDataRole.UserRole + 3
# Every role read back from Python is set on every item: PySide6 6.12 mis-counts references
# to None when an unset role comes back as None (see ResultsModel).


class _RootDelegate(QStyledItemDelegate):
    """Two lines per folder: its name, then its counts in a quieter colour."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(option.rect.width(), 2 * option.fontMetrics.height() + 14)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text, opt.icon = "", QIcon()
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        offline = bool(index.data(OfflineRole))
        rect = option.rect.adjusted(8, 6, -6, -6)
        icon: QIcon = index.data(Qt.ItemDataRole.DecorationRole)
        icon_rect = QRect(rect.left(), rect.top() + 2, 20, 20)
        mode = QIcon.Mode.Disabled if offline else QIcon.Mode.Normal
        icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter, mode)
        text = rect.adjusted(28, 0, 0, 0)
        line = option.fontMetrics.height()
        roles = (
            (QPalette.ColorRole.HighlightedText, QPalette.ColorRole.HighlightedText)
            if selected
            else (QPalette.ColorRole.Text, QPalette.ColorRole.PlaceholderText)
        )
        painter.save()
        name_rect = QRect(text.left(), text.top(), text.width(), line)
        self._draw(
            painter,
            option.font,
            option.palette.color(roles[0]),
            name_rect,
            index.data(Qt.ItemDataRole.DisplayRole),
            Qt.TextElideMode.ElideMiddle,
        )
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        detail_rect = QRect(text.left(), text.top() + line + 2, text.width(), line)
        self._draw(
            painter,
            small,
            option.palette.color(roles[1]),
            detail_rect,
            index.data(DetailRole),
            Qt.TextElideMode.ElideRight,
        )
        painter.restore()

    @staticmethod
    def _draw(
        painter: QPainter,
        font: QFont,
        colour: QColor,
        rect: QRect,
        text: str,
        elide: Qt.TextElideMode,
    ) -> None:
        painter.setFont(font)
        painter.setPen(colour)
        elided = QFontMetrics(font).elidedText(text, elide, rect.width())
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)


def describe_root(info: RootInfo) -> str:
    """Second line of a folder entry, e.g. "1,204 photos · 12 to index · 3 unreadable"."""
    parts = [f"{info.photos:,} photo{'s' if info.photos != 1 else ''}"]
    if info.pending:
        parts.append(f"{info.pending:,} to index")
    if info.skipped:
        parts.append(f"{info.skipped:,} unreadable")
    if not info.online:
        parts.insert(0, "Offline")
    return " · ".join(parts)


class LibrarySidebar(QWidget):
    """The library's folders: one entry per root, with its counts; add and remove buttons.

    Offline folders (an unplugged drive) stay in the list, greyed out: their photos remain in
    the catalog and come back when the drive does.

    Signals:
        addRequested(): the user wants to add a folder (the window shows the folder dialog).
        removeRequested(object): the user wants to remove this root ``Path``.
        folderActivated(object): the user opened this root ``Path`` (to browse it in Albums).
        rescanRequested(): the user asked to look for new photos now.
        selectedChanged(object): the selected root ``Path`` changed (None: no selection);
            searches are limited to it.
    """

    addRequested = Signal()
    removeRequested = Signal(object)
    folderActivated = Signal(object)
    rescanRequested = Signal()
    selectedChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        title = QLabel("Library")
        title.setObjectName("sidebarTitle")
        self.list = QListWidget(self)
        self.list.setObjectName("rootList")
        self.list.setIconSize(QSize(20, 20))
        self.list.setItemDelegate(_RootDelegate(self.list))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_menu)
        self.list.itemActivated.connect(lambda it: self.folderActivated.emit(it.data(PathRole)))
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self._selected: Path | None = None
        self._empty = QWidget(self)
        hint = QLabel(
            "No folders yet.\n\nAdd the folders that hold\nyour photos, or drop one here."
        )
        hint.setObjectName("hint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        add_first = QPushButton(action_icon("folder-add"), "Add Folder…", self._empty)
        add_first.clicked.connect(self.addRequested.emit)
        empty_layout = QVBoxLayout(self._empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(hint)
        empty_layout.addWidget(add_first, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(1)
        self._add = tool_button(self, "add", "Add a folder to the library…", self.addRequested.emit)
        self._remove = tool_button(
            self, "remove", "Remove the selected folder from the library", self._remove_current
        )
        self._summary = QLabel("")
        self._summary.setObjectName("caption")
        buttons = row(None, 2, self._add, self._remove, None, self._summary)
        layout = panel(self, title, self.list)
        layout.addWidget(self._empty, 1)
        layout.addLayout(buttons)
        self.set_roots([])

    def set_roots(self, roots: Sequence[RootInfo]) -> None:
        """Show these ``RootInfo`` entries (keeps the selection when the folder is still there)."""
        current = self.current_root()
        self.list.clear()
        for info in roots:
            path = Path(info.path)
            item = QListWidgetItem(
                action_icon("folder" if info.online else "folder-offline"), path.name or str(path)
            )
            item.setData(PathRole, path)
            item.setData(DetailRole, describe_root(info))
            item.setData(OfflineRole, not info.online)
            item.setToolTip(f"{path}\n{describe_root(info)}")
            if not info.online:
                item.setForeground(self.palette().placeholderText())
            self.list.addItem(item)
            if path == current:
                self.list.setCurrentItem(item)
        total = sum(int(info.photos) for info in roots)
        self._summary.setText(plural(total, "photo") if roots else "")
        self.list.setVisible(bool(roots))
        self._empty.setVisible(not roots)
        self._update_buttons()

    def roots(self) -> list[Path]:
        """The root paths listed, in order."""
        return [self.list.item(i).data(PathRole) for i in range(self.list.count())]

    def current_root(self) -> Path | None:
        """The selected root, or None."""
        item = self.list.currentItem()
        return Path(item.data(PathRole)) if item is not None else None

    def clear_selection(self) -> None:
        """Select no folder (searches cover every folder again)."""
        self.list.setCurrentIndex(QModelIndex())

    def _update_buttons(self) -> None:
        self._remove.setEnabled(self.list.currentItem() is not None)
        if self.current_root() != self._selected:  # set_roots refills: emit real changes only
            self._selected = self.current_root()
            self.selectedChanged.emit(self._selected)

    def _remove_current(self) -> None:
        root = self.current_root()
        if root is not None:
            self.removeRequested.emit(root)

    def _show_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        menu = QMenu(self)
        if item is not None:
            path: Path = item.data(PathRole)
            menu.addAction("Browse in Albums").triggered.connect(
                lambda: self.folderActivated.emit(path)
            )
            menu.addAction("Show in File Manager").triggered.connect(
                lambda: desktop.open_file(path)
            )
            menu.addAction(action_icon("rescan"), "Rescan Now").triggered.connect(
                self.rescanRequested.emit
            )
            menu.addSeparator()
            menu.addAction(action_icon("remove"), "Remove from Library…").triggered.connect(
                lambda: self.removeRequested.emit(path)
            )
            menu.addSeparator()
        menu.addAction(action_icon("add"), "Add Folder…").triggered.connect(self.addRequested.emit)
        menu.popup(self.list.viewport().mapToGlobal(pos))
