"""The thumbnail grid for search results and albums: rank and score badges, a context menu."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from lookalike.gui import desktop
from lookalike.gui.icons import action_icon
from lookalike.gui.results_model import PhotoItem, ResultsModel

log = logging.getLogger(__name__)

CELL = 168
"""Thumbnail cell side in device-independent pixels."""

VERDICT_BADGES = {"same_photo": "same photo ·", "same_place": "same place ·"}
"""Badge words of verified results (followed by their matching points)."""
BADGE_COLOURS = {"same_photo": (20, 110, 60, 220), "same_place": (30, 80, 160, 220)}
"""Badge colour (RGBA) per verdict; others are translucent black."""

_TEXT_HEIGHT = 34
"""Room for two lines of file name under each thumbnail."""
_PAD = 6


def elide_name(name: str, metrics: QFontMetrics, width: int) -> str:
    """A file name cut at the right to fit ``width`` pixels, its extension kept visible
    ("strecha_fountain_p1….jpg"): the start of a name tells photos apart better than the middle.
    """
    if metrics.horizontalAdvance(name) <= width:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 5:
        return metrics.elidedText(name, Qt.TextElideMode.ElideRight, width)
    tail = f"….{suffix}"
    room = width - metrics.horizontalAdvance(tail)
    while stem and metrics.horizontalAdvance(stem) > room:
        stem = stem[:-1]
    return f"{stem}{tail}"


def wrap_name(name: str, metrics: QFontMetrics, width: int) -> list[str]:
    """A file name on at most two lines of ``width`` pixels: the first as much of the start as
    fits, the second the rest, cut at the right with its extension kept (photos of one series
    differ at the end of their names: "strecha_fountain_p11_" / "01.jpg")."""
    if metrics.horizontalAdvance(name) <= width:
        return [name]
    split = len(name)
    while split > 1 and metrics.horizontalAdvance(name[:split]) > width:
        split -= 1
    return [name[:split], elide_name(name[split:], metrics, width)]


class _ThumbDelegate(QStyledItemDelegate):
    """Paints a thumbnail cell: picture fitted in a square, rank badge, score bar, file name."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(CELL, CELL + _TEXT_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        model = cast(ResultsModel, index.model())  # not index.data(): see ResultsModel
        if not 0 <= index.row() < model.rowCount():
            return
        item = model.item(index.row())
        palette = option.palette
        cell = QRect(option.rect).adjusted(2, 2, -2, -2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            colour = QColor(palette.color(QPalette.ColorRole.Highlight))
            colour.setAlpha(255 if selected else 60)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(cell), 8, 8)
        frame = QRect(
            cell.left() + _PAD,
            cell.top() + _PAD,
            cell.width() - 2 * _PAD,
            cell.height() - _TEXT_HEIGHT - 2 * _PAD,
        )
        self._paint_picture(painter, frame, index, palette)
        if item.rank is not None:
            self._paint_badge(painter, frame, item, palette)
        text_rect = QRect(
            cell.left() + _PAD, frame.bottom() + 3, cell.width() - 2 * _PAD, _TEXT_HEIGHT
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        lines = wrap_name(item.path.name, option.fontMetrics, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "\n".join(lines))  # fmt: skip
        painter.restore()

    @staticmethod
    def _paint_picture(
        painter: QPainter,
        frame: QRect,
        index: QModelIndex | QPersistentModelIndex,
        palette: QPalette,
    ) -> None:
        model = cast(ResultsModel, index.model())
        pixmap = model.thumbnail(index.row())
        if pixmap is None or pixmap.isNull():
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            placeholder.setAlpha(50)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(placeholder)
            painter.drawRoundedRect(QRectF(frame), 6, 6)
            if model.thumbnail_failure(index.row()):
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(frame, Qt.AlignmentFlag.AlignCenter, "Can't show")
            return
        size = pixmap.deviceIndependentSize().scaled(
            QSize(frame.width(), frame.height()).toSizeF(), Qt.AspectRatioMode.KeepAspectRatio
        )
        target = QRectF(0, 0, size.width(), size.height())
        target.moveCenter(QRectF(frame).center())
        painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))

    @staticmethod
    def _paint_badge(painter: QPainter, frame: QRect, item: PhotoItem, palette: QPalette) -> None:
        text = f"{item.rank}  ·  {item.score:.2f}" if item.score is not None else f"{item.rank}"
        if item.verdict in VERDICT_BADGES:
            text = f"{item.rank}  ·  {VERDICT_BADGES[item.verdict]} {item.inliers}"
        if item.copies:
            text += f"  ·  ×{item.copies + 1}"
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        badge = QRectF(
            frame.left() + 4,
            frame.top() + 4,
            metrics.horizontalAdvance(text) + 12,
            metrics.height() + 4,
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(*BADGE_COLOURS.get(item.verdict, (0, 0, 0, 150))))
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(QGuiApplication.font())


