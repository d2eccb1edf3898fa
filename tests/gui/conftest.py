"""Fixtures for the GUI tests: the real window over a real small library, offscreen.

The library is real (SQLite catalog + hnswlib index via ``Library.open``); only the embedder is
``tests.fakes.FakeEmbedder``, so indexing a few dozen generated photos takes well under a second.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from tests.fakes import FakeEmbedder
from tests.gui.scenes import SYNC_TIMEOUT_MS, PhotoSet, make_photos

from lookalike.gui import app as gui_app
from lookalike.gui.main_window import MainWindow
from lookalike.library import Library
from lookalike.settings import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/gui drives Qt: mark it ``gui``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def photos(tmp_path: Path) -> PhotoSet:
    """Four scenes × three photos in two subfolders, four distractors and one unreadable file."""
    return make_photos(tmp_path)


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def library(tmp_path: Path, embedder: FakeEmbedder) -> Iterator[Library]:
    lib = Library.open(tmp_path / "home", embedder)
    yield lib
    lib.close()


@pytest.fixture
def window_state(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(
    qtbot: object, qapp: QApplication, library: Library, tmp_path: Path, window_state: QSettings
) -> Iterator[MainWindow]:
    """The real main window, shown offscreen, over the (empty) library."""
    gui_app.application()  # name, icon and stylesheet on pytest-qt's QApplication
    win = MainWindow(library, Settings(), tmp_path / "settings.json", window_state)
    qtbot.addWidget(win)  # type: ignore[attr-defined]
    win.show()
    yield win
    win.shutdown()


@pytest.fixture
def indexed(window: MainWindow, photos: PhotoSet, qtbot: object) -> MainWindow:
    """The window after adding ``photos.root`` and indexing it to the end."""
    with qtbot.waitSignal(  # type: ignore[attr-defined]
        window.syncEnded,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):
        window.add_folder(photos.root)
    with qtbot.waitSignal(
        window.statusRefreshed,
        timeout=SYNC_TIMEOUT_MS,  # type: ignore[attr-defined]
        check_params_cb=lambda s: s.indexed > 0 and s.pending == 0,
    ):
        window.request_status()
    return window
