"""Catalog rows of synthetic photos, written two ways: through the Catalog API, as the app's
writer does (one photo at a time), and in bulk (one ``executemany`` per table and chunk).

Why the API path is slow for a million photos: each photo costs two calls, each its own nested
transaction (a SAVEPOINT), about ten statements (a path lookup, an INSERT, two ``meta`` reads, a
vector check, an UPDATE, an INSERT OR REPLACE) each through the catalog's lock, plus Python
work per call. The bulk path writes the very same rows (same columns, blobs and CRCs; a check
compares them byte for byte) with two statements per chunk of 8,192 photos, under a rollback
journal with ``synchronous = OFF`` while it loads (the app's next open switches the file back
to WAL), so each page is written once instead of into the WAL and then the database.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import path_key
from lookalike.store.hnsw import vector_crc32

PhotoRows = list[tuple[object, ...]]
VectorRows = list[tuple[object, ...]]

PHOTO_COLUMNS = ("id, root_id, path, size_bytes, mtime_ns, content_hash, status, skip_reason, "
                 "seen, indexed_at_ns, taken_ns")  # fmt: skip
VECTOR_COLUMNS = "photo_id, model_id, vector, peaks, vector_crc32, locals, locals_crc32"


def photo_path(folder: Path, photo_id: int) -> Path:
    """The (never existing) file a synthetic photo stands for."""
    return folder / f"{photo_id:07d}.jpg"


def write_api(catalog: Catalog, root_id: int, folder: Path, model_id: str,
              ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], peaks: bytes,
              blobs: list[bytes]) -> None:  # fmt: skip
    """Write one chunk as the app's writer does: ``upsert_pending`` then ``set_indexed`` per
    photo, all in one transaction (the ids must be the next ones the catalog hands out)."""
    with catalog.transaction():
        for photo_id, vec, blob in zip(ids, vectors, blobs, strict=True):
            got = catalog.upsert_pending(root_id, photo_path(folder, int(photo_id)), 1, 1, None)
            if got != photo_id:
                raise RuntimeError(f"catalog gave id {got}, expected {photo_id}")
            catalog.set_indexed(got, model_id, vec, peaks, blob)


def bulk_rows(root_id: int, folder: Path, model_id: str, ids: npt.NDArray[np.int64],
              vectors: npt.NDArray[np.float32], peaks: bytes, blobs: list[bytes]
              ) -> tuple[PhotoRows, VectorRows]:  # fmt: skip
    """The rows ``write_api`` leaves in ``photos`` and ``vectors`` for the same chunk."""
    now = time.time_ns()
    photos: PhotoRows = [
        (int(i), root_id, path_key(photo_path(folder, int(i))), 1, 1, None, "indexed", None, 1,
         now, None)
        for i in ids
    ]  # fmt: skip
    rows: VectorRows = [
        (int(i), model_id, vec.tobytes(), peaks, vector_crc32(vec), blob, zlib.crc32(blob))
        for i, vec, blob in zip(ids, vectors, blobs, strict=True)
    ]
    return photos, rows


def open_bulk(path: Path) -> sqlite3.Connection:
    """A connection for loading an existing (created and migrated) catalog fast."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
    return conn


def write_bulk(conn: sqlite3.Connection, photos: PhotoRows, vectors: VectorRows) -> None:
    """Insert one chunk's rows in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(f"INSERT INTO photos({PHOTO_COLUMNS}) VALUES ({_marks(11)})", photos)
        conn.executemany(f"INSERT INTO vectors({VECTOR_COLUMNS}) VALUES ({_marks(7)})", vectors)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def stored_rows(conn: sqlite3.Connection, first: int, last: int) -> tuple[PhotoRows, VectorRows]:
    """The ``photos`` and ``vectors`` rows with ids first..last, by id."""
    where = "BETWEEN ? AND ? ORDER BY 1"
    photos = conn.execute(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id {where}", (first, last))
    vectors = conn.execute(
        f"SELECT {VECTOR_COLUMNS} FROM vectors WHERE photo_id {where}", (first, last)
    )
    return [tuple(r) for r in photos.fetchall()], [tuple(r) for r in vectors.fetchall()]


def same_rows(stored: tuple[PhotoRows, VectorRows], bulk: tuple[PhotoRows, VectorRows]) -> str:
    """'' when the rows are equal (``indexed_at_ns`` aside, a clock reading), else what differs."""
    (s_photos, s_vectors), (b_photos, b_vectors) = stored, bulk
    if len(s_photos) != len(b_photos) or len(s_vectors) != len(b_vectors):
        return f"row counts differ: {len(s_photos)}/{len(b_photos)} photos"
    for a, b in zip(s_photos, b_photos, strict=True):
        if a[:9] + a[10:] != b[:9] + b[10:] or not isinstance(a[9], int):
            return f"photos row differs: {a} != {b}"
    for a, b in zip(s_vectors, b_vectors, strict=True):
        if tuple(bytes(x) if isinstance(x, bytes) else x for x in a) != b:
            return f"vectors row {a[0]} differs"
    return ""


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def compare_writes(folder: Path, model_id: str, ids: npt.NDArray[np.int64],
                   vectors: npt.NDArray[np.float32], peaks: bytes, blobs: list[bytes],
                   clock: Callable[[], tuple[float, float]]
                   ) -> dict[str, dict[str, float]]:  # fmt: skip
    """Write the same photos into fresh catalogs three ways; wall and CPU rows/s of each.

    ``api``: :func:`write_api`; ``bulk_wal``: :func:`write_bulk` in the app's journal (WAL,
    ``synchronous = NORMAL``); ``bulk``: :func:`write_bulk` as :func:`open_bulk` sets it up.
    ``clock`` gives (wall s, CPU s).
    """
    out = {}
    for way in ("api", "bulk_wal", "bulk"):
        path = folder / f"{way}.sqlite"
        with Catalog.open(path) as catalog:
            root = catalog.add_root(folder)
            catalog.set_meta("model_id", model_id)
            catalog.set_meta("dim", str(vectors.shape[1]))
            start = clock()
            if way == "api":
                write_api(catalog, root, folder, model_id, ids, vectors, peaks, blobs)
            elif way == "bulk_wal":
                photos, rows = bulk_rows(root, folder, model_id, ids, vectors, peaks, blobs)
                write_bulk(catalog._db, photos, rows)
        if way == "bulk":
            with closing(open_bulk(path)) as conn:
                photos, rows = bulk_rows(root, folder, model_id, ids, vectors, peaks, blobs)
                write_bulk(conn, photos, rows)
        wall, cpu = (b - a for a, b in zip(start, clock(), strict=True))
        out[way] = {"rows_per_s": round(len(ids) / wall, 1),
                    "rows_per_cpu_s": round(len(ids) / max(cpu, 0.01), 1)}  # fmt: skip
        for suffix in ("", "-wal", "-shm", ".roots.json", ".closed.json"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out
