"""Vectors of a removed folder kept by content (hash, size) and reused when it comes back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from lookalike.store.catalog import Catalog

PEAKS = b"\0" * 8


def _unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_removed_root_keeps_vectors_by_content_for_reuse(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "catalog.sqlite")
    root = catalog.add_root(tmp_path / "photos")
    a = catalog.upsert_pending(root, tmp_path / "photos" / "a.jpg", 100, 1, "hash-a")
    b = catalog.upsert_pending(root, tmp_path / "photos" / "b.jpg", 200, 1, None)  # not hashed
    catalog.set_indexed(a, "m1", _unit(1), PEAKS, b"locals")
    catalog.set_indexed(b, "m1", _unit(2), PEAKS)
    assert sorted(catalog.remove_root(tmp_path / "photos")) == sorted([a, b])
    root = catalog.add_root(tmp_path / "photos")
    again = catalog.upsert_pending(root, tmp_path / "photos" / "a.jpg", 100, 2, "hash-a")
    assert catalog.reuse_retired(again, "hash-a", 101, "m1") is None  # another size
    assert catalog.reuse_retired(again, "hash-a", 100, "m2") is None  # another model
    vector = catalog.reuse_retired(again, "hash-a", 100, "m1")
    assert vector is not None and np.array_equal(vector, _unit(1))
    assert catalog.photo_by_id(again).status == "indexed"
    assert catalog.locals_of([again]) == {again: b"locals"}
    other = catalog.upsert_pending(root, tmp_path / "photos" / "copy.jpg", 100, 2, "hash-a")
    assert catalog.reuse_retired(other, "hash-a", 100, "m1") is None  # used once
    catalog.close()


def test_a_new_model_drops_retired_vectors(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "catalog.sqlite")
    catalog.set_model("m1")
    root = catalog.add_root(tmp_path / "photos")
    a = catalog.upsert_pending(root, tmp_path / "photos" / "a.jpg", 100, 1, "hash-a")
    catalog.set_indexed(a, "m1", _unit(1), PEAKS)
    catalog.remove_root(tmp_path / "photos")
    catalog.set_model("m2")
    catalog.close()
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM retired_vectors").fetchone()[0] == 0
