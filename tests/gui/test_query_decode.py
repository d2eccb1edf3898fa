"""A dropped photo is decoded once: the search hands its pixels to the query view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from tests.fakes import FakeEmbedder
from tests.gui.scenes import SCENES, PhotoSet

from lookalike.decode import image as decode_image
from lookalike.decode import query as decode_query
from lookalike.gui import match_view, search_page, thumbnails
from lookalike.gui.main_window import MainWindow

WAIT_MS = 10_000


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every photo decoded from now on, by any module of the search's path."""
    seen: list[Path] = []
    real = decode_image.decode

    def counted(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(Path(source).resolve())
        return real(source, *args, **kwargs)

    for module in (decode_image, decode_query, search_page, match_view, thumbnails):
        monkeypatch.setattr(module, "decode", counted)
    return seen


def test_a_dropped_photo_is_decoded_once_and_shown(
    indexed: MainWindow, photos: PhotoSet, embedder: FakeEmbedder, qtbot: Any, decodes: list[Path]
) -> None:
    page, query = indexed.search, photos.query[SCENES[0]]
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.search_file(query)
    qtbot.waitUntil(lambda: not indexed.decoder.busy(), timeout=WAIT_MS)
    assert decodes.count(query.resolve()) == 1
    searched = decode_image.decode(query, embedder.max_side, exact=False).rgb
    shown = page.query_view.image()
    assert shown is not None and (shown.height(), shown.width()) == searched.shape[:2]
    assert page.match_view.query_canvas.image() is not None


def test_a_dropped_library_photo_is_decoded_for_the_view(
    indexed: MainWindow, photos: PhotoSet, qtbot: Any, decodes: list[Path]
) -> None:
    page, photo = indexed.search, photos.scenes[SCENES[1]][0]
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.search_file(photo)  # its stored vector is searched with: nothing decoded yet
    qtbot.waitUntil(lambda: page.query_view.image() is not None, timeout=WAIT_MS)
    assert decodes.count(photo.resolve()) == 1


def test_a_photo_dragged_over_the_window_is_embedded_before_the_drop(
    indexed: MainWindow, photos: PhotoSet, qtbot: Any, decodes: list[Path]
) -> None:
    page, query = indexed.search, photos.query[SCENES[2]]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query))])
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    indexed.dragEnterEvent(enter)
    assert enter.isAccepted()
    qtbot.waitUntil(lambda: decodes.count(query.resolve()) == 1, timeout=WAIT_MS)
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    with qtbot.waitSignals([page.resultsShown, page.match_view.highlightsShown], timeout=WAIT_MS):
        indexed.dropEvent(drop)
    assert decodes.count(query.resolve()) == 1  # the drop's search used what the drag made
    assert page.query_view.image() is not None
    assert page.model.items()[0].path.name.startswith(f"scene{SCENES[2]:03d}")
