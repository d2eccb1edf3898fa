"""Case 5: damaged catalog pages are found at open, kept aside, rebuilt, and said so."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pytest
from tests.faults.store_helpers import indexed_library, lookalike, smash_page

from lookalike.store.catalog import Catalog
from lookalike.types import locals_to_bytes


@pytest.mark.parametrize("table", ["photos", "vectors"])
def test_a_damaged_catalog_page_is_set_aside_and_rebuilt(
    tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    home, root, photos = indexed_library(tmp_path)
    catalog = home / "catalog.sqlite"
    smash_page(catalog, table)
    capsys.readouterr()
    # any command: found at open (quick_check), not as a traceback or at search time
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    assert "Traceback" not in capsys.readouterr().err
    assert "The library's catalog was damaged" in caplog.text
    [aside] = home.glob("catalog.sqlite.damaged-*")
    assert aside.stat().st_size > 0  # kept, never deleted
    # rebuilt from the photos: nothing lost, nothing duplicated
    assert lookalike("--library", home, "index", root) == 0
    capsys.readouterr()
    assert lookalike("--library", home, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["indexed"], status["pending"], status["index_size"]) == (len(photos), 0,
                                                                             len(photos))
    assert lookalike("--library", home, "check") == 0


def test_damaged_local_features_are_caught_by_their_checksum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    home, _root, photos = indexed_library(tmp_path, 4)
    rng = np.random.default_rng(0)
    desc = rng.standard_normal((32, 64)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    rows = np.hstack([rng.uniform(0, 1, (32, 2)).astype(np.float32), desc]).astype(np.float16)
    with Catalog.open(home / "catalog.sqlite") as cat:
        photo = cat.get_photo(photos[0].resolve())
        assert photo is not None
        vector, peaks = cat.vector(photo.id)  # type: ignore[misc]
        blob = locals_to_bytes(rows)
        cat.set_indexed(photo.id, cat.get_meta("model_id") or "", vector, peaks, blob)
    conn = sqlite3.connect(home / "catalog.sqlite")  # garbage in the blob, CRC untouched
    damaged = blob[:40] + bytes(64) + blob[104:]
    conn.execute("UPDATE vectors SET locals = ? WHERE photo_id = ?", (damaged, photo.id))
    conn.commit()
    conn.close()
    assert zlib.crc32(damaged) != zlib.crc32(blob)
    with Catalog.open(home / "catalog.sqlite") as cat:
        assert cat.locals_of([photo.id]) == {}  # never used for scores
    assert "stored local features are damaged" in caplog.text
    capsys.readouterr()
    assert lookalike("--library", home, "check", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert "1 photos' stored local features failed their checksum" in report["found"]
    assert lookalike("--library", home, "index", photos[0].parent) == 0  # re-embedded
    assert lookalike("--library", home, "check") == 0


@pytest.mark.gui
def test_the_window_says_when_the_catalog_cannot_be_opened(
    tmp_path: Path, qtbot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    home = tmp_path / "lib"
    home.mkdir()
    conn = sqlite3.connect(home / "catalog.sqlite")
    conn.execute("PRAGMA user_version = 99")  # a newer Lookalike's: not ours to rebuild
    conn.close()
    shown: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, read_and_close)
            return
        shown.append(f"{box.text()} {box.informativeText()}")
        box.accept()

    QTimer.singleShot(0, read_and_close)
    assert lookalike("--library", home, "gui") == 1
    assert shown and "could not be opened" in shown[0] and "newer Lookalike" in shown[0]


@pytest.mark.gui
def test_the_window_shows_what_opening_repaired(qtbot: object) -> None:
    from PySide6.QtWidgets import QMainWindow

    from lookalike.gui.app import show_notes

    window = QMainWindow()
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    window.show()
    assert show_notes(window, []) is None  # type: ignore[arg-type]
    box = show_notes(window, ["The library's catalog was damaged (x). It was kept ..."])  # type: ignore[arg-type]
    assert box is not None and box.isVisible()  # over the window, not blocking it
    assert "catalog was damaged" in box.informativeText()
    box.close()
