"""The SQLite catalog: roots, photos, their status and vectors. The source of truth.

Threads: use a Catalog from one thread at a time. Calls from another thread wait on an RLock
rather than corrupt anything (``check_same_thread=False``), but a second thread that reads during
a sync should open its own Catalog on the file: WAL lets readers run beside a long write.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError, CatalogCorrupt
from lookalike.store import catalog_reports, presence, retired_vectors, vector_rows, vector_writes
from lookalike.store.catalog_connect import BUSY_TIMEOUT_MS, connect
from lookalike.store.catalog_files import (
    CatalogDamaged,
    key_path,
    path_key,
    roots_backup_path,
    sqlite_errors,
)
from lookalike.store.hnsw import Ids
from lookalike.store.migrations import SCHEMA_VERSION
from lookalike.store.photo_row import PHOTO_SELECT, PhotoRow, photo_from_row
from lookalike.store.retired_vectors import RETIRED_KEEP_NS
from lookalike.types import Root, Vectors, vector_from_bytes

__all__ = [
    "BUSY_TIMEOUT_MS",
    "RETIRED_KEEP_NS",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogDamaged",
    "PhotoRow",
]

log = logging.getLogger(__name__)

class Catalog:
    """An open catalog file (see the module docstring for threads).

    Attributes:
        path: the ``catalog.sqlite`` file.
        created: True when :meth:`open` found no catalog (a missing or empty file) and made one.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, created: bool = False) -> None:
        """Wrap an open, migrated connection; use :meth:`open`."""
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.created = created
        self._lock = threading.RLock()
        self._depth = 0  # transaction nesting

    @classmethod
    def open(cls, path: Path) -> Catalog:
        """Open or create the catalog at ``path`` (its folder must exist) and migrate it.

        ``PRAGMA quick_check`` runs first: damaged pages are found here, not mid-search.

        Raises:
            CatalogDamaged: damaged pages, or not a SQLite database.
            DiskFull: no room to create or migrate it.
            CatalogCorrupt: unreadable, locked, not ours, or newer.
        """
        try:
            with sqlite_errors(path):
                conn, created = connect(path)
                return cls(conn, path, created)
        except sqlite3.Error as e:
            raise CatalogCorrupt(f"cannot use catalog {path}: {e}") from e

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BugError(f"catalog {self.path} used after close()")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises.

        A nested call joins the outer transaction as a SAVEPOINT: its writes commit with the
        outer one, and an exception in the nested block undoes only that block.
        """
        with self._lock, sqlite_errors(self.path):
            db, name = self._db, f"sp{self._depth}"
            db.execute(f"SAVEPOINT {name}" if self._depth else "BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
                db.execute(f"RELEASE {name}" if self._depth > 1 else "COMMIT")
            except BaseException:
                if self._depth > 1:
                    db.execute(f"ROLLBACK TO {name}")
                    db.execute(f"RELEASE {name}")
                elif db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, sqlite_errors(self.path):
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """First column of the first row, or None."""
        rows = self._all(sql, args)
        return rows[0][0] if rows else None

    def _ids(self, sql: str, args: Sequence[Any] = ()) -> list[int]:
        return [int(row[0]) for row in self._all(sql, args)]

    def _photos(self, where: str, args: Sequence[Any] = ()) -> list[PhotoRow]:
        return [photo_from_row(row) for row in self._all(f"{PHOTO_SELECT} {where}", args)]

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement in a transaction; returns the number of rows changed."""
        with self.transaction():
            return self._db.execute(sql, args).rowcount

    # Roots

    def add_root(self, path: Path) -> int:
        """Register an absolute folder (a no-op if known); returns its id."""
        if not path.is_absolute():
            raise BugError(f"root must be absolute: {path}")
        with self.transaction():
            self._write(
                "INSERT INTO roots(path, online, added_at_ns) VALUES (?, 1, ?) "
                "ON CONFLICT(path) DO NOTHING",
                (path_key(path), time.time_ns()),
            )
            root_id = int(self._one("SELECT id FROM roots WHERE path = ?", (path_key(path),)))
        self.backup_roots()
        return root_id

    def remove_root(self, path: Path) -> list[int]:
        """Forget a root and all its photos; returns the removed photo ids.

        The vectors of its hashed, indexed photos are kept by (content hash, size) for
        :data:`RETIRED_KEEP_NS` (see :meth:`reuse_retired`), so adding the folder back does not
        embed them again.
        """
        with self.transaction():
            retired_vectors.retire_root(self, path)
            sql = "SELECT p.id FROM photos p JOIN roots r ON r.id = p.root_id WHERE r.path = ?"
            ids = self._ids(sql, (path_key(path),))
            self._write("DELETE FROM roots WHERE path = ?", (path_key(path),))
        self.backup_roots()
        return ids

    def backup_roots(self) -> None:
        """Copy the root folders to :func:`roots_backup_path`, so a lost or unreadable catalog
        still knows what to rescan (best effort: a failure is logged)."""
        folders = [os.fsdecode(path_key(root.path)) for root in self.roots()]
        target = roots_backup_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_text(json.dumps(folders), encoding="utf-8")  # surrogates as \udcXX
            os.replace(tmp, target)
        except OSError as e:
            log.warning("could not back up the library folders to %s: %s", target, e)

    def reuse_retired(
        self, photo_id: int, content_hash: str, size_bytes: int, model_id: str
    ) -> npt.NDArray[np.float32] | None:
        """Give a pending photo the vector its content had in a removed folder, if kept (see
        :func:`retired_vectors.reuse_retired`); returns the (D,) vector or None."""
        return retired_vectors.reuse_retired(self, photo_id, content_hash, size_bytes, model_id)

    def roots(self) -> list[Root]:
        """Every root, ordered by folder."""
        rows = self._all("SELECT id, path, online FROM roots ORDER BY path")
        return [Root(int(r[0]), key_path(r[1]), bool(r[2])) for r in rows]

    def set_root_online(self, root_id: int, online: bool) -> list[int]:
        """Mark a root's drive as present or not; returns ids of photos whose status changed
        (see :func:`presence.set_root_online`)."""
        return presence.set_root_online(self, root_id, online)

    # Photos

    def get_photo(self, path: Path) -> PhotoRow | None:
        """The photo at an absolute path, if catalogued."""
        return next(iter(self._photos("WHERE path = ?", (path_key(path),))), None)

    def photo_by_id(self, photo_id: int) -> PhotoRow | None:
        """The photo with this id (= hnswlib label), if it still exists."""
        return next(iter(self._photos("WHERE id = ?", (photo_id,))), None)

    def photos_by_ids(self, photo_ids: Sequence[int]) -> dict[int, PhotoRow]:
        """Those of these photos that still exist, by id (one query per 500 ids)."""
        wanted = sorted({int(i) for i in photo_ids})
        chunks = (wanted[at : at + 500] for at in range(0, len(wanted), 500))
        return {row.id: row for chunk in chunks
                for row in self._photos(f"WHERE id IN ({','.join('?' * len(chunk))})", chunk)}

    def photos_under(self, folder: Path, recursive: bool = True) -> list[PhotoRow]:
        """Photos inside ``folder`` (and its subfolders unless not ``recursive``), by path."""
        sep = path_key(os.sep)
        prefix = path_key(folder).rstrip(sep) + sep
        upper = prefix[:-1] + bytes([sep[0] + 1])  # all paths starting with prefix sort below
        photos = self._photos("WHERE path >= ? AND path < ? ORDER BY path", (prefix, upper))
        return photos if recursive else [p for p in photos if p.path.parent == Path(folder)]

    def find_by_hash(self, content_hash: str, size_bytes: int) -> list[PhotoRow]:
        """Photos with this content hash and size (move/rename detection), by id."""
        where = "WHERE content_hash = ? AND size_bytes = ? ORDER BY id"
        return self._photos(where, (content_hash, size_bytes))

    def upsert_pending(
        self, root_id: int, path: Path, size_bytes: int, mtime_ns: int, content_hash: str | None
    ) -> int:
        """Record a new or changed file as 'pending', seen, without vector; returns its id."""
        with self.transaction():
            photo_id = self._one("SELECT id FROM photos WHERE path = ?", (path_key(path),))
            if photo_id is None:
                sql = "INSERT INTO photos(root_id, path, size_bytes, mtime_ns, content_hash) "
                args = (root_id, path_key(path), size_bytes, mtime_ns, content_hash)
                return int(self._db.execute(sql + "VALUES (?, ?, ?, ?, ?)", args).lastrowid or 0)
            self._write(
                "UPDATE photos SET root_id = ?, size_bytes = ?, mtime_ns = ?, content_hash = ?, "
                "status = 'pending', skip_reason = NULL, seen = 1, indexed_at_ns = NULL "
                "WHERE id = ?",
                (root_id, size_bytes, mtime_ns, content_hash, photo_id),
            )
            self._write("DELETE FROM vectors WHERE photo_id = ?", (photo_id,))
            return int(photo_id)

    def set_indexed(self, photo_id: int, model_id: str, vector: npt.NDArray[np.float32],
                    peaks: bytes, locals_: bytes | None = None) -> None:  # fmt: skip
        """Store a photo's (D,) descriptor and mark it 'indexed' (raises BugError on invalid
        input, another model or an unknown photo); see :func:`vector_writes.set_indexed`."""
        vector_writes.set_indexed(self, photo_id, model_id, vector, peaks, locals_)

    def set_skipped(self, photo_id: int, reason: str) -> None:
        """Mark a photo as not embeddable (e.g. it fails to decode); drops any vector."""
        with self.transaction():
            sql = "UPDATE photos SET status = 'skipped', skip_reason = ?, indexed_at_ns = NULL "
            self._write(sql + "WHERE id = ?", (reason, photo_id))
            self._write("DELETE FROM vectors WHERE photo_id = ?", (photo_id,))

    def move_photo(
        self, photo_id: int, new_path: Path, new_root_id: int, mtime_ns: int
    ) -> list[int]:
        """Give a photo a new path, keeping its id, status and vector; it counts as seen.

        Returns:
            Ids of the photos catalogued at ``new_path`` (the moved file replaced them), now
            deleted; usually empty.
        """
        with self.transaction():
            sql = "SELECT id FROM photos WHERE path = ? AND id != ?"
            displaced = self._ids(sql, (path_key(new_path), photo_id))
            self.remove_photos(displaced)
            sql = "UPDATE photos SET path = ?, root_id = ?, mtime_ns = ?, seen = 1 WHERE id = ?"
            if not self._write(sql, (path_key(new_path), new_root_id, mtime_ns, photo_id)):
                raise BugError(f"move_photo: no photo {photo_id}")
            return displaced

    def remove_photos(self, ids: Sequence[int]) -> None:
        """Delete photos and their vectors; unknown ids are ignored."""
        with self.transaction():
            self._db.executemany("DELETE FROM photos WHERE id = ?", [(int(i),) for i in ids])

    def pending(self, limit: int) -> list[PhotoRow]:
        """Up to ``limit`` photos waiting to be embedded, oldest id first."""
        return self._photos("WHERE status = 'pending' ORDER BY id LIMIT ?", (limit,))

    # Mark-and-sweep

    def begin_sweep(self, root_id: int) -> None:
        """Flag every photo of a root as unseen before a full rescan."""
        self._write("UPDATE photos SET seen = 0 WHERE root_id = ?", (root_id,))

    def mark_seen(self, photo_id: int) -> None:
        """Clear the unseen flag of a photo found unchanged on disk."""
        self._write("UPDATE photos SET seen = 1 WHERE id = ?", (photo_id,))

    def sweep(self, root_id: int) -> list[int]:
        """Delete the root's photos still unseen since :meth:`begin_sweep`; returns their ids
        (BugError if the root is offline); see :func:`presence.sweep`."""
        return presence.sweep(self, root_id)

    # Vectors

    def vector(self, photo_id: int) -> tuple[npt.NDArray[np.float32], bytes] | None:
        """A photo's (D,) float32 descriptor and its peaks bytes, whatever its status."""
        rows = self._all("SELECT vector, peaks FROM vectors WHERE photo_id = ?", (photo_id,))
        return (vector_from_bytes(rows[0][0]), bytes(rows[0][1])) if rows else None

    def locals_of(self, photo_ids: Sequence[int]) -> dict[int, bytes]:
        """Stored local-feature blobs of these photos; see :func:`vector_rows.locals_of`."""
        return vector_rows.locals_of(self, photo_ids)

    def damaged_locals(self) -> list[int]:
        """Ids of photos whose stored local features fail their CRC-32 (reads every blob)."""
        return vector_rows.damaged_locals(self)

    def damaged_vectors(self) -> list[int]:
        """Ids of photos whose stored vector fails its CRC-32 (reads every vector)."""
        return vector_rows.damaged_vectors(self)

    def reembed(self, photo_ids: Sequence[int]) -> None:
        """Drop these photos' vectors and send them back to 'pending' (to be embedded anew)."""
        with self.transaction():
            for pid in photo_ids:
                self._write("DELETE FROM vectors WHERE photo_id = ?", (int(pid),))
                self._write("UPDATE photos SET status = 'pending', indexed_at_ns = NULL "
                            "WHERE id = ? AND status = 'indexed'", (int(pid),))

    def iter_vectors(
        self, model_id: str, batch: int = 4096, *, ids: Sequence[int] | None = None
    ) -> Iterator[tuple[Ids, Vectors]]:
        """Searchable vectors (ids (n,) int64, vectors (n, D) float32) of a model, by
        ascending id; see :func:`vector_rows.iter_vectors`."""
        return vector_rows.iter_vectors(self, model_id, batch, ids=ids)

    def vector_digests(self, model_id: str) -> tuple[Ids, npt.NDArray[np.uint32]]:
        """Ids (n,) int64 and vector CRC-32s (n,) uint32 of what :meth:`iter_vectors` yields."""
        return vector_rows.vector_digests(self, model_id)

    def count_indexed(self, model_id: str) -> int:
        """How many vectors :meth:`iter_vectors` would yield."""
        return vector_rows.count_indexed(self, model_id)

    def set_model(self, model_id: str) -> bool:
        """Make ``model_id`` the catalog's vector space; True if another model's vectors were
        dropped (its photos are re-embedded); see :func:`vector_writes.set_model`."""
        return vector_writes.set_model(self, model_id)

    # Reports and meta

    def skipped(self) -> list[tuple[Path, str]]:
        """(path, reason) of every skipped photo, by path."""
        return catalog_reports.skipped(self)

    def stats(self) -> dict[str, int]:
        """Counts of 'indexed', 'pending', 'skipped' and 'offline' photos, and of 'roots'."""
        return catalog_reports.stats(self)

    def integrity_ok(self) -> bool:
        """True if ``PRAGMA integrity_check`` and ``foreign_key_check`` find nothing (slow)."""
        return not self.integrity_problems()

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` and ``foreign_key_check`` find (empty: none; slow)."""
        return catalog_reports.integrity_problems(self)

    def whitening(self, model_id: str) -> bytes | None:
        """The serialised whitening learned for ``model_id``'s vectors, or None."""
        data = self._one("SELECT data FROM whitening WHERE model_id = ?", (model_id,))
        return None if data is None else bytes(data)

    def set_whitening(self, model_id: str, data: bytes | None) -> None:
        """Store (or with None, drop) the whitening of ``model_id``'s vectors."""
        if data is None:
            self._write("DELETE FROM whitening WHERE model_id = ?", (model_id,))
            return
        self._write(
            "INSERT OR REPLACE INTO whitening(model_id, data, fitted_at_ns) VALUES (?, ?, ?)",
            (model_id, sqlite3.Binary(data), time.time_ns()),
        )

    def get_meta(self, key: str) -> str | None:
        """A value of the ``meta`` table, or None."""
        value = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the ``meta`` table."""
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))
