"""Icons: the app icon and palette-tinted action icons from ``resources/icons``."""

from __future__ import annotations

import logging
from functools import cache

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QIconEngine, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QToolButton, QWidget

from lookalike import paths

log = logging.getLogger(__name__)

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

THEME_NAMES = {
    "open": "document-open",
    "paste": "edit-paste",
    "folder-add": "folder-new",
    "folder": "folder",
    "remove": "list-remove",
    "add": "list-add",
    "pause": "media-playback-pause",
    "resume": "media-playback-start",
    "rescan": "view-refresh",
    "settings": "preferences-system",
    "find-similar": "edit-find",
    "back": "go-previous",
    "forward": "go-next",
}
"""freedesktop icon names preferred over our own where the desktop has an icon theme."""


def app_icon() -> QIcon:
    """The Lookalike icon at every shipped size."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        png = paths.resource("icons", f"lookalike-{size}.png")
        if png.exists():
            icon.addFile(str(png), QSize(size, size))
    if icon.isNull():
        icon.addFile(str(paths.resource("icons", "lookalike.svg")))
    return icon


def action_icon(name: str) -> QIcon:
    """An action icon: the desktop theme's if it has one, else ours tinted to the palette.

    Ours are drawn on demand at whatever size and device-pixel ratio is asked for, so they are
    sharp on every display and cost nothing until shown.

    Args:
        name: file stem in ``resources/icons/actions`` ("open", "pause", ...).
    """
    themed = THEME_NAMES.get(name)
    if themed and QIcon.hasThemeIcon(themed):
        return QIcon.fromTheme(themed)
    palette = QApplication.palette()
    normal = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    return QIcon(_TintedSvgEngine(name, normal.name(QColor.NameFormat.HexArgb), disabled.name()))


@cache
def _renderer(name: str) -> QSvgRenderer:
    renderer = QSvgRenderer(str(paths.resource("icons", "actions", f"{name}.svg")))
    if not renderer.isValid():
        log.warning("icon %s is missing or invalid", name)
    return renderer


class _TintedSvgEngine(QIconEngine):
    """Renders a monochrome SVG in the palette's text colour (or its disabled colour)."""

    def __init__(self, name: str, colour: str, disabled: str) -> None:
        super().__init__()
        self._name, self._colour, self._disabled = name, colour, disabled
        self._pixmaps: dict[tuple[int, int, bool], QPixmap] = {}

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        dimmed = mode == QIcon.Mode.Disabled
        key = (size.width(), size.height(), dimmed)
        if key not in self._pixmaps:
            self._pixmaps[key] = _render(
                self._name, size, self._disabled if dimmed else self._colour
            )
        return self._pixmaps[key]

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        size = QSize(round(rect.width() * ratio), round(rect.height() * ratio))
        pixmap = self.pixmap(size, mode, state)
        painter.drawPixmap(rect, pixmap)

    def clone(self) -> QIconEngine:
        return _TintedSvgEngine(self._name, self._colour, self._disabled)


def _render(name: str, size: QSize, colour: str) -> QPixmap:
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(name).render(painter, QRectF(0, 0, size.width(), size.height()))
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(image.rect(), QColor(colour))
    painter.end()
    return QPixmap.fromImage(image)


def tool_button(parent: QWidget, icon: str, tip: str, slot: object) -> QToolButton:
    """A flat icon button with a tooltip, wired to ``slot``."""
    button = QToolButton(parent)
    button.setIcon(action_icon(icon))
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.clicked.connect(slot)
    return button
