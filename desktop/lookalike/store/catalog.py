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
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError, CatalogCorrupt
from lookalike.store.catalog_files import (
    CatalogDamaged,
    key_path,
    path_key,
    quick_check,
    roots_backup_path,
    sqlite_errors,
)
from lookalike.store.hnsw import Ids, check_vectors, vector_crc32
from lookalike.store.migrations import SCHEMA_VERSION, migrate
from lookalike.types import (
    PEAK_DTYPE,
    PhotoStatus,
    Root,
    Vectors,
    vector_from_bytes,
    vector_to_bytes,
)

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogDamaged", "PhotoRow"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
RETIRED_KEEP_NS = 90 * 24 * 3600 * 10**9
"""How long the vectors of a removed folder's photos are kept for when it is added back."""
_PHOTO = "SELECT id, root_id, path, size_bytes, mtime_ns, content_hash, status, skip_reason " \
    "FROM photos"  # fmt: skip
# Searchable vectors: indexed under the given model, on an online root.
_SEARCHABLE = (
    "FROM vectors v INDEXED BY vectors_digest JOIN photos p ON p.id = v.photo_id "
    "JOIN roots r ON r.id = p.root_id "
    "WHERE v.model_id = ? AND p.status = 'indexed' AND r.online = 1"
)


@dataclass(frozen=True)
class PhotoRow:
    """One row of ``photos``; ``path`` is absolute, ``mtime_ns`` in nanoseconds since the epoch."""

    id: int
    root_id: int
    path: Path
    size_bytes: int
    mtime_ns: int
    content_hash: str | None
    status: PhotoStatus
    skip_reason: str | None


def _photo(row: sqlite3.Row) -> PhotoRow:
    id_, root_id, path, *rest = tuple(row)
    return PhotoRow(id_, root_id, key_path(path), *rest)


