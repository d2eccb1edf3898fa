"""The real window over a real library: index, search by drop/paste/open, crop, match view."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from tests.fakes import FakeEmbedder, write_photo
from tests.gui.scenes import SCENES, SYNC_TIMEOUT_MS, PhotoSet

from lookalike.gui.library_sidebar import DetailRole
from lookalike.gui.main_window import MODEL_UPDATED, MainWindow
from lookalike.gui.results_model import PhotoItem
from lookalike.library import Library
from lookalike.settings import Settings

WAIT_MS = 10_000


def _scene_of(path: Path) -> int | None:
    """The scene seed in a generated photo's name, or None for a distractor."""
    name = Path(path).name
    return int(name[5:8]) if name.startswith("scene") else None


def _drop(window: MainWindow, mime: QMimeData) -> None:
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def _url_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_adding_a_folder_indexes_it_with_progress(
    window: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    seen: list[object] = []
    window.sync.progress.connect(seen.append)
    with qtbot.waitSignal(
        window.syncEnded,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):
        _drop(window, _url_mime(photos.root))  # dropping a folder adds it
    assert any(p.phase == "embedding" for p in seen)
    assert seen[-1].phase == "done" and seen[-1].skipped == 1
    with qtbot.waitSignal(
        window.statusRefreshed, timeout=WAIT_MS, check_params_cb=lambda s: s.pending == 0
    ):
        window.request_status()
    assert window.sidebar.roots() == [photos.root.resolve()]
    assert window.sidebar.list.item(0).text() == "Pictures"
    assert window.sidebar.list.item(0).data(DetailRole) == "16 photos · 1 unreadable"
    assert window.index_status.skipped.isVisibleTo(window)
    assert "1 unreadable" in window.index_status.skipped.text()
    assert "16 photos searchable" in window.index_status.message.text()


@pytest.mark.parametrize("seed", SCENES[:2])
def test_dropping_a_photo_finds_its_scene_and_explains_the_match(
    indexed: MainWindow, photos: PhotoSet, qtbot: object, seed: int
) -> None:
    page = indexed.search
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        _drop(indexed, _url_mime(photos.query[seed]))
    top = page.model.items()[:3]
    assert [_scene_of(item.path) for item in top] == [seed, seed, seed]
    assert top[0].rank == 1 and top[0].score is not None and top[0].score > 0.5
    shown = page.match_view.detail()
    assert shown is not None and _scene_of(shown.item.path) == seed
    numbered = [h for h in page.match_view.result_canvas.highlights() if h.label]
    assert numbered and len(numbered) == len(page.match_view.query_canvas.highlights())


def test_selecting_another_result_updates_the_match_view(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = indexed.search
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[2]])
    with qtbot.waitSignal(page.match_view.highlightsShown, timeout=WAIT_MS) as blocker:
        page.results.setCurrentIndex(page.model.index(1))
    assert blocker.args[0] >= 1
    detail = page.match_view.detail()
    assert detail is not None and detail.item == page.model.item(1)
    assert page.match_view.result_canvas.image() is not None
    page.match_view.set_lines_visible(True)
    assert page.match_view.lines_visible()
    indexed.grab()  # paints boxes, badges and lines without error


def test_cropping_the_query_searches_the_region(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = indexed.search
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[0]])
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS) as blocker:
        page.query_view.set_crop((0.1, 0.1, 0.7, 0.8))
    assert blocker.args[0] > 0
    assert "selected region" in page.query_view.caption()
    cropped = page.query_view.cropped_image()
    assert cropped is not None and cropped.width() < page.query_view.image().width()
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        page.query_view.clear_crop()
    assert page.query_view.crop() is None


def test_drawing_a_rectangle_on_the_query_sets_the_crop(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = indexed.search
    canvas = page.query_view.canvas
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[1]])
    rect = canvas.image_rect()
    press = QPointF(rect.left() + rect.width() / 4, rect.top() + rect.height() / 4).toPoint()
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=press)
        qtbot.mouseMove(canvas, pos=rect.center().toPoint())
        qtbot.mouseRelease(
            canvas, Qt.MouseButton.LeftButton, pos=rect.bottomRight().toPoint() + QPoint(5, 5)
        )
    x0, y0, x1, y1 = page.query_view.crop()
    assert 0.2 < x0 < 0.3 and 0.2 < y0 < 0.3 and x1 > 0.95 and y1 > 0.95


