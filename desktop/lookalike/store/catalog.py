"""The SQLite catalog: roots, photos, their status and vectors. The source of truth.

Threads: use a Catalog from one thread at a time. Calls from another thread wait on an RLock
rather than corrupt anything (``check_same_thread=False``), but a second thread that reads during
a sync should open its own Catalog on the file: WAL lets readers run beside a long write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError, CatalogCorrupt
from lookalike.store.vectors import Ids, check_vectors, vector_crc32
from lookalike.types import PEAK_DTYPE, Vectors, vector_from_bytes, vector_to_bytes

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 5000
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
    status: str
    skip_reason: str | None


def _photo(row: sqlite3.Row) -> PhotoRow:
    id_, root_id, path, *rest = tuple(row)
    return PhotoRow(id_, root_id, Path(path), *rest)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """v1 → v2: add ``vectors.vector_crc32`` so the index can diff itself against the catalog."""
    conn.execute("ALTER TABLE vectors ADD COLUMN vector_crc32 INTEGER NOT NULL DEFAULT 0")
    conn.execute("CREATE INDEX vectors_digest ON vectors(model_id, photo_id, vector_crc32)")
    rows = conn.execute("SELECT photo_id, vector FROM vectors").fetchall()
    conn.executemany(
        "UPDATE vectors SET vector_crc32 = ? WHERE photo_id = ?",
        [(vector_crc32(vector_from_bytes(blob)), pid) for pid, blob in rows],
    )


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """v2 → v3: add ``vectors.locals`` (local features for spatial re-ranking).

    Existing rows get NULL: their photos are still searchable and simply not re-ranked until
    they are embedded again (a new model id or a changed file re-embeds them).
    """
    conn.execute("ALTER TABLE vectors ADD COLUMN locals BLOB")


_WHITENING_TABLE = """
CREATE TABLE whitening (
    model_id     TEXT PRIMARY KEY,
    data         BLOB NOT NULL,
    fitted_at_ns INTEGER NOT NULL
)"""


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    """v3 → v4: add the ``whitening`` table (a whitening learned from the library)."""
    conn.execute(_WHITENING_TABLE)


_RETIRED_TABLE = """
CREATE TABLE retired_vectors (
    content_hash  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    model_id      TEXT NOT NULL,
    vector        BLOB NOT NULL,
    peaks         BLOB NOT NULL,
    locals        BLOB,
    retired_at_ns INTEGER NOT NULL,
    PRIMARY KEY (content_hash, size_bytes, model_id)
)"""

RETIRED_KEEP_NS = 90 * 24 * 3600 * 10**9
"""How long the vectors of a removed folder's photos are kept for when it is added back."""


def _migrate_4_to_5(conn: sqlite3.Connection) -> None:
    """v4 → v5: add ``retired_vectors`` (a removed folder added back is not embedded again)."""
    conn.execute(_RETIRED_TABLE)


# MIGRATIONS[v] turns schema v into v + 1; each step runs in its own transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
}


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the latest schema in an empty file, or step an older one up to SCHEMA_VERSION."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise CatalogCorrupt(
            f"{path} was created by a newer Lookalike (schema {version}, this one reads up to "
            f"{SCHEMA_VERSION})"
        )
    if version == 0:
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise CatalogCorrupt(f"{path} is a SQLite file but not a Lookalike catalog")
        schema = resources.files("lookalike.store").joinpath("schema.sql").read_text("utf-8")
        # executescript commits any open transaction first, so ours is part of the script
        conn.executescript(f"BEGIN IMMEDIATE;{schema};PRAGMA user_version={SCHEMA_VERSION};COMMIT;")
        return
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
        log.info("catalog %s migrated from schema %d to %d", path, step, step + 1)


