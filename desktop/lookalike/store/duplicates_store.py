"""Duplicate edges, which photos were checked, and reference folders, in the catalog file.

Three tables beside the catalog's own, created with ``IF NOT EXISTS`` on first use (they are
not part of the numbered schema, so they never clash with its migrations; a catalog without
them is simply one whose duplicates were never looked for):

- ``dup_edges``: one row per pair of photos the pair check called a copy or a burst, with its
  evidence. ``ON DELETE CASCADE`` on both photos: when the catalog removes a photo (deleted,
  moved to the trash, folder removed), its edges go with it in the same transaction.
- ``dup_checked``: the photos whose neighbours were checked, with the CRC-32 of the vector they
  were checked with; a photo whose vector changed (file edited) is checked again.
- ``dup_reference``: reference folders, whose photos are never offered for removal.

The store uses its own connection to the catalog file (WAL lets it read beside a sync).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lookalike.errors import CatalogCorrupt
from lookalike.store.catalog import BUSY_TIMEOUT_MS

EdgeRow = tuple[int, int, str, float, int, float, float, float, int, float, float]
"""(a, b, kind, cosine, inliers, ratio, coverage_a, coverage_b, turns, scale, residual), a < b
(the fields of ``lookalike.search.pair_check.PairEvidence``)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dup_edges (
    a          INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    b          INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('copy', 'burst')),
    cosine     REAL NOT NULL,
    inliers    INTEGER NOT NULL,
    ratio      REAL NOT NULL,
    coverage_a REAL NOT NULL,
    coverage_b REAL NOT NULL,
    turns      INTEGER NOT NULL,
    scale      REAL NOT NULL,
    residual   REAL NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX IF NOT EXISTS dup_edges_b ON dup_edges(b);
CREATE TABLE IF NOT EXISTS dup_checked (
    photo_id     INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    vector_crc32 INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dup_reference (
    path TEXT PRIMARY KEY                  -- absolute folder path
);
"""


class DuplicatesStore:
    """The duplicate tables of one catalog file. Thread-safe (one lock)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        """Use :meth:`open`."""
        self._conn = conn
        self._lock = threading.RLock()

    @classmethod
    def open(cls, catalog_path: Path) -> DuplicatesStore:
        """Open the catalog file's duplicate tables (created if missing).

        Raises:
            CatalogCorrupt: the file cannot be opened or written.
        """
        try:
            conn = sqlite3.connect(str(catalog_path), timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)  # fmt: skip
            conn.execute("PRAGMA foreign_keys = ON")
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA};COMMIT;")
        except sqlite3.Error as exc:
            raise CatalogCorrupt(f"cannot use catalog {catalog_path}: {exc}") from exc
        return cls(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def edges(self) -> list[EdgeRow]:
        """Every stored edge."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute("SELECT * FROM dup_edges")]

    def checked_count(self) -> int:
        """How many photos are recorded as checked."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM dup_checked").fetchone()[0])

    def checked(self) -> dict[int, int]:
        """Photo id → CRC-32 of the vector it was checked with."""
        with self._lock:
            return dict(self._conn.execute("SELECT photo_id, vector_crc32 FROM dup_checked"))

    def add(self, photos: dict[int, int], edges: Sequence[EdgeRow]) -> None:
        """Record ``photos`` (id → vector CRC) as checked and add ``edges`` (a pair already
        stored is replaced); an edge or photo that is gone from the catalog meanwhile is
        skipped. Call :meth:`forget_checked` first for photos checked again."""
        with self._tx() as db:
            wanted = sorted({e[0] for e in edges} | {e[1] for e in edges} | set(photos))
            live = {int(r[0]) for r in db.execute(
                "SELECT id FROM photos WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(wanted),))}  # fmt: skip
            db.executemany("INSERT OR REPLACE INTO dup_edges VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           [e for e in edges if e[0] in live and e[1] in live])  # fmt: skip
            db.executemany("INSERT OR REPLACE INTO dup_checked VALUES (?, ?)",
                           [(i, c) for i, c in photos.items() if i in live])  # fmt: skip

    def forget_checked(self, photo_ids: Iterable[int]) -> None:
        """Forget that these photos were checked, and their edges: they are checked again."""
        ids = json.dumps(sorted({int(i) for i in photo_ids}))
        with self._tx() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS dup_forget (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM dup_forget")
            db.execute("INSERT INTO dup_forget SELECT value FROM json_each(?)", (ids,))
            db.execute("DELETE FROM dup_edges WHERE a IN dup_forget OR b IN dup_forget")
            db.execute("DELETE FROM dup_checked WHERE photo_id IN dup_forget")
            db.execute("DELETE FROM dup_forget")

    def reference_folders(self) -> list[Path]:
        with self._lock:
            return [Path(r[0]) for r in
                    self._conn.execute("SELECT path FROM dup_reference ORDER BY path")]  # fmt: skip

    def set_reference_folders(self, folders: Iterable[Path]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM dup_reference")
            db.executemany("INSERT OR IGNORE INTO dup_reference VALUES (?)",
                           [(str(f),) for f in folders])  # fmt: skip
