"""Opening the library on a thread: the rebuild progress window, results and errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tests.fakes import FakeEmbedder, write_library

from lookalike.errors import KnownError
from lookalike.gui.opening import OpeningDialog, open_with_progress
from lookalike.library import Library


def visible_dialogs() -> list[OpeningDialog]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, OpeningDialog) and w.isVisible()]  # fmt: skip


def test_a_quick_open_shows_no_window(qtbot) -> None:
    assert open_with_progress(lambda progress: "library", show_after_ms=400) == "library"
    assert visible_dialogs() == []


def test_a_rebuild_shows_how_far_it_is_and_the_window_goes_when_done(qtbot) -> None:
    release = threading.Event()
    seen: list[str] = []

    def slow_open(progress):
        progress(0, 4000)
        progress(1000, 4000)
        release.wait(20)  # until the dialog has been seen (or the test gives up)
        progress(4000, 4000)
        return "library"

    def look() -> None:  # runs inside open_with_progress's event loop
        dialogs = visible_dialogs()
        if dialogs and "1,000 of 4,000 photos" in dialogs[0].detail_text():
            seen.append(dialogs[0].detail_text())
            dialogs[0].close()  # the user tries to close it: ignored
            seen.append("still visible" if dialogs[0].isVisible() else "closed")
            release.set()
        else:
            QTimer.singleShot(20, look)

    QTimer.singleShot(0, look)
    assert open_with_progress(slow_open, show_after_ms=0) == "library"
    assert release.is_set(), "the progress window never showed the rebuild"
    assert seen[1] == "still visible"
    QApplication.processEvents()
    assert visible_dialogs() == []


def test_an_error_while_opening_reaches_the_caller(qtbot) -> None:
    def failing(progress):
        raise KnownError("the library is open in another Lookalike")

    with pytest.raises(KnownError, match="another Lookalike"):
        open_with_progress(failing, show_after_ms=0)
    assert visible_dialogs() == []


def test_a_real_library_with_a_missing_index_reports_its_rebuild(qtbot, tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    write_library(photos, 6)
    with Library.open(home, FakeEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(photos)
        list(library.sync())
    (home / "index.hnsw").unlink()
    heard: list[tuple[int, int]] = []

    def opening(progress):
        def both(done: int, total: int) -> None:
            heard.append((done, total))
            progress(done, total)

        return Library.open(home, FakeEmbedder(), progress=both)  # type: ignore[arg-type]

    library = open_with_progress(opening, show_after_ms=0)
    try:
        assert library.status().index_size == 6
        assert heard[-1] == (6, 6)
    finally:
        library.close()
