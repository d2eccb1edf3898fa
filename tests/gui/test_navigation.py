"""The window's viewer, search history and results that follow the library (real library,
FakeEmbedder, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from tests.gui.scenes import SCENES, SYNC_TIMEOUT_MS, PhotoSet

from lookalike.gui import desktop
from lookalike.gui.main_window import MainWindow
from lookalike.gui.results_view import ResultsView

WAIT_MS = 10_000


@pytest.fixture
def searched(indexed: MainWindow, photos: PhotoSet, qtbot: object) -> MainWindow:
    """The indexed window after a search for the first scene (its best match explained)."""
    page = indexed.search
    with qtbot.waitSignals(  # type: ignore[attr-defined]
        [page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS
    ):
        indexed.search_file(photos.query[SCENES[0]])
    return indexed


def _double_click(grid: ResultsView, row: int, qtbot: object) -> None:
    """A real double-click: press, release, then the double-click event."""
    pos, left = grid.visualRect(grid.model().index(row)).center(), Qt.MouseButton.LeftButton
    qtbot.mousePress(grid.viewport(), left, pos=pos)  # type: ignore[attr-defined]
    qtbot.mouseRelease(grid.viewport(), left, pos=pos)  # type: ignore[attr-defined]
    qtbot.mouseDClick(grid.viewport(), left, pos=pos)  # type: ignore[attr-defined]


def test_double_click_opens_the_viewer_with_zoom_and_highlights(
    searched: MainWindow, qtbot: object
) -> None:
    viewer, page = searched.viewer, searched.search
    with qtbot.waitSignal(viewer.loaded, timeout=WAIT_MS) as blocker:
        _double_click(page.results, 0, qtbot)
    assert blocker.args[0] == page.model.item(0)
    assert searched.pages.currentWidget() is viewer
    assert viewer.canvas.image() is not None and viewer.zoom() is None  # fitted
    assert viewer.canvas.highlights()  # the match view's boxes, drawn over the photo
    viewer.set_zoom(1.0)
    image = viewer.canvas.image()
    assert viewer.canvas.image_rect().width() == round(image.width() / viewer.devicePixelRatioF())
    assert viewer.zoom_label.text() == "100%"
    viewer.step_zoom(1)
    assert viewer.zoom() == 2.0
    viewer.set_zoom(4.0)  # 1280 x 960: bigger than the window, so it pans
    bar = viewer.scroll_area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 100, timeout=WAIT_MS)  # type: ignore[attr-defined]
    viewer.pan(0, 100)
    assert bar.value() == 100
    viewer.fit()
    assert viewer.zoom() is None and viewer.zoom_label.text().endswith("fitted")
    searched.grab()  # paints the viewer without error


def test_viewer_next_previous_and_escape(searched: MainWindow, qtbot: object) -> None:
    viewer, page = searched.viewer, searched.search
    with qtbot.waitSignal(viewer.loaded, timeout=WAIT_MS):
        page.results.viewRequested.emit(0)
    with qtbot.waitSignal(viewer.loaded, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(viewer, Qt.Key.Key_Right)  # type: ignore[attr-defined]
    assert blocker.args[0] == page.model.item(1) and viewer.row() == 1
    assert page.results.currentIndex().row() == 1  # the grid (and the match view) follow
    with qtbot.waitSignal(viewer.loaded, timeout=WAIT_MS):
        qtbot.keyClick(viewer, Qt.Key.Key_Left)  # type: ignore[attr-defined]
    assert viewer.row() == 0
    viewer.previous()  # at the first: stays
    assert viewer.row() == 0
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)  # type: ignore[attr-defined]
    assert searched.pages.currentWidget() is searched.splitter


def test_space_in_the_grid_and_double_click_in_albums_open_the_viewer(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    albums = indexed.albums
    with qtbot.waitSignal(albums.photosShown, timeout=WAIT_MS):
        indexed.browse_folder(photos.root.resolve() / "trip")
    with qtbot.waitSignal(indexed.viewer.loaded, timeout=WAIT_MS) as blocker:
        _double_click(albums.grid, 2, qtbot)
    assert blocker.args[0] == albums.model.item(2)
    assert indexed.tabs.currentWidget() is albums  # no search was run
    assert indexed.viewer.canvas.highlights() == []  # an album photo has no match to explain
    indexed.navigation.close_viewer()
    albums.grid.setCurrentIndex(albums.model.index(1))
    with qtbot.waitSignal(indexed.viewer.loaded, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(albums.grid, Qt.Key.Key_Space)  # type: ignore[attr-defined]
    assert blocker.args[0] == albums.model.item(1)


def test_open_in_default_app_says_when_nothing_opens_it(
    searched: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desktop, "open_file", lambda _path: False)
    box = desktop.open_or_explain(searched.search.model.item(0).path, searched)
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "No application" in box.text()
    box.close()


def test_back_and_forward_restore_results_and_crop(
    searched: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page, nav = searched.search, searched.navigation
    first = page.model.items()
    assert not searched.commands.back.isEnabled()
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        page.query_view.set_crop((0.1, 0.1, 0.6, 0.7))
    cropped = page.model.items()
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        page.results.find_similar_to_current()  # a "find similar" chain
    similar_query = page.query()
    assert searched.commands.back.isEnabled()
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        assert nav.search_back()
    assert page.model.items() == cropped
    assert page.query_view.crop() == pytest.approx((0.1, 0.1, 0.6, 0.7))
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        searched.commands.back.trigger()  # Alt+Left
    assert page.model.items() == first and page.query_view.crop() is None
    assert not searched.commands.back.isEnabled() and searched.commands.forward.isEnabled()
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        assert nav.search_forward()
    assert page.model.items() == cropped
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        nav.search_forward()
    assert page.query() is similar_query and not searched.commands.forward.isEnabled()


def test_mouse_back_button_goes_back(searched: MainWindow, qtbot: object) -> None:
    page = searched.search
    first = page.model.items()
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        page.results.find_similar_to_current()
    target = page.results.viewport()
    press = QMouseEvent(
        QMouseEvent.Type.MouseButtonPress,
        QPointF(10, 10),
        target.mapToGlobal(QPointF(10, 10)),
        Qt.MouseButton.BackButton,
        Qt.MouseButton.BackButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        QApplication.sendEvent(target, press)
    assert page.model.items() == first


def test_a_deleted_photo_leaves_the_results(
    searched: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = searched.search
    victim = page.model.item(1)
    before = page.model.rowCount()
    victim.path.unlink()
    with qtbot.waitSignal(
        searched.syncEnded,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):
        searched.rescan()
    qtbot.waitUntil(lambda: page.model.rowCount() == before - 1, timeout=WAIT_MS)  # type: ignore[attr-defined]
    assert victim.photo_id not in {it.photo_id for it in page.model.items()}
    assert "left the library" in page._count.text()


def test_removing_the_folder_empties_the_results_and_the_history(
    searched: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = searched.search
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        page.results.find_similar_to_current()
    searched.remove_folder(photos.root.resolve(), confirm=False)
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=WAIT_MS)  # type: ignore[attr-defined]
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS) as blocker:
        searched.navigation.search_back()
    assert blocker.args[0] == 0  # the earlier search's results were removed too


def test_keyboard_shortcut_sheet_lists_window_and_viewer_keys(window: MainWindow) -> None:
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    texts = [what for _keys, what in rows]
    assert "Find Similar" in texts and "Back" in texts and "Keyboard Shortcuts" in texts
    assert ("Esc, Space or Backspace", "Back to the grid") in rows
    back_keys = next(keys for keys, what in rows if what == "Back")
    assert "Left" in back_keys
    dialog.close()