def _journal_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL; returns the journal mode now in use. Switching a new file takes an
    exclusive lock and SQLite answers 'locked' at once, without its busy handler, while another
    connection does the same, so this waits up to BUSY_TIMEOUT_MS itself."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Open, check, configure and migrate; raises sqlite3.Error or CatalogCorrupt; True with
    the connection when the schema was created by this call."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        # WAL + synchronous=NORMAL cannot corrupt the file: a power cut may only lose the last
        # commits (WAL is fsynced at checkpoints, not per commit). Those record work a rescan
        # redoes, which is cheaper than an fsync per commit during a long sync.
        mode = _journal_wal(conn)
        if mode != "wal":
            log.warning("catalog %s: journal_mode is %s, not wal", path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        quick_check(conn, path)
        created = migrate(conn, path)
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        conn.close()
        raise
    return conn, created


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
                conn, created = _connect(path)
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
        return [_photo(row) for row in self._all(f"{_PHOTO} {where}", args)]

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
            now = time.time_ns()
            self._write(
                "INSERT OR REPLACE INTO retired_vectors SELECT p.content_hash, p.size_bytes, "
                "v.model_id, v.vector, v.peaks, v.locals, ? FROM photos p "
                "JOIN roots r ON r.id = p.root_id JOIN vectors v ON v.photo_id = p.id "
                "WHERE r.path = ? AND p.status = 'indexed' AND p.content_hash IS NOT NULL",
                (now, path_key(path)),
            )
            self._write("DELETE FROM retired_vectors WHERE retired_at_ns < ?",
                        (now - RETIRED_KEEP_NS,))  # fmt: skip
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
        """Give a pending photo the vector its content had in a removed folder, if kept.

        Returns:
            The (D,) float32 vector now stored for ``photo_id`` (it is 'indexed'), or None
            when no vector of this content (hash and size) and model was kept.
        """
        key = (content_hash, size_bytes, model_id)
        where = "WHERE content_hash = ? AND size_bytes = ? AND model_id = ?"
        with self.transaction():
            rows = self._all(f"SELECT vector, peaks, locals FROM retired_vectors {where}", key)
            if not rows:
                return None
            vector = vector_from_bytes(rows[0][0])
            locals_ = None if rows[0][2] is None else bytes(rows[0][2])
            self.set_indexed(photo_id, model_id, vector, bytes(rows[0][1]), locals_)
            self._write(f"DELETE FROM retired_vectors {where}", key)
            return vector

    def roots(self) -> list[Root]:
        """Every root, ordered by folder."""
        rows = self._all("SELECT id, path, online FROM roots ORDER BY path")
        return [Root(int(r[0]), key_path(r[1]), bool(r[2])) for r in rows]

    def set_root_online(self, root_id: int, online: bool) -> list[int]:
        """Mark a root's drive as present or not; returns ids of photos whose status changed.

        Offline photos keep their rows and vectors but leave search. Back online, a photo is
        'indexed' if it has a vector, else 'skipped' if it has a reason, else 'pending'.
        """
        which = "status = 'offline'" if online else "status != 'offline'"
        status = (
            "CASE WHEN EXISTS (SELECT 1 FROM vectors v WHERE v.photo_id = photos.id) THEN "
            "'indexed' WHEN skip_reason IS NOT NULL THEN 'skipped' ELSE 'pending' END"
            if online
            else "'offline'"
        )
        with self.transaction():
            self._write("UPDATE roots SET online = ? WHERE id = ?", (int(online), root_id))
            ids = self._ids(f"SELECT id FROM photos WHERE root_id = ? AND {which}", (root_id,))
            self._write(
                f"UPDATE photos SET status = {status} WHERE root_id = ? AND {which}", (root_id,)
            )
            return ids

    # Photos

    def get_photo(self, path: Path) -> PhotoRow | None:
        """The photo at an absolute path, if catalogued."""
        return next(iter(self._photos("WHERE path = ?", (path_key(path),))), None)

    def photo_by_id(self, photo_id: int) -> PhotoRow | None:
        """The photo with this id (= hnswlib label), if it still exists."""
        return next(iter(self._photos("WHERE id = ?", (photo_id,))), None)

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

    def set_indexed(
        self,
        photo_id: int,
        model_id: str,
        vector: npt.NDArray[np.float32],
        peaks: bytes,
        locals_: bytes | None = None,
    ) -> None:
        """Store a photo's descriptor and mark it 'indexed'.

        Args:
            photo_id: an existing photo.
            model_id: must be the catalog's model (the first vector records it).
            vector: (D,) float32, finite, unit norm; D is fixed per model.
            peaks: ``types.peaks_to_bytes`` output (8 bytes per record).
            locals_: ``types.locals_to_bytes`` output, or None when there are none.

        Raises:
            BugError: invalid vector or peaks, another model, or an unknown photo.
        """
        if not isinstance(vector, np.ndarray) or vector.ndim != 1:
            raise BugError(f"vector must be (D,), got {getattr(vector, 'shape', type(vector))}")
        if not isinstance(peaks, bytes) or len(peaks) % PEAK_DTYPE.itemsize:
            raise BugError(f"peaks must be bytes of {PEAK_DTYPE.itemsize}-byte records")
        if locals_ is not None and not isinstance(locals_, bytes):
            raise BugError("locals must be bytes or None")
        with self.transaction():
            current, dim = self.get_meta("model_id"), self.get_meta("dim")
            vec = check_vectors(vector[None, :], int(dim) if dim else None)[0]
            if current is not None and current != model_id:
                raise BugError(f"vector of model {model_id} into a catalog of model {current}")
            if current is None or dim is None:
                self.set_meta("model_id", model_id)
                self.set_meta("dim", str(vec.shape[0]))
            sql = "UPDATE photos SET status = 'indexed', skip_reason = NULL, indexed_at_ns = ? "
            if not self._write(sql + "WHERE id = ?", (time.time_ns(), photo_id)):
                raise BugError(f"set_indexed: no photo {photo_id}")
            self._write(
                "INSERT OR REPLACE INTO vectors(photo_id, model_id, vector, peaks, vector_crc32, "
                "locals, locals_crc32) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (photo_id, model_id, vector_to_bytes(vec), peaks, vector_crc32(vec), locals_,
                 None if locals_ is None else zlib.crc32(locals_)),
            )

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
        """Delete the root's photos still unseen since :meth:`begin_sweep`; returns their ids.

        Raises:
            BugError: the root is offline (its unplugged drive would look empty).
        """
        with self.transaction():
            if self._one("SELECT online FROM roots WHERE id = ?", (root_id,)) == 0:
                raise BugError(f"sweep of offline root {root_id} would delete all its photos")
            ids = self._ids("SELECT id FROM photos WHERE root_id = ? AND seen = 0", (root_id,))
            self.remove_photos(ids)
            return ids

    # Vectors

    def vector(self, photo_id: int) -> tuple[npt.NDArray[np.float32], bytes] | None:
        """A photo's (D,) float32 descriptor and its peaks bytes, whatever its status."""
        rows = self._all("SELECT vector, peaks FROM vectors WHERE photo_id = ?", (photo_id,))
        return (vector_from_bytes(rows[0][0]), bytes(rows[0][1])) if rows else None

    def locals_of(self, photo_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored local-feature blobs of these photos (those without any are left out, and
        so are damaged ones, whose CRC-32 does not match: logged, see :meth:`damaged_locals`)."""
        out: dict[int, bytes] = {}
        wanted = sorted({int(i) for i in photo_ids})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = "SELECT photo_id, locals, locals_crc32 FROM vectors WHERE locals IS NOT NULL "
            sql += f"AND photo_id IN ({marks})"
            for pid, blob, crc in self._all(sql, chunk):
                if crc is not None and zlib.crc32(blob) != crc:
                    log.warning("photo %d: its stored local features are damaged (checksum "
                                "mismatch); 'lookalike check' re-embeds it", pid)
                    continue
                out[int(pid)] = bytes(blob)
        return out

    def damaged_locals(self) -> list[int]:
        """Ids of photos whose stored local features fail their CRC-32 (reads every blob)."""
        bad, last = [], -1
        sql = "SELECT photo_id, locals, locals_crc32 FROM vectors WHERE locals_crc32 IS NOT NULL "
        sql += "AND photo_id > ? ORDER BY photo_id LIMIT 256"
        while rows := self._all(sql, (last,)):
            last = int(rows[-1][0])
            bad += [int(r[0]) for r in rows if zlib.crc32(r[1] or b"") != r[2]]
        return bad

    def damaged_vectors(self) -> list[int]:
        """Ids of photos whose stored vector fails its CRC-32 (reads every vector)."""
        bad, last = [], -1
        sql = "SELECT photo_id, vector, vector_crc32 FROM vectors WHERE photo_id > ? "
        sql += "ORDER BY photo_id LIMIT 256"
        while rows := self._all(sql, (last,)):
            last = int(rows[-1][0])
            bad += [int(r[0]) for r in rows if zlib.crc32(r[1]) != r[2]]
        return bad

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
        """Searchable vectors of a model ('indexed', on an online root), by ascending id.

        Args:
            model_id: the vector space.
            batch: most rows per block (at most 500 when ``ids`` is given).
            ids: only these photo ids (those not searchable are left out).

        Yields:
            ids (n,) int64 and vectors (n, D) float32. No lock is held between blocks, so
            writes made meanwhile may or may not show up.
        """
        select = f"SELECT v.photo_id, v.vector {_SEARCHABLE} AND v.photo_id"
        if ids is not None:
            wanted = sorted({int(i) for i in ids})
            for start in range(0, len(wanted), min(batch, 500)):
                chunk = wanted[start : start + min(batch, 500)]
                marks = ",".join("?" * len(chunk))
                rows = self._all(f"{select} IN ({marks}) ORDER BY 1", (model_id, *chunk))
                if rows:
                    yield self._block(rows)
            return
        last = -1
        while rows := self._all(f"{select} > ? ORDER BY 1 LIMIT ?", (model_id, last, batch)):
            last = int(rows[-1][0])
            yield self._block(rows)

    def _block(self, rows: list[sqlite3.Row]) -> tuple[Ids, Vectors]:
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        if flat.size % len(rows):
            raise CatalogCorrupt(f"{self.path}: vectors of one model differ in length")
        return ids, flat.reshape(len(rows), -1).copy()

    def vector_digests(self, model_id: str) -> tuple[Ids, npt.NDArray[np.uint32]]:
        """Ids (n,) int64 and vector CRC-32s (n,) uint32 of what :meth:`iter_vectors` yields."""
        rows = self._all(f"SELECT v.photo_id, v.vector_crc32 {_SEARCHABLE}", (model_id,))
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        return ids, np.fromiter((r[1] for r in rows), np.uint32, len(rows))

    def count_indexed(self, model_id: str) -> int:
        """How many vectors :meth:`iter_vectors` would yield."""
        return int(self._one(f"SELECT count(*) {_SEARCHABLE}", (model_id,)))

    def set_model(self, model_id: str) -> bool:
        """Make ``model_id`` the catalog's vector space.

        Returns:
            True if another model was recorded: its vectors are dropped and its 'indexed'
            photos go back to 'pending' to be re-embedded. False if unchanged or first set.
        """
        with self.transaction():
            current = self.get_meta("model_id")
            self.set_meta("model_id", model_id)
            if current == model_id:
                return False
            self._write("DELETE FROM vectors WHERE model_id != ?", (model_id,))
            self._write("DELETE FROM whitening WHERE model_id != ?", (model_id,))
            self._write("DELETE FROM retired_vectors WHERE model_id != ?", (model_id,))
            self._write(
                "UPDATE photos SET status = 'pending', indexed_at_ns = NULL "
                "WHERE status = 'indexed' AND id NOT IN (SELECT photo_id FROM vectors)"
            )
            self._write("DELETE FROM meta WHERE key = 'dim'")
        if current is not None:
            log.info("model changed from %s to %s: every photo is re-embedded", current, model_id)
        return current is not None

    # Reports and meta

    def skipped(self) -> list[tuple[Path, str]]:
        """(path, reason) of every skipped photo, by path."""
        sql = "SELECT path, skip_reason FROM photos WHERE status = 'skipped' ORDER BY path"
        return [(key_path(r[0]), str(r[1] or "")) for r in self._all(sql)]

    def stats(self) -> dict[str, int]:
        """Counts of 'indexed', 'pending', 'skipped' and 'offline' photos, and of 'roots'."""
        counts = dict.fromkeys(("indexed", "pending", "skipped", "offline"), 0)
        for status, n in self._all("SELECT status, count(*) FROM photos GROUP BY status"):
            counts[status] = int(n)
        counts["roots"] = int(self._one("SELECT count(*) FROM roots"))
        return counts

    def integrity_ok(self) -> bool:
        """True if ``PRAGMA integrity_check`` and ``foreign_key_check`` find nothing (slow)."""
        return not self.integrity_problems()

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` and ``foreign_key_check`` find (empty: none; slow)."""
        found = [str(r[0]) for r in self._all("PRAGMA integrity_check(20)")]
        keys = self._all("PRAGMA foreign_key_check")
        lost = [f"row {r[1]} of {r[0]} lost its parent" for r in keys]
        return [f for f in found if f != "ok"] + lost

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
