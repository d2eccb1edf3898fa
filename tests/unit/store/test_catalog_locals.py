"""Catalog schema v3: the ``vectors.locals`` column, its migration from v2 and its round trip."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import BugError
from lookalike.store.catalog import SCHEMA_VERSION, Catalog
from lookalike.types import CODE_STEP, locals_from_bytes, locals_to_bytes

MODEL = "model-a"
DIM = 16

# Schema v2 as it was released: vectors had vector_crc32 but no locals column.
SCHEMA_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
    online INTEGER NOT NULL DEFAULT 1 CHECK (online IN (0, 1)), added_at_ns INTEGER NOT NULL);
CREATE TABLE photos (id INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE, size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    content_hash TEXT, status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'indexed', 'skipped', 'offline')), skip_reason TEXT,
    seen INTEGER NOT NULL DEFAULT 1, indexed_at_ns INTEGER);
CREATE INDEX photos_root ON photos(root_id);
CREATE INDEX photos_hash ON photos(content_hash);
CREATE INDEX photos_status ON photos(status);
CREATE TABLE vectors (photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL, vector BLOB NOT NULL, peaks BLOB NOT NULL,
    vector_crc32 INTEGER NOT NULL DEFAULT 0);
CREATE INDEX vectors_digest ON vectors(model_id, photo_id, vector_crc32);
PRAGMA user_version = 2;
"""


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def some_locals(seed: int, k: int = 5, d: int = 8) -> np.ndarray:
    """Positions and codes as ``embed.local.extract`` makes them (codes on the 1/127 grid)."""
    x = np.random.default_rng(seed).random((k, 2 + d)).astype(np.float32)
    x[:, 2:] = np.rint(x[:, 2:] / CODE_STEP) * CODE_STEP
    return x.astype(np.float16)


def _columns(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r)[1:] for r in conn.execute("PRAGMA table_info(vectors)")]
    finally:
        conn.close()


def test_migrates_v2_catalog_adding_an_empty_locals_column(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    vec = unit(3)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V2)
    conn.execute("INSERT INTO meta VALUES ('model_id', ?)", (MODEL,))
    conn.execute("INSERT INTO roots VALUES (1, '/p', 1, 0)")
    conn.execute("INSERT INTO photos(root_id, path, size_bytes, mtime_ns, status) VALUES "
                 "(1, '/p/a.jpg', 5, 6, 'indexed')")  # fmt: skip
    conn.execute("INSERT INTO vectors VALUES (1, ?, ?, ?, ?)",
                 (MODEL, vec.tobytes(), b"", zlib.crc32(vec.tobytes())))  # fmt: skip
    conn.commit()
    conn.close()

    with Catalog.open(path) as cat:
        [(_, block)] = list(cat.iter_vectors(MODEL))
        np.testing.assert_array_equal(block[0], vec)  # the old vector is still searchable
        assert cat.locals_of([1]) == {}  # ... without locals until it is embedded again
        loc = some_locals(1)
        cat.set_indexed(1, MODEL, vec, b"", locals_to_bytes(loc))
        np.testing.assert_array_equal(locals_from_bytes(cat.locals_of([1])[1]), loc)
        assert cat.integrity_ok()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()
    fresh = tmp_path / "fresh.sqlite"
    Catalog.open(fresh).close()
    assert _columns(path) == _columns(fresh)
    assert ("locals", "BLOB", 0, None, 0) in _columns(fresh)


def test_locals_round_trip_and_are_optional(catalog: Catalog, root: Path) -> None:
    root_id = catalog.add_root(root)
    with_locals = catalog.upsert_pending(root_id, root / "a.jpg", 1, 1, None)
    without = catalog.upsert_pending(root_id, root / "b.jpg", 1, 1, None)
    loc = some_locals(2, k=7, d=4)
    catalog.set_indexed(with_locals, MODEL, unit(1), b"", locals_to_bytes(loc))
    catalog.set_indexed(without, MODEL, unit(2), b"")
    got = catalog.locals_of([with_locals, without, 999])
    assert set(got) == {with_locals}
    np.testing.assert_array_equal(locals_from_bytes(got[with_locals]), loc)
    catalog.upsert_pending(root_id, root / "a.jpg", 2, 2, None)  # changed file: locals dropped
    assert catalog.locals_of([with_locals]) == {}


def test_set_indexed_rejects_locals_that_are_not_bytes(catalog: Catalog, root: Path) -> None:
    photo_id = catalog.upsert_pending(catalog.add_root(root), root / "a.jpg", 1, 1, None)
    with pytest.raises(BugError):
        catalog.set_indexed(photo_id, MODEL, unit(1), b"", some_locals(1))  # type: ignore[arg-type]


@pytest.mark.parametrize("blob", [b"", b"\x01\x00", np.asarray([4], "<u4").tobytes() + b"\x00" * 6])
def test_malformed_locals_blob_is_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        locals_from_bytes(blob)


def test_locals_blob_is_compact_and_exact_for_extracted_features() -> None:
    from lookalike.embed.local import extract

    fmap = np.maximum(np.random.default_rng(0).standard_normal((256, 12, 16)) - 0.3, 0)
    loc = extract(fmap.astype(np.float32), top=128, dim=64)
    blob = locals_to_bytes(loc)
    assert len(blob) == 4 + 128 * (4 + 64)  # half the float16 rows
    np.testing.assert_array_equal(locals_from_bytes(blob), loc)


def test_codes_off_the_grid_are_rounded_to_it() -> None:
    loc = np.random.default_rng(1).uniform(-1, 1, (6, 10)).astype(np.float16)
    back = locals_from_bytes(locals_to_bytes(loc))
    np.testing.assert_array_equal(back[:, :2], loc[:, :2])
    np.testing.assert_allclose(back[:, 2:], loc[:, 2:], atol=CODE_STEP / 2 + 1e-3)


def test_float16_blobs_of_earlier_versions_still_read() -> None:
    loc = some_locals(4, k=3, d=6)
    legacy = np.asarray([8], "<u4").tobytes() + np.ascontiguousarray(loc, "<f2").tobytes()
    np.testing.assert_array_equal(locals_from_bytes(legacy), loc)
