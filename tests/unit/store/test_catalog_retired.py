"""Vectors of a removed folder kept by content (hash, size) and reused when it comes back."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from lookalike.store.catalog import Catalog
from lookalike.store.migrations import SCHEMA_VERSION

PEAKS = b"\0" * 8
HASH_A = "a1" * 20  # scan.hashing.content_hash: the whole file, 40 hex digits


def _unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("folder", ["photos", os.fsdecode(b"f\xfcr Oma")])  # non-UTF-8 name
def test_removed_root_keeps_vectors_by_content_for_reuse(tmp_path: Path, folder: str) -> None:
    catalog = Catalog.open(tmp_path / "catalog.sqlite")
    photos = tmp_path / folder
    root = catalog.add_root(photos)
    a = catalog.upsert_pending(root, photos / "a.jpg", 100, 1, HASH_A)
    b = catalog.upsert_pending(root, photos / "b.jpg", 200, 1, None)  # not hashed
    catalog.set_indexed(a, "m1", _unit(1), PEAKS, b"locals")
    catalog.set_indexed(b, "m1", _unit(2), PEAKS)
    assert sorted(catalog.remove_root(photos)) == sorted([a, b])
    root = catalog.add_root(photos)
    again = catalog.upsert_pending(root, photos / "a.jpg", 100, 2, HASH_A)
    assert catalog.reuse_retired(again, HASH_A, 101, "m1") is None  # another size
    assert catalog.reuse_retired(again, HASH_A, 100, "m2") is None  # another model
    vector = catalog.reuse_retired(again, HASH_A, 100, "m1")
    assert vector is not None and np.array_equal(vector, _unit(1))
    assert catalog.photo_by_id(again).status == "indexed"
    assert catalog.locals_of([again]) == {again: b"locals"}
    other = catalog.upsert_pending(root, photos / "copy.jpg", 100, 2, HASH_A)
    assert catalog.reuse_retired(other, HASH_A, 100, "m1") is None  # used once
    catalog.close()


def test_a_new_model_drops_retired_vectors(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "catalog.sqlite")
    catalog.set_model("m1")
    root = catalog.add_root(tmp_path / "photos")
    a = catalog.upsert_pending(root, tmp_path / "photos" / "a.jpg", 100, 1, HASH_A)
    catalog.set_indexed(a, "m1", _unit(1), PEAKS)
    catalog.remove_root(tmp_path / "photos")
    catalog.set_model("m2")
    catalog.close()
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM retired_vectors").fetchone()[0] == 0


def test_a_v5_catalog_gains_retired_vectors_in_v6(tmp_path: Path) -> None:
    """Schema v6 adds the table to a v5 file (bytes paths, locals CRC) and keeps its photos."""
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog.open(path)
    root = catalog.add_root(tmp_path / "photos")
    a = catalog.upsert_pending(root, tmp_path / "photos" / "a.jpg", 100, 1, HASH_A)
    catalog.set_indexed(a, "m1", _unit(1), PEAKS)
    catalog.close()
    with sqlite3.connect(path) as conn:  # back to v5: the file main wrote before v6
        conn.execute("DROP TABLE retired_vectors")
        conn.execute("DROP INDEX photos_date")  # and before v7
        conn.execute("ALTER TABLE photos DROP COLUMN taken_ns")
        conn.execute("DROP TABLE thumbs")  # and before v8
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    with Catalog.open(path) as catalog:
        assert catalog.photo_by_id(a) is not None
        catalog.remove_root(tmp_path / "photos")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        assert conn.execute("SELECT content_hash FROM retired_vectors").fetchall() == [(HASH_A,)]
    finally:
        conn.close()
