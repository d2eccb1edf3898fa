"""The in-app photo viewer: one photo large, fitted or at 100 %, with previous/next and the
match highlights of the Search tab."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lookalike.decode.image import decode
from lookalike.gui import desktop
from lookalike.gui.images import rgb_to_qimage
from lookalike.gui.region_overlay import Highlight, RegionOverlay
from lookalike.gui.results_model import PhotoItem
from lookalike.gui.workers import Failure, TaskRunner

log = logging.getLogger(__name__)

VIEWER_SIDE = 8192
"""Longest side the viewer decodes to (pixels); bigger photos are shown at this size."""
ZOOM_STEPS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
"""Zoom levels of Ctrl++ / Ctrl+- (1.0 = one photo pixel per screen pixel)."""

CANVAS_MARGIN = 4
"""Pixels that ``RegionOverlay`` leaves around the photo on each side."""

HighlightSource = Callable[[PhotoItem], list[Highlight] | None]


class PhotoViewer(QWidget):
    """Shows one photo of a list (search results or an album) at a time.

    Keys: Escape or Space go back, Left/Right (and PageUp/PageDown) previous/next, F fit,
    1 100 %, Ctrl++ / Ctrl+- zoom, H highlights. Dragging pans a zoomed photo; double-click
    switches between fit and 100 %. Photos are decoded on ``runner`` (off the GUI thread).

    Signals:
        closed(): the user went back (Escape).
        currentChanged(int): the row shown now (in the list given to :meth:`show_items`).
        loaded(object): the photo of this ``PhotoItem`` is on screen (or could not be read).
    """

    closed = Signal()
    currentChanged = Signal(int)
    loaded = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoViewer")
        self._runner = runner
        self._items: list[PhotoItem] = []
        self._row = -1
        self._token = 0
        self._zoom: float | None = None  # None: fit
        self._highlights: HighlightSource = lambda _item: None
        self.canvas = RegionOverlay(self)
        self.canvas.set_drawing_enabled(False)
        self.canvas.setAccessibleName("Photo")
        self.canvas.installEventFilter(self)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.setWidgetResizable(True)
        self._drag_from: QPoint | None = None
        self._build_bar()
        self._bind_keys()

    def _build_bar(self) -> None:
        self.caption = QLabel("")
        self.caption.setObjectName("panelTitle")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_label = QLabel("fitted")
        self.show_marks = QCheckBox("Highlights")
        self.show_marks.setToolTip("Show why this photo matches the query (H)")
        self.show_marks.setChecked(True)
        self.show_marks.toggled.connect(lambda _on: self.refresh_highlights())
        buttons = []
        for text, tip, slot in (
            ("← Back", "Back to the grid (Esc)", self.closed.emit),
            ("‹ Previous", "Previous photo (Left)", self.previous),
            ("Next ›", "Next photo (Right)", self.next),
            ("Fit", "Fit the photo in the window (F)", self.fit),
            ("100 %", "One photo pixel per screen pixel (1)", lambda: self.set_zoom(1.0)),
            ("Open in Default App", "Open with the system's photo viewer", self.open_external),
        ):
            button = QToolButton(self)
            button.setText(text)
            button.setAutoRaise(True)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            buttons.append(button)
        bar = QHBoxLayout()
        bar.addWidget(buttons[0])
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.zoom_label)
        for button in buttons[1:5]:
            bar.addWidget(button)
        bar.addWidget(self.show_marks)
        bar.addWidget(buttons[5])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(bar)
        layout.addWidget(self.scroll_area, 1)

    def _bind_keys(self) -> None:
        bindings: Sequence[tuple[tuple[str, ...], Callable[[], object]]] = (
            (("Escape", "Space", "Backspace"), self.closed.emit),
            (("Left", "PgUp"), self.previous),
            (("Right", "PgDown"), self.next),
            (("F",), self.fit),
            (("1",), lambda: self.set_zoom(1.0)),
            (("Ctrl++", "Ctrl+=", "+"), lambda: self.step_zoom(1)),
            (("Ctrl+-", "-"), lambda: self.step_zoom(-1)),
            (("H",), self.show_marks.toggle),
        )
        for keys, slot in bindings:
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)

    # -- what is shown ---------------------------------------------------------------------
    def show_items(
        self, items: Sequence[PhotoItem], row: int, highlights: HighlightSource | None = None
    ) -> None:
        """Show ``items[row]``, fitted; previous/next walk ``items``.

        Args:
            items: the photos of the grid the viewer was opened from, in its order.
            row: the one to show first.
            highlights: gives the boxes to draw over a photo, or None when there are none
                (yet); asked again on :meth:`refresh_highlights`.
        """
        self._items = list(items)
        self._highlights = highlights or (lambda _item: None)
        self._zoom = None
        self.show_row(row)
        self.setFocus()

    def current(self) -> PhotoItem | None:
        """The photo shown, or None."""
        return self._items[self._row] if 0 <= self._row < len(self._items) else None

    def row(self) -> int:
        """The row shown (-1 for none)."""
        return self._row

    def show_row(self, row: int) -> None:
        """Show the photo of ``row`` (clamped to the list)."""
        if not self._items:
            return
        self._row = max(0, min(row, len(self._items) - 1))
        item = self._items[self._row]
        self._token += 1
        token = self._token
        rank = f"#{item.rank}  " if item.rank is not None else ""
        self.caption.setText(f"{rank}{item.path.name}  ·  {self._row + 1} of {len(self._items)}")
        self.caption.setToolTip(str(item.path))
        self.canvas.set_highlights([])
        self.canvas.set_placeholder("Loading…")
        self.canvas.set_image(None)
        self.currentChanged.emit(self._row)

        def shown(image: QImage) -> None:
            if token == self._token:
                self.canvas.set_image(image)
                self._apply_zoom()
                self.refresh_highlights()
                self.loaded.emit(item)

        def unreadable(failure: Failure) -> None:
            if token == self._token:
                self.canvas.set_placeholder(f"Can't show this photo\n\n{failure.message}")
                self.loaded.emit(item)

        path = Path(item.path)
        self._runner.submit(
            lambda: rgb_to_qimage(decode(path, VIEWER_SIDE).rgb), shown, unreadable
        )

    def next(self) -> None:
        """The next photo of the list (stays at the last)."""
        if self._row < len(self._items) - 1:
            self.show_row(self._row + 1)

    def previous(self) -> None:
        """The previous photo of the list (stays at the first)."""
        if self._row > 0:
            self.show_row(self._row - 1)

    def refresh_highlights(self) -> None:
        """Ask again for the boxes of the photo shown (e.g. its match was just explained)."""
        item = self.current()
        marks = self._highlights(item) if item is not None else None
        self.canvas.set_highlights((marks or []) if self.show_marks.isChecked() else [])

    def open_external(self) -> None:
        """Hand the photo to the system's default viewer (a message if nothing opens it)."""
        item = self.current()
        if item is not None:
            desktop.open_or_explain(item.path, self)

    # -- zoom and pan ----------------------------------------------------------------------
    def zoom(self) -> float | None:
        """Screen pixels per photo pixel, or None when the photo is fitted to the window."""
        return self._zoom

    def fit(self) -> None:
        """Fit the whole photo in the window."""
        self._zoom = None
        self._apply_zoom()

    def set_zoom(self, zoom: float) -> None:
        """Show the photo at ``zoom`` screen pixels per photo pixel (1.0 = 100 %)."""
        self._zoom = max(ZOOM_STEPS[0], min(zoom, ZOOM_STEPS[-1]))
        self._apply_zoom()

    def step_zoom(self, direction: int) -> None:
        """One :data:`ZOOM_STEPS` step in (+1) or out (-1) from the zoom shown."""
        now = self._zoom if self._zoom is not None else self._fit_zoom()
        if direction > 0:
            self.set_zoom(next((z for z in ZOOM_STEPS if z > now + 1e-6), ZOOM_STEPS[-1]))
        else:
            self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < now - 1e-6), ZOOM_STEPS[0]))

    def _fit_zoom(self) -> float:
        image = self.canvas.image()
        if image is None or image.isNull():
            return 1.0
        area = self.scroll_area.viewport().size()
        return min(area.width() / image.width(), area.height() / image.height())

    def _apply_zoom(self) -> None:
        image = self.canvas.image()
        if self._zoom is None or image is None:
            self.scroll_area.setWidgetResizable(True)
            fitted = f"{self._fit_zoom():.0%} · " if image is not None else ""
            self.zoom_label.setText(f"{fitted}fitted")
            return
        ratio = self.devicePixelRatioF() or 1.0  # 100 % means device pixels
        size = QSize(round(image.width() * self._zoom / ratio) + 2 * CANVAS_MARGIN,
                     round(image.height() * self._zoom / ratio) + 2 * CANVAS_MARGIN)  # fmt: skip
        self.scroll_area.setWidgetResizable(False)
        self.canvas.resize(size)
        self.zoom_label.setText(f"{self._zoom:.0%}")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Drag to pan, double-click to switch between fit and 100 % (on the photo)."""
        if watched is self.canvas and isinstance(event, QMouseEvent):
            kind = event.type()
            if kind == QEvent.Type.MouseButtonDblClick:
                self.fit() if self._zoom is not None else self.set_zoom(1.0)
                return True
            if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
                self._drag_from = event.globalPosition().toPoint()
                return True
            if kind == QEvent.Type.MouseMove and self._drag_from is not None:
                now = event.globalPosition().toPoint()
                delta, self._drag_from = now - self._drag_from, now
                self.pan(-delta.x(), -delta.y())
                return True
            if kind == QEvent.Type.MouseButtonRelease:
                self._drag_from = None
                return True
        return super().eventFilter(watched, event)

    def pan(self, dx: int, dy: int) -> None:
        """Scroll the zoomed photo by (dx, dy) screen pixels."""
        h, v = self.scroll_area.horizontalScrollBar(), self.scroll_area.verticalScrollBar()
        h.setValue(h.value() + dx)
        v.setValue(v.value() + dy)
