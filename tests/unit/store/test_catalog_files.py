"""peek_meta reads a catalog's meta without creating, migrating or locking anything."""

from __future__ import annotations

from pathlib import Path

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import peek_meta


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
