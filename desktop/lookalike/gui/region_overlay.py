"""A photo drawn to fit its widget, with highlight boxes on top and an optional crop tool."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) fractions 0..1 of the image."""

MIN_CROP = 0.03
"""Smallest crop side (fraction of the image) a drag must cover to count as a crop."""

HIGHLIGHT_COLOURS = (
    "#ff5a5f",
    "#2ec4b6",
    "#ffb703",
    "#8f5bff",
    "#3a86ff",
    "#fb5607",
    "#06d6a0",
    "#ff70a6",
)
"""One colour per numbered match pair; chosen to stand out on photos in light and dark themes."""


@dataclass(frozen=True)
class Highlight:
    """A box drawn over the photo.

    Attributes:
        box: (x0, y0, x1, y1) fractions 0..1 of the image.
        colour: stroke colour, a Qt colour name ("#ff5a5f").
        label: short text in a badge at the top-left corner ("1"), or "".
        dashed: dashed outline (used for the best-matching region).
        tip: tooltip shown when the pointer rests on the box, or "".
    """

    box: Box
    colour: str
    label: str = ""
    dashed: bool = False
    tip: str = ""


class RegionOverlay(QWidget):
    """Shows one photo letterboxed in the widget, highlight boxes, and a crop rectangle.

    With drawing enabled, dragging over the photo draws a crop rectangle; releasing emits
    :attr:`regionDrawn`. Coordinates given to and taken from this widget are fractions 0..1 of
    the photo, so they don't depend on the widget's size.

    Signals:
        regionDrawn(object): the user drew a rectangle: a :data:`Box`.
    """

    regionDrawn = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None
        self._highlights: list[Highlight] = []
        self._region: Box | None = None
        self._placeholder = ""
        self._placeholder_pixmap: tuple[tuple[object, ...], QPixmap] | None = None
        self._drawing_enabled = False
        self._drag_from: QPointF | None = None
        self._drag_to: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 90)

    # -- contents -------------------------------------------------------------------------
    def set_image(self, image: QImage | None) -> None:
        """Show a photo (None: show the placeholder text). Clears highlights and the region."""
        self._image = image if image is not None and not image.isNull() else None
        self._scaled = None
        self._highlights = []
        self._region = None
        self.update()

    def image(self) -> QImage | None:
        """The photo shown, or None."""
        return self._image

    def set_placeholder(self, text: str) -> None:
        """Text shown while there is no photo."""
        self._placeholder = text
        self.update()

    def set_highlights(self, highlights: list[Highlight]) -> None:
        """Replace the highlight boxes."""
        self._highlights = list(highlights)
        self.update()

    def highlights(self) -> list[Highlight]:
        """The highlight boxes shown."""
        return list(self._highlights)

    def set_region(self, region: Box | None) -> None:
        """Show a crop rectangle (the rest of the photo is dimmed), or none."""
        self._region = region
        self.update()

    def region(self) -> Box | None:
        """The crop rectangle shown, or None."""
        return self._region

    def set_drawing_enabled(self, enabled: bool) -> None:
        """Let the user drag a crop rectangle over the photo."""
        self._drawing_enabled = enabled
        self.setCursor(Qt.CursorShape.CrossCursor if enabled else Qt.CursorShape.ArrowCursor)

    # -- geometry -------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the photo is drawn, in widget coordinates (empty without a photo)."""
        if self._image is None:
            return QRectF()
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        size = self._image.size().toSizeF().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRectF(QPointF(0, 0), size)
        rect.moveCenter(area.center())
        return rect

    def map_to_widget(self, xy: tuple[float, float]) -> QPointF:
        """A point in photo fractions → widget coordinates."""
        rect = self.image_rect()
        return QPointF(rect.left() + xy[0] * rect.width(), rect.top() + xy[1] * rect.height())

    def map_from_widget(self, point: QPointF) -> tuple[float, float]:
        """A widget point → photo fractions, clamped to 0..1."""
        rect = self.image_rect()
        if rect.isEmpty():
            return (0.0, 0.0)
        x = (point.x() - rect.left()) / rect.width()
        y = (point.y() - rect.top()) / rect.height()
        return (min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0))

    def box_to_widget(self, box: Box) -> QRectF:
        """A box in photo fractions → widget rectangle."""
        return QRectF(self.map_to_widget(box[:2]), self.map_to_widget(box[2:])).normalized()

    def sizeHint(self) -> QSize:
        return QSize(360, 270)

    # -- painting -------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._image is None:
            self._paint_placeholder(painter)
            return
        stage = self.palette().color(QPalette.ColorRole.Window).darker(108)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(stage)
        painter.drawRoundedRect(QRectF(self.rect()), 8, 8)  # a lightbox behind the photo
        rect = self.image_rect()
        painter.drawPixmap(rect.topLeft(), self._pixmap_for(self._image, rect))
        if self._region is not None:
            self._paint_region(painter, self.box_to_widget(self._region), rect)
        for highlight in self._highlights:
            self._paint_box(painter, highlight)
        placed: list[QRectF] = []  # badges go on top of every box, side by side where they meet
        for highlight in self._highlights:
            if highlight.label:
                self._paint_label(painter, highlight, placed)
        if self._drag_from is not None and self._drag_to is not None:
            band = QRectF(self._drag_from, self._drag_to).normalized()
            self._paint_region(painter, band, rect)

    def _pixmap_for(self, image: QImage, rect: QRectF) -> QPixmap:
        ratio = self.devicePixelRatioF()
        size = QSize(round(rect.width() * ratio), round(rect.height() * ratio))
        if self._scaled is None or self._scaled.size() != size:
            scaled = image.scaled(
                size,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._scaled = QPixmap.fromImage(scaled)
            self._scaled.setDevicePixelRatio(ratio)
        return self._scaled

    def _paint_placeholder(self, painter: QPainter) -> None:
        """The dashed frame and the text, drawn once per size, text and palette into a pixmap
        (an antialiased dashed outline costs ~1 ms a paint, and the empty views are painted
        again at every new search, beside the search itself)."""
        palette = self.palette()
        mid = palette.color(QPalette.ColorRole.Mid)
        ink = palette.color(QPalette.ColorRole.PlaceholderText)
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, self._placeholder, mid.rgba(), ink.rgba(),
               self.font().key())  # fmt: skip
        if self._placeholder_pixmap is None or self._placeholder_pixmap[0] != key:
            pixmap = QPixmap(QSize(round(self.width() * ratio), round(self.height() * ratio)))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            inner = QPainter(pixmap)
            inner.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            inner.setFont(self.font())
            frame = QRectF(self.rect()).adjusted(8, 8, -8, -8)
            inner.setPen(QPen(mid, 1.5, Qt.PenStyle.DashLine))
            inner.setBrush(Qt.BrushStyle.NoBrush)
            inner.drawRoundedRect(frame, 12, 12)
            inner.setPen(ink)
            inner.drawText(frame.adjusted(12, 12, -12, -12),
                           Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                           self._placeholder)  # fmt: skip
            inner.end()
            self._placeholder_pixmap = (key, pixmap)
        painter.drawPixmap(0, 0, self._placeholder_pixmap[1])

    def _paint_region(self, painter: QPainter, region: QRectF, image_rect: QRectF) -> None:
        shade = QPainterPath()
        shade.addRect(image_rect)
        hole = QPainterPath()
        hole.addRect(region)
        painter.fillPath(shade.subtracted(hole), QColor(0, 0, 0, 110))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor("white"), 1.5, Qt.PenStyle.DashLine))
        painter.drawRect(region)

    def _paint_box(self, painter: QPainter, highlight: Highlight) -> None:
        rect = self.box_to_widget(highlight.box)
        style = Qt.PenStyle.DashLine if highlight.dashed else Qt.PenStyle.SolidLine
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 140), 4.0, style))  # halo: visible on any photo
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(QPen(QColor(highlight.colour), 2.0, style))
        painter.drawRoundedRect(rect, 3, 3)

    def _paint_label(self, painter: QPainter, highlight: Highlight, placed: list[QRectF]) -> None:
        """A numbered tab above the box's top-left corner (inside it when there is no room
        above), moved right past tabs already ``placed`` so coinciding boxes stay readable."""
        rect, colour = self.box_to_widget(highlight.box), QColor(highlight.colour)
        font = painter.font()
        font.setBold(True)
        painter.save()
        painter.setFont(font)
        metrics = painter.fontMetrics()
        height = metrics.height() + 2
        badge = QRectF(0, 0, max(height, metrics.horizontalAdvance(highlight.label) + 8), height)
        top = rect.top() - height + 1 if rect.top() - height >= 0 else rect.top()
        badge.moveTopLeft(QPointF(max(rect.left(), 0.0), top))
        badge = self._free_spot(badge, placed)
        placed.append(badge)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("black") if colour.lightnessF() > 0.6 else QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, highlight.label)
        painter.restore()

    def _free_spot(self, badge: QRectF, placed: list[QRectF]) -> QRectF:
        """``badge`` moved sideways (right first, then left) to the nearest spot inside the
        widget that no placed badge covers; unmoved if there is none."""
        inside = QRectF(self.rect())
        step = badge.width() + 2
        for k in range(2 * len(placed) + 1):
            shift = (k + 1) // 2 * step * (1 if k % 2 else -1)
            spot = badge.translated(shift, 0)
            if inside.contains(spot) and not any(
                spot.intersects(o.adjusted(-2, 0, 2, 0)) for o in placed
            ):
                return spot
        return badge

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            pos = QPointF(event.pos())
            # the innermost box under the pointer wins (numbered boxes are drawn last)
            tips = [
                h.tip for h in self._highlights if h.tip and self.box_to_widget(h.box).contains(pos)
            ]
            if tips:
                QToolTip.showText(event.globalPos(), tips[-1], self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._scaled = None
        super().resizeEvent(event)

    # -- crop drawing ---------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (
            self._drawing_enabled
            and event.button() == Qt.MouseButton.LeftButton
            and self.image_rect().contains(event.position())
        ):
            self._drag_from = self._drag_to = event.position()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._drag_to = self._clamped(event.position())
            self.update()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is None:
            super().mouseReleaseEvent(event)
            return
        x0, y0 = self.map_from_widget(self._drag_from)
        x1, y1 = self.map_from_widget(event.position())
        self._drag_from = self._drag_to = None
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        self.update()
        if box[2] - box[0] >= MIN_CROP and box[3] - box[1] >= MIN_CROP:
            self.regionDrawn.emit(box)

    def _clamped(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        return QPointF(
            min(max(pos.x(), rect.left()), rect.right()),
            min(max(pos.y(), rect.top()), rect.bottom()),
        )
