"""peek_meta reads a catalog's meta without creating, migrating or locking anything; the clean-close
record matches only the file as it was closed."""

from __future__ import annotations

from pathlib import Path

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import (
    clean_close_path,
    closed_cleanly,
    forget_clean_close,
    last_checked_s,
    peek_meta,
    record_clean_close,
)


def test_peek_meta_reads_a_value_and_leaves_an_empty_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        catalog.set_meta("preset", '{"name": "best"}')
    assert peek_meta(path, "preset") == '{"name": "best"}'
    assert peek_meta(path, "absent") is None
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert peek_meta(empty, "preset") is None
    assert empty.stat().st_size == 0  # no schema was created: Library.open still sees it lost
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    assert peek_meta(garbage, "preset") is None


def _closed_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        catalog.set_meta("preset", "balanced")
    return path


def test_a_clean_close_is_recorded_and_matches_until_the_file_changes(tmp_path: Path) -> None:
    path = _closed_catalog(tmp_path)
    assert not closed_cleanly(path)  # nothing recorded yet
    assert record_clean_close(path, 1.0)
    assert closed_cleanly(path) and last_checked_s(path) == 1.0
    with open(path, "r+b") as f:  # one byte rewritten as it was: still a write, a new mtime
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(byte)
    assert not closed_cleanly(path) and last_checked_s(path) is None


def test_no_clean_close_is_recorded_while_a_connection_is_open(tmp_path: Path) -> None:
    path = _closed_catalog(tmp_path)
    with Catalog.open(path):
        assert not record_clean_close(path, 1.0)  # its -wal is there
    assert not clean_close_path(path).exists()


def test_a_forgotten_record_or_a_wal_with_frames_means_check_again(tmp_path: Path) -> None:
    path = _closed_catalog(tmp_path)
    assert record_clean_close(path, 1.0)
    Path(f"{path}-wal").write_bytes(b"frames")  # as a crash mid-write leaves it
    assert not closed_cleanly(path)
    Path(f"{path}-wal").unlink()
    assert closed_cleanly(path)
    forget_clean_close(path)
    assert not closed_cleanly(path)
    forget_clean_close(path)  # twice is fine
