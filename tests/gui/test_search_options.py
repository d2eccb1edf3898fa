"""Search options from the settings (applied without a restart) and learning from the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from tests.fakes import write_photo
from tests.gui.scenes import SCENES, SYNC_TIMEOUT_MS, PhotoSet

from lookalike.gui.learning import describe_learned
from lookalike.gui.main_window import MainWindow
from lookalike.gui.settings_dialog import SettingsDialog
from lookalike.library import Library, SearchOptions
from lookalike.search.defaults import DBA_K
from lookalike.settings import Settings

WAIT_MS = 10_000
LEARN_TIMEOUT_MS = 30_000


def _accept_settings_with(changes: dict[str, bool]) -> None:
    """Once the settings dialog is up: tick or untick its search options and press OK."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog):
            if dialog is not None:
                dialog.close()
            return
        for name, checked in changes.items():
            dialog.search_options[name].setChecked(checked)
        dialog.accept()

    QTimer.singleShot(0, act)


def test_dialog_shows_and_returns_the_search_options(qtbot: Any) -> None:
    original = Settings(dba=True, rerank=False, rotate=False)
    dialog = SettingsDialog(original)
    qtbot.addWidget(dialog)
    boxes = dialog.search_options
    assert [boxes[n].isChecked() for n in ("dba", "rerank", "rotate")] == [True, False, False]
    assert "slower" in boxes["rotate"].toolTip() or "longer" in boxes["rotate"].toolTip()
    assert "0.1 s" in boxes["rerank"].toolTip() and "Best" in boxes["rerank"].toolTip()
    boxes["dba"].setChecked(False)
    boxes["rotate"].setChecked(True)
    edited = dialog.settings()
    assert (edited.dba, edited.rerank, edited.rotate) == (False, False, True)
    assert original.dba and not original.rotate  # a copy was edited
    assert not dialog.needs_restart(original)  # search options apply at once


def test_search_options_apply_without_a_restart(
    window: MainWindow, library: Library, tmp_path: Path, qtbot: Any
) -> None:
    window.search.set_options(False, False, False, search_again=False)
    _accept_settings_with({"dba": True, "rerank": True, "rotate": True})
    window.show_settings()
    qtbot.waitUntil(lambda: window.search.options.dba == DBA_K, timeout=WAIT_MS)
    options = window.search.options
    assert options.rerank and options.rotate
    assert not hasattr(library, "dba") and not hasattr(library, "rerank")
    assert window.statusBar().currentMessage() == "Settings saved"  # no restart asked for
    saved = Settings.load(tmp_path / "settings.json")
    assert (saved.dba, saved.rerank, saved.rotate) == (True, True, True)

    _accept_settings_with({"dba": False, "rerank": False, "rotate": False})
    window.show_settings()
    qtbot.waitUntil(lambda: window.search.options.dba == 0, timeout=WAIT_MS)
    assert not window.search.options.rerank and not window.search.options.rotate
    assert (window.settings.dba, window.settings.rerank, window.settings.rotate) == (
        False,
        False,
        False,
    )


def test_the_rotate_setting_reaches_the_search(
    indexed: MainWindow, photos: PhotoSet, tmp_path: Path, qtbot: Any, monkeypatch: Any
) -> None:
    library, page, seed = indexed.library, indexed.search, SCENES[1]
    asked: list[SearchOptions] = []
    search = library.search

    def spy(image: Any, options: SearchOptions, **kwargs: Any) -> Any:
        asked.append(options)
        return search(image, options, **kwargs)

    monkeypatch.setattr(library, "search", spy)
    with Image.open(photos.query[seed]) as im:
        sideways = tmp_path / "sideways.png"
        Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(im.convert("RGB"))))).save(
            sideways
        )
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.search_file(sideways)
    assert asked[-1].rotate is False
    upright = {item.path for item in page.model.items()[:3]}
    assert not upright & set(photos.scenes[seed])  # turned, the scene is not recognised
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):  # changing it searches again
        indexed.apply_search_settings(Settings(rotate=True))
    assert asked[-1].rotate is True
    top = [item.path for item in page.model.items()[:3]]
    assert sorted(top) == sorted(photos.scenes[seed])


