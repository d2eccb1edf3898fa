"""The full-file check at open runs only when needed: after a clean close with the catalog
unchanged it is skipped; a library left open, a changed file and ``lookalike check`` get it, and
damage the skip cannot see is still reported in plain words when SQLite meets it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder
from tests.faults.store_helpers import indexed_library, lookalike, smash_page

from lookalike.library.facade import Library
from lookalike.library.integrity import CHECK_EVERY_S
from lookalike.store.catalog_files import (
    clean_close_path,
    closed_cleanly,
    last_checked_s,
    record_clean_close,
)


def _rot(catalog: Path, table: str) -> None:
    """Damage a page as a failing disk does: the file's size and mtime stay as they were."""
    st = catalog.stat()
    smash_page(catalog, table)
    os.utime(catalog, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_the_record_is_dropped_while_open_and_written_by_a_clean_close(tmp_path: Path) -> None:
    home, _root, _photos = indexed_library(tmp_path, 4)
    catalog = home / "catalog.sqlite"
    assert closed_cleanly(catalog)
    library = Library.open(home, FakeEmbedder())
    try:  # a crash from here on leaves no record: the next open checks every page
        assert not clean_close_path(catalog).exists()
    finally:
        library.close()
    assert closed_cleanly(catalog)


def test_a_page_smashed_after_a_clean_close_is_found_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home, _root, photos = indexed_library(tmp_path, 4)
    smash_page(home / "catalog.sqlite", "photos")  # a write: the mtime moved on
    assert not closed_cleanly(home / "catalog.sqlite")
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    assert "The library's catalog was damaged" in caplog.text


def test_damage_that_keeps_size_and_mtime_goes_unseen_at_open_until_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The limit of the skip, measured: smashed cells of a cleanly closed catalog, its size and
    mtime kept, read back as fewer rows with no error from SQLite. ``lookalike check`` (and
    the weekly check at open) finds it, and an index run makes the library whole again."""
    home, root, photos = indexed_library(tmp_path, 4)
    _rot(home / "catalog.sqlite", "photos")
    assert closed_cleanly(home / "catalog.sqlite")  # what the skip cannot see
    capsys.readouterr()
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    assert "Traceback" not in capsys.readouterr().err
    assert lookalike("--library", home, "check") == 1  # every page, every time
    assert "catalog was damaged" in capsys.readouterr().out
    assert lookalike("--library", home, "index", root) == 0
    capsys.readouterr()
    assert lookalike("--library", home, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["indexed"], status["index_size"]) == (len(photos), len(photos))
    assert lookalike("--library", home, "check") == 0


def test_a_catalog_last_checked_over_a_week_ago_is_checked_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home, _root, photos = indexed_library(tmp_path, 4)
    catalog = home / "catalog.sqlite"
    assert record_clean_close(catalog, time.time() - CHECK_EVERY_S - 60)
    _rot(catalog, "photos")
    assert closed_cleanly(catalog)
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    assert "The library's catalog was damaged" in caplog.text
    assert last_checked_s(catalog) is not None and last_checked_s(catalog) > time.time() - 60


def test_a_library_not_closed_cleanly_is_checked_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home, _root, photos = indexed_library(tmp_path, 4)
    clean_close_path(home / "catalog.sqlite").unlink()  # as a crash leaves it
    _rot(home / "catalog.sqlite", "vectors")
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    assert "The library's catalog was damaged" in caplog.text
