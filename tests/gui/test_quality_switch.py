"""Settings -> Quality: a confirmation, then the switch runs in the background (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from tests.fakes import FakeEmbedder, TurnedEmbedder, write_library

from lookalike.gui import app as gui_app
from lookalike.gui.main_window import MainWindow
from lookalike.gui.settings_dialog import SettingsDialog
from lookalike.library import Library
from lookalike.settings import Settings

WAIT_MS = 20_000


@pytest.fixture
def switchable(tmp_path: Path, qapp: QApplication, qtbot: Any) -> Iterator[MainWindow]:
    """A window over a library of 9 photos indexed with the "balanced" fake model."""
    write_library(tmp_path / "photos", 9)
    library = Library.open(tmp_path / "home", FakeEmbedder("fake-balanced"), preset="balanced",
                           embedder_for=lambda name: TurnedEmbedder(f"fake-{name}"))  # fmt: skip
    library.add_root(tmp_path / "photos")
    list(library.sync())
    gui_app.application()
    state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    win = MainWindow(library, Settings(preset="balanced"), tmp_path / "settings.json", state)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.statusRefreshed, timeout=WAIT_MS):
        win.request_status()  # the photo count the question shows
    yield win
    win.shutdown()
    library.close()


def _choose_quality(preset: str, answer: QMessageBox.StandardButton, asked: list[str]) -> None:
    """Once the settings dialog is up: pick ``preset``, press OK, then answer the question."""

    def on_question() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            button = box.button(answer)
            assert button is not None
            button.click()

    def on_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        dialog.preset.setCurrentIndex(dialog.preset.findData(preset))
        QTimer.singleShot(0, on_question)
        dialog.accept()

    QTimer.singleShot(0, on_dialog)


def test_a_confirmed_quality_switches_in_the_background(
    switchable: MainWindow, qtbot: Any, tmp_path: Path
) -> None:
    asked: list[str] = []
    _choose_quality("fast", QMessageBox.StandardButton.Yes, asked)
    with qtbot.waitSignal(switchable.syncEnded, timeout=WAIT_MS,
                          check_params_cb=lambda last: last is not None and last.phase == "done"):
        switchable.show_settings()
    assert len(asked) == 1 and asked[0].startswith("Re-embed 9 photos with the Fast model? ")
    assert "Searches keep using the current one until it is done" in asked[0]
    assert Settings.load(tmp_path / "settings.json").preset == "fast"
    with qtbot.waitSignal(switchable.statusRefreshed, timeout=WAIT_MS,
                          check_params_cb=lambda s: s.model_id == "fake-fast"):
        switchable.request_status()
    assert switchable.library.preset == "fast"


def test_a_declined_quality_keeps_the_model(switchable: MainWindow, qtbot: Any,
                                            tmp_path: Path) -> None:  # fmt: skip
    asked: list[str] = []
    _choose_quality("fast", QMessageBox.StandardButton.No, asked)
    switchable.show_settings()
    assert len(asked) == 1
    assert Settings.load(tmp_path / "settings.json").preset == "balanced"
    status = switchable.library.status()
    assert (status.model_id, status.switch) == ("fake-balanced", None)
