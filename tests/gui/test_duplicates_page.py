"""The Duplicates page over a real library (real default model): groups, reference folders,
Move to trash and Undo against a freedesktop.org trash under a temporary HOME."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from tests.duplicate_photos import make_library, temporary_trash

from lookalike.embed.model import Embedder
from lookalike.gui import app as gui_app
from lookalike.gui.main_window import MainWindow
from lookalike.library import Library, duplicates
from lookalike.library.duplicates import DuplicateFinder
from lookalike.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="freedesktop.org trash"),
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.from_preset("balanced", threads=2)


@pytest.fixture
def setup(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, qtbot: object
          ) -> Iterator[tuple[MainWindow, dict[str, Path], Path]]:  # fmt: skip
    photos = make_library(tmp_path / "photos")
    with temporary_trash(tmp_path / "user", monkeypatch) as trash:
        library = Library.open(tmp_path / "home", embedder)
        library.add_root(tmp_path / "photos")
        assert list(library.sync())[-1].phase == "done"
        library.duplicates().store.set_reference_folders([photos["small"].parent])
        gui_app.application()
        state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        win = MainWindow(library, Settings(), tmp_path / "settings.json", state)
        qtbot.addWidget(win)  # type: ignore[attr-defined]
        win.show()
        yield win, photos, trash
        win.shutdown()
        library.close()


def _open_page(win: MainWindow, qtbot: object) -> int:
    with qtbot.waitSignal(win.duplicates.loaded, timeout=TIMEOUT_MS) as blocker:  # type: ignore[attr-defined]
        win.tabs.setCurrentWidget(win.duplicates)
    return int(blocker.args[0])


def test_remove_one_photo_of_a_group_and_undo(
    setup: tuple[MainWindow, dict[str, Path], Path], qtbot: object
) -> None:
    win, photos, trash = setup
    page = win.duplicates
    assert _open_page(win, qtbot) == 2
    assert {g.kind for g in page.model.groups} == {"copy", "burst"}

    page._boxes[photos["burst2"]].setChecked(True)
    assert page.model.marked() == [photos["burst2"]]
    assert page.trash_button.isEnabled() and page.trash_button.text().startswith("Move 1 ")
    with qtbot.waitSignals([page.trashed, page.loaded], timeout=TIMEOUT_MS,  # type: ignore[attr-defined]
                           order="strict"):
        page.trash_button.click()
    assert not photos["burst2"].exists()
    assert [p.name for p in (trash / "files").iterdir()] == ["burst_2.jpg"]
    assert [g.kind for g in page.model.groups] == ["copy"]  # the burst is one photo now
    assert page.undo_button.isEnabled()

    with qtbot.waitSignals([page.restored, page.loaded], timeout=TIMEOUT_MS,  # type: ignore[attr-defined]
                           order="strict"):
        page.undo_button.click()
    assert photos["burst2"].exists() and not list((trash / "files").iterdir())
    assert {g.kind for g in page.model.groups} == {"copy", "burst"}
    assert "Restored 1 photo." in page.status.text()


def test_reference_folder_photos_are_never_offered(
    setup: tuple[MainWindow, dict[str, Path], Path], qtbot: object
) -> None:
    win, photos, _trash = setup
    page = win.duplicates
    _open_page(win, qtbot)
    copy = next(g for g in page.model.groups if g.kind == "copy")
    refs = {p.path for p in copy.photos if p.reference}
    assert refs == {photos["small"], photos["crop"]}
    assert copy.keep.path == photos["small"] or copy.keep.path == photos["crop"]
    assert not refs & set(page._boxes)  # no Remove box for them
    page.suggest_all.click()
    assert not refs & set(page.model.marked())
    assert photos["original"] in page.model.marked()
    page.model.set_marked(copy.photos[0], True)
    assert copy.photos[0].path not in page.model.marked()


@pytest.fixture
def chunked(setup: tuple[MainWindow, dict[str, Path], Path], monkeypatch: pytest.MonkeyPatch
            ) -> MainWindow:  # fmt: skip
    """The window, its finder checking 2 photos a chunk (7 photos: four chunks, four
    progress reports)."""
    monkeypatch.setattr(duplicates, "CHUNK", 2)
    return setup[0]


def test_finding_shows_its_progress_and_never_holds_up_the_library_runner(
    chunked: MainWindow, qtbot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, page = chunked, chunked.duplicates
    release = threading.Event()
    update = DuplicateFinder.update

    def held(self: DuplicateFinder, *args: Any) -> int:
        assert release.wait(TIMEOUT_MS / 1000)
        return update(self, *args)

    monkeypatch.setattr(DuplicateFinder, "update", held)
    seen: list[tuple[int, int, str]] = []
    page.checking.connect(lambda done, total: seen.append((done, total, page.status.text())))
    win.tabs.setCurrentWidget(page)  # finding starts, and waits
    # meanwhile a library call on the window's runner (searches, trash) is answered
    with qtbot.waitCallback(timeout=TIMEOUT_MS) as answered:  # type: ignore[attr-defined]
        win.runner.submit(win.library.roots, answered, lambda failure: None)
    assert answered.args and not seen and not release.is_set()
    with qtbot.waitSignal(page.loaded, timeout=TIMEOUT_MS) as blocker:  # type: ignore[attr-defined]
        release.set()
    assert blocker.args == [2]
    assert [(done, total) for done, total, _ in seen] == [(2, 7), (4, 7), (6, 7), (7, 7)]
    assert seen[0][2] == "Looking for copies and bursts… 2 of 7 photos checked"


def test_closing_the_window_stops_finding_after_its_chunk(
    chunked: MainWindow, qtbot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    win, page = chunked, chunked.duplicates
    stored = threading.Event()
    page.checking.connect(lambda done, total: stored.set())
    store = DuplicateFinder._store

    def slow(self: DuplicateFinder, *args: Any) -> None:
        store(self, *args)
        win.duplicates._stop.wait(TIMEOUT_MS / 1000)  # each chunk waits until the window closes

    monkeypatch.setattr(DuplicateFinder, "_store", slow)
    win.tabs.setCurrentWidget(page)
    qtbot.waitUntil(stored.is_set, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    assert page.shutdown(TIMEOUT_MS)  # stops after the chunk being stored, well before 7
    checked = win.library.duplicates().store.checked()
    assert 2 <= len(checked) < 7