def _write_pairs(folder: Path, scenes: int) -> None:
    """``scenes`` scenes, each photographed twice (whole, and cropped and resized)."""
    for s in range(scenes):
        write_photo(folder / f"{s}_a.png", s)
        write_photo(folder / f"{s}_b.png", s, crop=(0.05, 0.05, 0.95, 0.95), scale=0.8)


def _index(window: MainWindow, folder: Path, count: int, qtbot: Any) -> None:
    with qtbot.waitSignal(
        window.syncEnded,
        timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):
        window.add_folder(folder)
    with qtbot.waitSignal(
        window.statusRefreshed,
        timeout=WAIT_MS,
        check_params_cb=lambda s: s.indexed == count and s.pending == 0,
    ):
        window.request_status()


def test_learning_from_the_library_and_forgetting_it(
    window: MainWindow, library: Library, tmp_path: Path, qtbot: Any
) -> None:
    _write_pairs(tmp_path / "Pairs", 22)
    _index(window, tmp_path / "Pairs", 44, qtbot)
    learn, forget, learning = window.commands.learn, window.commands.forget, window.learning
    assert learn.isEnabled() and not forget.isEnabled()
    learn.trigger()
    assert learning.is_busy() and not learn.isEnabled()
    assert learning.busy_widget.isVisibleTo(window)
    qtbot.waitUntil(lambda: not learning.is_busy(), timeout=LEARN_TIMEOUT_MS)
    info = library.status().whitening
    assert info is not None and info.photos == 44 and info.pairs >= 20
    box = learning.message_box
    assert box is not None and box.text() == describe_learned(info)
    assert box.text().startswith("Learned from 44 photos (")
    assert box.icon() == QMessageBox.Icon.Information
    assert forget.isEnabled() and learn.isEnabled()
    assert not learning.busy_widget.isVisibleTo(window)
    qtbot.waitUntil(
        lambda: "tuned to this library" in window.index_status.message.text(), timeout=WAIT_MS
    )
    assert "44 photos" in window.index_status.message.toolTip()
    box.close()

    forget.trigger()
    assert not forget.isEnabled()
    qtbot.waitUntil(lambda: not learning.is_busy(), timeout=LEARN_TIMEOUT_MS)
    assert library.status().whitening is None and not forget.isEnabled()
    qtbot.waitUntil(lambda: "tuned" not in window.index_status.message.text(), timeout=WAIT_MS)


def test_learning_from_a_small_library_says_why_it_cannot(
    indexed: MainWindow, library: Library, qtbot: Any
) -> None:
    learning = indexed.learning
    indexed.commands.learn.trigger()
    qtbot.waitUntil(lambda: not learning.is_busy(), timeout=LEARN_TIMEOUT_MS)
    box = learning.message_box
    assert box is not None and box.icon() == QMessageBox.Icon.Warning
    assert box.text().startswith("Not enough similar photos to learn from yet")
    assert "at least 20" in box.text()
    assert library.status().whitening is None
    assert not indexed.commands.forget.isEnabled() and indexed.commands.learn.isEnabled()
    box.close()


def test_threads_apply_without_a_restart(
    window: MainWindow, library: Library, embedder: Any, tmp_path: Path, qtbot: Any
) -> None:
    """Threads reach the library's embedder at once; the dialog asks for no restart."""
    asked: list[int] = []
    embedder.set_threads = lambda n: asked.append(n) or True  # the real one: test_model.py
    dialog = SettingsDialog(Settings(threads=0))
    qtbot.addWidget(dialog)
    dialog.threads.setValue(3)
    assert not dialog.needs_restart(Settings(threads=0))

    def act() -> None:
        shown = QApplication.activeModalWidget()
        if isinstance(shown, SettingsDialog):
            shown.threads.setValue(3)
            shown.accept()

    QTimer.singleShot(0, act)
    window.show_settings()
    qtbot.waitUntil(lambda: asked == [3], timeout=WAIT_MS)
    assert window.settings.threads == 3
    assert window.statusBar().currentMessage() == "Settings saved"  # no restart asked for
    assert Settings.load(tmp_path / "settings.json").threads == 3