def test_paste_a_path_or_an_image(indexed: MainWindow, photos: PhotoSet, qtbot: object) -> None:
    page = indexed.search
    clipboard = QGuiApplication.clipboard()
    clipboard.setText(str(photos.query[SCENES[3]]))
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.commands.paste.trigger()
    assert _scene_of(page.model.item(0).path) == SCENES[3]

    image = QImage(str(photos.query[SCENES[1]]))
    clipboard.setImage(image)
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.paste()
    assert page.query().name == "Pasted image"
    assert _scene_of(page.model.item(0).path) == SCENES[1]


def test_paste_without_a_photo_says_so(window: MainWindow) -> None:
    QGuiApplication.clipboard().setText("just some words")
    window.paste()
    assert "no photo" in window.statusBar().currentMessage()


def test_find_similar_from_a_result(indexed: MainWindow, photos: PhotoSet, qtbot: object) -> None:
    page = indexed.search
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[0]])
    item: PhotoItem = page.model.item(0)
    menu = page.results.menu_for(item)
    assert [a.text() for a in menu.actions() if a.text()] == [
        "View",
        "Open in Default App",
        "Show in Folder",
        "Copy Path",
        "Find Similar to This",
    ]
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        next(a for a in menu.actions() if a.text() == "Find Similar to This").trigger()
    assert page.query().photo_id == item.photo_id
    assert item.photo_id not in {it.photo_id for it in page.model.items()}  # never itself
    assert _scene_of(page.model.item(0).path) == SCENES[0]
    page.results.setCurrentIndex(page.model.index(0))
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.commands.find_similar.trigger()  # Ctrl+F


def test_copy_path_puts_the_path_on_the_clipboard(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    page = indexed.search
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[0]])
    item = page.model.item(0)
    next(a for a in page.results.menu_for(item).actions() if a.text() == "Copy Path").trigger()
    assert QGuiApplication.clipboard().text() == str(item.path)


