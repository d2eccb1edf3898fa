"""The window's parts on their own: thumbnails, results model, overlay, drops, dialogs, app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QImage, QPixmapCache
from PySide6.QtWidgets import QApplication
from tests.fakes import FakeEmbedder, write_photo

from lookalike.gui import app as gui_app
from lookalike.gui.album_view import folder_counts
from lookalike.gui.drops import read_mime
from lookalike.gui.index_status import describe_progress, format_eta
from lookalike.gui.region_overlay import Highlight, RegionOverlay
from lookalike.gui.results_model import PhotoItem, ResultsModel
from lookalike.gui.results_view import ResultsView
from lookalike.gui.settings_dialog import SettingsDialog
from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.library import Library, Progress
from lookalike.settings import Settings

WAIT_MS = 10_000


@pytest.fixture
def thumbs(tmp_path: Path, qapp: QApplication) -> ThumbnailCache:
    cache = ThumbnailCache(tmp_path / "thumbs", side=64)
    yield cache
    cache.shutdown()


def test_thumbnails_load_off_thread_and_persist_on_disk(
    thumbs: ThumbnailCache, tmp_path: Path, qtbot: object
) -> None:
    photo = write_photo(tmp_path / "a.jpg", 7, size=(320, 200))
    assert thumbs.get(photo) is None  # a miss schedules a job
    with qtbot.waitSignal(thumbs.ready, timeout=WAIT_MS) as blocker:
        pass
    assert blocker.args == [str(photo)]
    pixmap = thumbs.get(photo)
    assert pixmap is not None and max(pixmap.width(), pixmap.height()) == 64
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 1
    QPixmapCache.clear()  # memory gone: the next load comes from the disk cache
    fresh = ThumbnailCache(tmp_path / "thumbs", side=64)
    with qtbot.waitSignal(fresh.ready, timeout=WAIT_MS):
        assert fresh.get(photo) is None
    assert fresh.get(photo) is not None
    fresh.shutdown()


def test_unreadable_photo_gets_a_reason_not_a_thumbnail(
    thumbs: ThumbnailCache, tmp_path: Path, qtbot: object
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with qtbot.waitSignal(thumbs.failed, timeout=WAIT_MS):
        thumbs.get(bad)
    assert thumbs.failure(bad)
    assert thumbs.get(bad) is None and thumbs.pending_count() == 0  # not retried


def test_results_model_roles_and_drag_data(
    thumbs: ThumbnailCache, tmp_path: Path, qtbot: object
) -> None:
    model = ResultsModel(thumbs)
    photo = write_photo(tmp_path / "b.jpg", 8)
    model.set_items([PhotoItem(3, photo, 0.91234, 1, "indexed"), PhotoItem(4, tmp_path / "c.jpg")])
    assert model.rowCount() == 2
    index = model.index(0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "b.jpg"
    assert "Rank 1 · score 0.912" in index.data(Qt.ItemDataRole.ToolTipRole)
    with qtbot.waitSignal(model.dataChanged, timeout=WAIT_MS):
        assert model.thumbnail(0) is None  # loads lazily
    assert model.thumbnail(0) is not None
    assert model.mimeData([index]).urls() == [QUrl.fromLocalFile(str(photo))]
    assert model.row_of(4) == 1 and model.row_of(99) == -1


def test_overlay_maps_fractions_both_ways(qtbot: object) -> None:
    overlay = RegionOverlay()
    qtbot.addWidget(overlay)
    overlay.resize(408, 208)  # 400×200 after the 4 px margin
    image = QImage(200, 200, QImage.Format.Format_RGB888)
    image.fill(QColor("teal"))
    overlay.set_image(image)
    rect = overlay.image_rect()
    assert (rect.width(), rect.height()) == (200, 200)  # letterboxed, centred
    assert overlay.map_to_widget((0.5, 0.5)) == rect.center()
    assert overlay.map_from_widget(QPointF(rect.left(), rect.bottom())) == (0.0, 1.0)
    assert overlay.map_from_widget(QPointF(-50, 9999)) == (0.0, 1.0)  # clamped
    overlay.set_highlights(
        [
            Highlight((0.1, 0.1, 0.4, 0.4), "#ff0000", "1"),
            Highlight((0.5, 0.5, 0.9, 0.9), "#ffffff", "", dashed=True),
        ]
    )
    overlay.set_region((0.2, 0.2, 0.8, 0.8))
    assert not overlay.grab().isNull()


def test_read_mime_sorts_folders_files_and_images(tmp_path: Path, qapp: QApplication) -> None:
    photo = write_photo(tmp_path / "p.jpg", 1)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path)), QUrl.fromLocalFile(str(photo))])
    content = read_mime(mime)
    assert content.folders == [tmp_path] and content.files == [photo] and content.image is None

    text = QMimeData()
    text.setText(f'"{photo}"\nnot a path\n')
    assert read_mime(text).files == [photo]
    url_text = QMimeData()
    url_text.setText(QUrl.fromLocalFile(str(photo)).toString())
    assert read_mime(url_text).files == [photo]

    pixels = QMimeData()
    image = QImage(10, 10, QImage.Format.Format_RGB888)
    image.fill(QColor("red"))
    pixels.setImageData(image)
    assert read_mime(pixels).image is not None
    assert read_mime(QMimeData()).empty()


def test_folder_counts_are_recursive(tmp_path: Path) -> None:
    root = tmp_path / "root"
    photos = [root / "a.jpg", root / "x" / "b.jpg", root / "x" / "y" / "c.jpg"]
    assert folder_counts(root, photos) == {root: 3, root / "x": 2, root / "x" / "y": 1}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0.2, "about 1 s left"),
        (42, "about 42 s left"),
        (600, "about 10 min left"),
        (3 * 3600 + 5 * 60, "about 3 h 05 min left"),
    ],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


def test_describe_progress() -> None:
    assert describe_progress(Progress("scanning", 500, 0)) == "Looking for photos…"
    line = describe_progress(Progress("embedding", 120, 247, 5.04, 25.2))
    assert line == "Indexing 120 of 247 photos · 5.0 photos/s · about 25 s left"


def test_settings_dialog_edits_a_copy(qtbot: object, tmp_path: Path) -> None:
    original = Settings(preset="balanced", threads=0, exclude=["/data/old"])
    dialog = SettingsDialog(original)
    qtbot.addWidget(dialog)
    dialog.preset.setCurrentIndex(dialog.preset.findData("fast"))
    dialog.threads.setValue(2)
    dialog.add_exclude(tmp_path)
    dialog.add_exclude(tmp_path)  # listed once
    edited = dialog.settings()
    assert (edited.preset, edited.threads) == ("fast", 2)
    assert edited.exclude == ["/data/old", str(tmp_path)]
    assert original.preset == "balanced" and original.exclude == ["/data/old"]
    assert dialog.needs_restart(original)
    assert not SettingsDialog(original).needs_restart(original)


def test_run_shows_the_window_and_returns_when_it_closes(
    qapp: QApplication,
    library: Library,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qtbot: object,
) -> None:
    monkeypatch.setattr(
        gui_app,
        "window_state",
        lambda: QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat),
    )
    shown: list[object] = []

    def close_when_shown() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        shown.extend(w.windowTitle() for w in windows)
        for w in windows:
            w.close()

    QTimer.singleShot(0, close_when_shown)
    assert gui_app.run(library, Settings(), tmp_path / "settings.json") == 0
    assert "Lookalike" in shown


def test_painting_the_grid_many_times_keeps_none_alive(
    thumbs: ThumbnailCache, tmp_path: Path, qtbot: object
) -> None:
    """PySide6 6.12 drops a reference to None/True/False per void call on Python < 3.12 (the
    interpreter aborts after a few hundred grid repaints); pyproject pins a release without it."""
    model = ResultsModel(thumbs)
    model.set_items([PhotoItem(i, tmp_path / f"missing{i}.jpg", 0.5, i + 1) for i in range(40)])
    view = ResultsView(model)
    qtbot.addWidget(view)
    view.resize(800, 600)
    before = [sys.getrefcount(obj) for obj in (None, True, False)]
    for _ in range(150):  # ~270 void calls each
        view.grab()
    after = [sys.getrefcount(obj) for obj in (None, True, False)]
    assert all(a >= b - 1000 for a, b in zip(after, before, strict=True)), (before, after)


def test_run_starts_with_a_search_for_the_photo_given_on_the_command_line(
    tmp_path: Path, qtbot: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lookalike gui photo.jpg`` (the desktop file's Open With) searches for that photo."""
    from lookalike.gui import app as gui_app
    from lookalike.gui.main_window import MainWindow

    photo = write_photo(tmp_path / "q.jpg", 3, size=(160, 120))
    searched: list[Path] = []
    monkeypatch.setattr(MainWindow, "search_file", lambda self, path: searched.append(path))
    monkeypatch.setattr(MainWindow, "start", lambda self: None)
    monkeypatch.setattr(QApplication, "exec", lambda self: (QApplication.processEvents(), 0)[1])
    library = Library.open(tmp_path / "home", FakeEmbedder())
    try:
        assert gui_app.run(library, Settings(), tmp_path / "settings.json", query=photo) == 0
    finally:
        library.close()
    assert searched == [photo.resolve()]
