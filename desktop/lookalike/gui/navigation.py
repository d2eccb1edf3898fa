"""Moving around the window: the photo viewer opened from a grid, and back/forward through
searches (menu, Alt+Left/Right, toolbar, the mouse's back and forward buttons)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from lookalike.gui.region_overlay import Highlight
from lookalike.gui.results_model import PhotoItem, ResultsModel
from lookalike.gui.results_view import ResultsView

if TYPE_CHECKING:
    from lookalike.gui.main_window import MainWindow

log = logging.getLogger(__name__)


class Navigation(QObject):
    """Connects the main window's grids, viewer and back/forward actions.

    The window is passed in and must have ``pages`` (a stack of ``splitter`` and ``viewer``),
    ``tabs``, ``search`` (the Search tab), ``albums`` and ``commands`` (its actions).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._w = window
        self._viewing: ResultsView | None = None
        for grid in (window.search.results, window.albums.grid):
            grid.viewRequested.connect(lambda row, grid=grid: self.view_photos(grid, row))
        window.viewer.closed.connect(self.close_viewer)
        window.viewer.currentChanged.connect(self._on_viewer_row)
        window.search.match_view.highlightsShown.connect(
            lambda _n: window.viewer.refresh_highlights()
        )
        window.search.historyChanged.connect(self._update_actions)
        window.commands.back.triggered.connect(self.search_back)
        window.commands.forward.triggered.connect(self.search_forward)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # mouse back/forward buttons

    def shutdown(self) -> None:
        """Stop listening to the application's mouse events (the window is closing)."""
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    # -- the viewer -----------------------------------------------------------------------
    def view_photos(self, grid: ResultsView, row: int) -> None:
        """Show ``row`` of a grid (results or album) in the viewer; Escape comes back."""
        w = self._w
        highlights = self._result_highlights if grid is w.search.results else None
        self._viewing = grid
        w.pages.setCurrentWidget(w.viewer)
        w.viewer.show_items(cast(ResultsModel, grid.model()).items(), row, highlights)

    def viewing(self) -> bool:
        """Whether the viewer is shown."""
        return bool(self._w.pages.currentWidget() is self._w.viewer)

    def close_viewer(self) -> None:
        """Back from the viewer to the grid it was opened from."""
        self._w.pages.setCurrentWidget(self._w.splitter)
        if self._viewing is not None:
            self._viewing.setFocus()
        self._viewing = None

    def _on_viewer_row(self, row: int) -> None:
        if self._viewing is not None:  # the grid follows, so the match view explains it
            self._viewing.setCurrentIndex(self._viewing.model().index(row, 0))

    def _result_highlights(self, item: PhotoItem) -> list[Highlight] | None:
        """The match view's boxes over ``item``, once it explains that result."""
        match_view = self._w.search.match_view
        detail = match_view.detail()
        if detail is None or detail.item.photo_id != item.photo_id:
            return None
        highlights: list[Highlight] = match_view.result_canvas.highlights()
        return highlights

    # -- history --------------------------------------------------------------------------
    def search_back(self) -> bool:
        """Alt+Left: the previous search (query, crop and results); False at the first."""
        self.close_viewer()
        self._w.tabs.setCurrentWidget(self._w.search)
        return bool(self._w.search.go_back())

    def search_forward(self) -> bool:
        """Alt+Right: the search left by going back; False at the last."""
        self.close_viewer()
        self._w.tabs.setCurrentWidget(self._w.search)
        return bool(self._w.search.go_forward())

    def _update_actions(self) -> None:
        history = self._w.search.history
        self._w.commands.back.setEnabled(history.can_go_back())
        self._w.commands.forward.setEnabled(history.can_go_forward())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The mouse's back and forward buttons step through searches, over any widget of
        the window."""
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            button = event.button()
            if button in (Qt.MouseButton.BackButton, Qt.MouseButton.ForwardButton) and (
                isinstance(watched, QWidget) and watched.window() is self._w
            ):
                if button == Qt.MouseButton.BackButton:
                    self.search_back()
                else:
                    self.search_forward()
                return True
        return super().eventFilter(watched, event)