def test_removing_the_folder_empties_the_sidebar(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    with qtbot.waitSignal(
        indexed.statusRefreshed, timeout=WAIT_MS, check_params_cb=lambda s: not s.roots
    ):
        indexed.remove_folder(photos.root.resolve(), confirm=False)
    assert indexed.sidebar.roots() == []
    assert indexed.sidebar._empty.isVisibleTo(indexed)


def test_unreadable_files_are_listed_with_reasons(indexed: MainWindow, photos: PhotoSet) -> None:
    assert indexed.index_status.skipped.isVisibleTo(indexed)
    dialog = indexed.show_skipped()
    assert dialog.paths() == [photos.unreadable.resolve()]
    assert dialog.table.item(0, 1).text()  # a reason is given
    dialog.copy_list()
    assert str(photos.unreadable.resolve()) in QGuiApplication.clipboard().text()
    dialog.close()


def test_albums_browse_folders_and_find_similar(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    albums = indexed.albums
    with qtbot.waitSignal(albums.photosShown, timeout=WAIT_MS) as blocker:
        indexed.browse_folder(photos.root.resolve() / "trip")
    assert blocker.args[0] == 6
    assert indexed.tabs.currentWidget() is albums
    assert albums.tree.model().rowCount() == 1  # one root, its subfolders below it
    albums.grid.setCurrentIndex(albums.model.index(0))
    with qtbot.waitSignal(indexed.search.resultsShown, timeout=WAIT_MS):
        indexed.find_similar_to_selected()
    assert indexed.tabs.currentWidget() is indexed.search


def start_slow_indexing(
    window: MainWindow, photos: PhotoSet, embedder: object, qtbot: object
) -> None:
    """Add the photo folder with a slowed-down embedder; return once embedding has begun."""
    embedder.delay_s = 0.02  # type: ignore[attr-defined]
    window.sync.batch = 4
    with qtbot.waitSignal(  # type: ignore[attr-defined]
        window.sync.progress,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda p: p.phase == "embedding",
    ):
        window.add_folder(photos.root)


def test_pause_and_resume_indexing(
    window: MainWindow, photos: PhotoSet, embedder: object, qtbot: object
) -> None:
    start_slow_indexing(window, photos, embedder, qtbot)
    with qtbot.waitSignal(window.syncEnded, timeout=SYNC_TIMEOUT_MS) as blocker:
        window.index_status.pause.click()
    assert blocker.args[0].phase == "cancelled"
    assert window.index_status.pause.text() == "Resume"
    with qtbot.waitSignal(
        window.syncEnded, timeout=SYNC_TIMEOUT_MS, check_params_cb=lambda last: last.phase == "done"
    ):
        window.index_status.pause.click()
    assert window.index_status.pause.text() == "Resume" or not window.index_status.pause.isVisible()


def test_closing_during_indexing_saves_and_next_start_resumes(
    window: MainWindow,
    library: Library,
    photos: PhotoSet,
    embedder: object,
    tmp_path: Path,
    qtbot: object,
) -> None:
    start_slow_indexing(window, photos, embedder, qtbot)
    window.close()
    assert not window.sync.is_running()
    reopened = Library.open(tmp_path / "home", embedder)  # type: ignore[arg-type]
    try:
        status = reopened.status()
        assert status.indexed > 0 and status.pending > 0
        embedder.reset()  # type: ignore[attr-defined]
        list(reopened.sync())
        assert embedder.calls == status.pending  # type: ignore[attr-defined]
    finally:
        reopened.close()


def test_window_remembers_its_geometry(
    window: MainWindow, library: Library, window_state: object, tmp_path: Path, qtbot: object
) -> None:
    assert window.windowTitle() == "Lookalike" and not window.windowIcon().isNull()
    window.resize(760, 520)  # within the offscreen screen (800×600)
    window.shutdown()
    again = MainWindow(library, window.settings, None, window_state)  # type: ignore[arg-type]
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (760, 520)
    again._closed = True  # the library was closed with the first window


def test_unreadable_query_shows_the_reason(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    with qtbot.waitSignal(indexed.search.failed, timeout=WAIT_MS) as blocker:
        indexed.search_file(photos.unreadable)
    assert blocker.args[0].known
    assert "broken.jpg" in indexed.statusBar().currentMessage()


def test_new_photos_show_up_live_after_the_first_sync(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    assert indexed.library_sync._watch is not None  # watching starts once the first sync is done
    with qtbot.waitSignal(
        indexed.statusRefreshed,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda s: s.indexed == 17 and s.pending == 0,
    ):
        write_photo(photos.root / "new" / "arrived.jpg", 555, size=(320, 240))
    assert indexed.sidebar.list.item(0).data(DetailRole).startswith("17 photos")


def test_f5_rescans(indexed: MainWindow, photos: PhotoSet, qtbot: object) -> None:
    (photos.root / "misc" / "other_900.jpg").unlink()
    with qtbot.waitSignal(
        indexed.syncEnded,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):
        indexed.commands.rescan.trigger()
    with qtbot.waitSignal(
        indexed.statusRefreshed, timeout=WAIT_MS, check_params_cb=lambda s: s.indexed == 15
    ):
        indexed.request_status()


def test_a_library_from_an_older_model_says_why_it_is_indexed_again(
    qtbot: object, qapp: object, tmp_path: Path, photos: PhotoSet, window_state: QSettings
) -> None:
    first = Library.open(tmp_path / "home", FakeEmbedder())
    first.add_root(photos.root)
    list(first.sync())
    first.close()
    updated = Library.open(tmp_path / "home", FakeEmbedder(model_id="fake-2"))
    win = MainWindow(updated, Settings(), tmp_path / "settings.json", window_state)
    qtbot.addWidget(win)  # type: ignore[attr-defined]
    try:
        win.show()
        assert win.statusBar().currentMessage() == ""
        win.start()  # as the app does once the window is shown
        assert win.statusBar().currentMessage() == MODEL_UPDATED
        assert win.index_status.notice.isVisible()  # seen, not painted under the indexing line
        assert win.index_status.notice.text() == MODEL_UPDATED
        assert "embedded again" in MODEL_UPDATED
    finally:
        win.shutdown()
        updated.close()


def test_status_bar_messages_are_shown_over_the_indexing_line(window: MainWindow) -> None:
    status = window.index_status
    assert status.message.isVisible() and not status.notice.isVisible()
    QGuiApplication.clipboard().setText("just some words")
    window.paste()  # nothing to paste: says so in the status bar
    assert status.notice.isVisible() and not status.message.isVisible()
    assert "clipboard" in status.notice.text()
    window.statusBar().clearMessage()  # as the message's timeout does
    assert status.message.isVisible() and not status.notice.isVisible()