def _connect(path: Path) -> sqlite3.Connection:
    """Open, configure and migrate; raises sqlite3.Error or CatalogCorrupt."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        # WAL + synchronous=NORMAL cannot corrupt the file: a power cut may only lose the last
        # commits (WAL is fsynced at checkpoints, not per commit). Those record work a rescan
        # redoes, which is cheaper than an fsync per commit during a long sync.
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            log.warning("catalog %s: journal_mode is %s, not wal", path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _migrate(conn, path)
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        conn.close()
        raise
    return conn


class Catalog:
    """An open catalog file (see the module docstring for threads).

    Attributes:
        path: the ``catalog.sqlite`` file.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        """Wrap an open, migrated connection; use :meth:`open`."""
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # transaction nesting

    @classmethod
    def open(cls, path: Path) -> Catalog:
        """Open or create the catalog at ``path`` (its folder must exist) and migrate it.

        Raises:
            CatalogCorrupt: not a SQLite database, unreadable, locked, not ours, or newer.
        """
        try:
            return cls(_connect(path), path)
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
        with self._lock:
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
        with self._lock:
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
                (str(path), time.time_ns()),
            )
            return int(self._one("SELECT id FROM roots WHERE path = ?", (str(path),)))

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
                (now, str(path)),
            )
            self._write("DELETE FROM retired_vectors WHERE retired_at_ns < ?",
                        (now - RETIRED_KEEP_NS,))  # fmt: skip
            sql = "SELECT p.id FROM photos p JOIN roots r ON r.id = p.root_id WHERE r.path = ?"
            ids = self._ids(sql, (str(path),))
            self._write("DELETE FROM roots WHERE path = ?", (str(path),))
            return ids

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

    def roots(self) -> list[tuple[int, Path, bool]]:
        """(id, folder, online) of every root, ordered by folder."""
        rows = self._all("SELECT id, path, online FROM roots ORDER BY path")
        return [(int(r[0]), Path(r[1]), bool(r[2])) for r in rows]

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
        return next(iter(self._photos("WHERE path = ?", (str(path),))), None)

    def photo_by_id(self, photo_id: int) -> PhotoRow | None:
        """The photo with this id (= hnswlib label), if it still exists."""
        return next(iter(self._photos("WHERE id = ?", (photo_id,))), None)

    def photos_under(self, folder: Path, recursive: bool = True) -> list[PhotoRow]:
        """Photos inside ``folder`` (and its subfolders unless not ``recursive``), by path."""
        prefix = str(folder).rstrip(os.sep) + os.sep
        upper = prefix[:-1] + chr(ord(os.sep) + 1)  # all paths starting with prefix sort below
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
            photo_id = self._one("SELECT id FROM photos WHERE path = ?", (str(path),))
            if photo_id is None:
                sql = "INSERT INTO photos(root_id, path, size_bytes, mtime_ns, content_hash) "
                args = (root_id, str(path), size_bytes, mtime_ns, content_hash)
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
                "locals) VALUES (?, ?, ?, ?, ?, ?)",
                (photo_id, model_id, vector_to_bytes(vec), peaks, vector_crc32(vec), locals_),
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
            displaced = self._ids(sql, (str(new_path), photo_id))
            self.remove_photos(displaced)
            sql = "UPDATE photos SET path = ?, root_id = ?, mtime_ns = ?, seen = 1 WHERE id = ?"
            if not self._write(sql, (str(new_path), new_root_id, mtime_ns, photo_id)):
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
        """The stored local-feature blobs of these photos (those without any are left out)."""
        out: dict[int, bytes] = {}
        wanted = sorted({int(i) for i in photo_ids})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = "SELECT photo_id, locals FROM vectors WHERE locals IS NOT NULL AND photo_id "
            sql += f"IN ({marks})"
            out.update((int(r[0]), bytes(r[1])) for r in self._all(sql, chunk))
        return out

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
        return [(Path(r[0]), str(r[1] or "")) for r in self._all(sql)]

    def stats(self) -> dict[str, int]:
        """Counts of 'indexed', 'pending', 'skipped' and 'offline' photos, and of 'roots'."""
        counts = dict.fromkeys(("indexed", "pending", "skipped", "offline"), 0)
        for status, n in self._all("SELECT status, count(*) FROM photos GROUP BY status"):
            counts[status] = int(n)
        counts["roots"] = int(self._one("SELECT count(*) FROM roots"))
        return counts

    def integrity_ok(self) -> bool:
        """True if ``PRAGMA integrity_check`` and ``foreign_key_check`` find nothing (slow)."""
        check = [tuple(r) for r in self._all("PRAGMA integrity_check")]
        return check == [("ok",)] and not self._all("PRAGMA foreign_key_check")

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
