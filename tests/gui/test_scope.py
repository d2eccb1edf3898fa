"""Scope in the window: the sidebar's selected folder and the date range limit the results."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tests.fakes import write_photo
from tests.gui.scenes import SCENES, SYNC_TIMEOUT_MS, PhotoSet

from lookalike.gui.main_window import MainWindow

WAIT_MS = 10_000


def _add_second_root(window: MainWindow, photos: PhotoSet, qtbot: object) -> Path:
    """A second library folder with copies of the first scene, dated 2015 by file time."""
    other = photos.root.parent / "Phone"
    stamp = dt.datetime(2015, 3, 3, 12).timestamp()
    for i in range(3):
        path = write_photo(other / f"copy{i}.jpg", SCENES[0], size=(320, 240))
        os.utime(path, (stamp, stamp))
    with qtbot.waitSignal(  # type: ignore[attr-defined]
        window.syncEnded, timeout=SYNC_TIMEOUT_MS,
        check_params_cb=lambda last: last is not None and last.phase == "done",
    ):  # fmt: skip
        window.add_folder(other)
    with qtbot.waitSignal(window.statusRefreshed, timeout=SYNC_TIMEOUT_MS,  # type: ignore[attr-defined]
                          check_params_cb=lambda s: len(s.roots) == 2):  # fmt: skip
        window.request_status()
    return other.resolve()


def _select(window: MainWindow, folder: Path | None) -> None:
    if folder is None:
        window.sidebar.clear_selection()
        return
    row = window.sidebar.roots().index(folder)
    window.sidebar.list.setCurrentRow(row)


def _result_paths(window: MainWindow) -> list[Path]:
    return [Path(item.path) for item in window.search.model.items()]


def test_selected_folder_and_dates_limit_the_results(
    indexed: MainWindow, photos: PhotoSet, qtbot: object
) -> None:
    other = _add_second_root(indexed, photos, qtbot)
    page = indexed.search
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):  # type: ignore[attr-defined]
        page.search_file(photos.query[SCENES[0]])
    everything = _result_paths(indexed)
    assert any(p.is_relative_to(other) for p in everything)
    assert any(p.is_relative_to(photos.root.resolve()) for p in everything)

    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):  # type: ignore[attr-defined]
        _select(indexed, other)  # the search runs again, within the folder
    assert page.scope_bar.folder_label.text() == "In Phone"
    inside = _result_paths(indexed)
    assert len(inside) == 3 and all(p.is_relative_to(other) for p in inside)

    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):  # type: ignore[attr-defined]
        page.scope_bar.clear_folder.click()  # back to all folders, sidebar selection cleared
    assert indexed.sidebar.current_root() is None
    assert len(_result_paths(indexed)) == len(everything)

    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):  # type: ignore[attr-defined]
        page.scope_bar.set_dates(dt.date(2015, 3, 1), dt.date(2015, 3, 31))
    dated = _result_paths(indexed)
    assert len(dated) == 3 and all(p.is_relative_to(other) for p in dated)