class ResultsView(QListView):
    """A grid of photo thumbnails over a :class:`ResultsModel`.

    Double-click, Enter or Space open the photo in the window's viewer (in results and
    albums alike). The context menu offers View, Open in Default App, Show in folder, Copy path
    and Find similar. Items can be dragged out (as file URLs), e.g. onto the query panel.

    Signals:
        findSimilarRequested(int, object): photo id and path of the photo to search with.
        currentPhotoChanged(object): the :class:`PhotoItem` now current, or None.
        viewRequested(int): show this row in the viewer.
    """

    findSimilarRequested = Signal(int, object)
    currentPhotoChanged = Signal(object)
    viewRequested = Signal(int)

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(2)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setItemDelegate(_ThumbDelegate(self))
        self.setModel(model)
        self.customContextMenuRequested.connect(self._show_menu)
        self.activated.connect(self._on_activated)  # double-click or Enter (per platform)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        model.modelReset.connect(lambda: self.currentPhotoChanged.emit(None))

    def _item(self, index: QModelIndex | QPersistentModelIndex) -> PhotoItem | None:
        model = cast(ResultsModel, self.model())  # not index.data(): see ResultsModel
        valid = index.isValid() and 0 <= index.row() < model.rowCount()
        return model.item(index.row()) if valid else None

    def current_item(self) -> PhotoItem | None:
        """The current photo, or None."""
        index = self.currentIndex()
        return self._item(index)

    def find_similar_to_current(self) -> bool:
        """Emit :attr:`findSimilarRequested` for the current photo; False if there is none."""
        item = self.current_item()
        if item is None or item.photo_id <= 0:
            return False
        self.findSimilarRequested.emit(item.photo_id, item.path)
        return True

    def menu_for(self, item: PhotoItem) -> QMenu:
        """The context menu of one photo (built fresh; the caller shows or inspects it)."""
        menu = QMenu(self)
        row = cast(ResultsModel, self.model()).row_of_path(item.path)
        view = menu.addAction("View")
        view.setShortcut(QKeySequence("Space"))
        view.triggered.connect(lambda: self.viewRequested.emit(row))
        open_action = menu.addAction(action_icon("open"), "Open in Default App")
        open_action.triggered.connect(lambda: desktop.open_or_explain(item.path, self))
        menu.addAction("Show in Folder").triggered.connect(
            lambda: desktop.show_in_folder(item.path)
        )
        menu.addAction("Copy Path").triggered.connect(lambda: self._copy_path(item.path))
        menu.addSeparator()
        find: QAction = menu.addAction(action_icon("find-similar"), "Find Similar to This")
        find.setShortcut(QKeySequence("Ctrl+F"))
        find.setEnabled(item.photo_id > 0)
        find.triggered.connect(lambda: self.findSimilarRequested.emit(item.photo_id, item.path))
        menu.setDefaultAction(view)
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        self.setCurrentIndex(index)
        item = self._item(index)
        if item is not None:
            self.menu_for(item).popup(self.viewport().mapToGlobal(pos))

    @staticmethod
    def _copy_path(path: Path) -> None:
        QGuiApplication.clipboard().setText(str(path))

    def _on_activated(self, index: QModelIndex) -> None:
        if self._item(index) is not None:
            self.viewRequested.emit(index.row())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Space opens the current photo in the viewer (like Enter)."""
        if event.key() == Qt.Key.Key_Space and self._item(self.currentIndex()) is not None:
            self.viewRequested.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentPhotoChanged.emit(self._item(current))
