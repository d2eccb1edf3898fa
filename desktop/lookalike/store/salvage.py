"""A damaged catalog: keep it aside, start a new one from every row SQLite can still read.

Nothing is deleted. The damaged file (with its ``-wal``) is renamed to
``catalog.sqlite.damaged-<time>``; the new catalog gets the roots, the photos and the vectors
that read back whole (a vector whose CRC-32 no longer matches is dropped, and its photo is
embedded again); rows on unreadable pages are lost, and the next scan finds their files again
as new photos. When not even the roots can be read, the copy beside the catalog
(``catalog.sqlite.roots.json``) names the folders to rescan.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import CatalogDamaged, aside_path, path_key, read_roots_backup

log = logging.getLogger(__name__)

_TABLES = ("meta", "roots", "photos", "vectors", "whitening")
"""Copied in this order (parents before children)."""
_CHUNK = 256


@dataclass
class Salvage:
    """What a recovery kept.

    Attributes:
        aside: where the damaged catalog now lives.
        reason: what SQLite found.
        rows: table name -> rows copied into the new catalog.
        lost_vectors: vectors dropped because they failed their checksum or lost their photo.
        roots_from_backup: root folders taken from the backup copy (the table was unreadable).
    """

    aside: Path
    reason: str
    rows: dict[str, int] = field(default_factory=dict)
    lost_vectors: int = 0
    roots_from_backup: int = 0

    def message(self, path: Path) -> str:
        """The plain-words account shown to the user."""
        kept = self.rows.get("photos", 0)
        vectors = self.rows.get("vectors", 0)
        roots = self.rows.get("roots", 0) + self.roots_from_backup
        return (
            f"The library's catalog was damaged ({self.reason}). It was kept unchanged as "
            f"{self.aside.name} and a new catalog {path.name} was made from what could still be "
            f"read: {roots} folders and {kept} photos, {vectors} of them with their vectors "
            "(the others are embedded again). Photos whose rows were lost are found again by "
            "the next scan and indexed anew."
        )


def open_or_recover(path: Path) -> tuple[Catalog, Salvage | None]:
    """Open the catalog; if it is damaged, set it aside and rebuild a new one from it.

    Returns:
        The open catalog, and what was salvaged (None when it opened cleanly).

    Raises:
        CatalogCorrupt: the catalog cannot be used for another reason (newer, not ours,
            locked), or the new one cannot be made.
    """
    try:
        return Catalog.open(path), None
    except CatalogDamaged as e:
        return recover(path, str(e))


def recover(path: Path, reason: str) -> tuple[Catalog, Salvage]:
    """Rename the (closed) damaged catalog at ``path`` aside and make a new one from it.

    Args:
        path: the catalog file; nobody may have it open.
        reason: what was found, for the log and the message.
    """
    aside = aside_path(path, "damaged")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    log.warning("catalog %s is damaged (%s); kept as %s, rebuilding", path, reason, aside)
    report = Salvage(aside, reason.split(": ", 1)[-1])
    Catalog.open(path).close()  # the latest schema, empty
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        _copy_from(aside, conn, report)
    finally:
        conn.close()
    catalog = Catalog.open(path)
    catalog.backup_roots()
    return catalog, report


def _copy_from(aside: Path, new: sqlite3.Connection, report: Salvage) -> None:
    """Copy every readable, consistent row of the damaged file ``aside`` into ``new``."""
    try:
        old = sqlite3.connect(str(aside))  # read only in effect; closing may checkpoint its WAL
    except sqlite3.Error as e:
        log.warning("nothing readable in %s: %s", aside, e)
        old = None
    new.execute("BEGIN IMMEDIATE")
    for table in _TABLES:
        rows = list(_readable_rows(old, table)) if old is not None else []
        report.rows[table] = _insert(new, table, rows, report)
    if not report.rows["roots"]:
        for folder in read_roots_backup(new_path(new)):
            new.execute("INSERT OR IGNORE INTO roots(path, online, added_at_ns) VALUES (?, 1, ?)",
                        (path_key(folder), time.time_ns()))
            report.roots_from_backup += 1
    # Photos whose vector did not survive are embedded again.
    new.execute("UPDATE photos SET status = 'pending', indexed_at_ns = NULL WHERE status = "
                "'indexed' AND id NOT IN (SELECT photo_id FROM vectors)")
    new.execute("UPDATE photos SET seen = 1")
    new.execute("COMMIT")
    if old is not None:
        old.close()


def new_path(conn: sqlite3.Connection) -> Path:
    """The file of a connection's main database."""
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def _readable_rows(old: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    """Rows of ``table`` as dicts: all at once if possible, else chunk by chunk and row by row
    around the damaged pages (by rowid up to the largest one SQLite can still find)."""
    try:
        cur = old.execute(f"SELECT rowid AS _rowid, * FROM {table}")
        names = [d[0] for d in cur.description]
        yield from (dict(zip(names, r, strict=True)) for r in cur.fetchall())
        return
    except sqlite3.DatabaseError as e:
        log.warning("catalog table %s: reading around damage (%s)", table, e)
    try:
        top = int(old.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        return
    sql = f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid BETWEEN ? AND ?"
    for start in range(0, top + 1, _CHUNK):
        ranges = [(start, start + _CHUNK - 1)] + [(i, i) for i in range(start, start + _CHUNK)]
        for lo, hi in ranges:
            try:
                cur = old.execute(sql, (lo, hi))
                names = [d[0] for d in cur.description]
                yield from (dict(zip(names, r, strict=True)) for r in cur.fetchall())
            except sqlite3.DatabaseError:
                continue
            if hi - lo > 0:
                break  # the whole chunk read: no row by row


def _insert(
    new: sqlite3.Connection, table: str, rows: list[dict[str, Any]], report: Salvage
) -> int:
    """Insert the rows that fit the new schema and pass their checks; returns how many."""
    columns = {r[1] for r in new.execute(f"PRAGMA table_info({table})")}
    done = 0
    for row in rows:
        row.pop("_rowid", None)
        if not _sound(table, row):
            report.lost_vectors += table == "vectors"
            continue
        if "path" in row and isinstance(row["path"], str):
            row["path"] = path_key(row["path"])  # catalogs before v5 stored text
        values = {k: v for k, v in row.items() if k in columns}
        names = ",".join(values)
        marks = ",".join("?" * len(values))
        try:
            new.execute(f"INSERT OR REPLACE INTO {table}({names}) VALUES ({marks})",
                        tuple(values.values()))
            done += 1
        except sqlite3.Error as e:  # garbage that still parsed: a bad type or a lost parent
            report.lost_vectors += table == "vectors"
            log.debug("row of %s not kept: %s", table, e)
    return done


def _sound(table: str, row: dict[str, Any]) -> bool:
    """Whether a row read from damaged pages is whole (vectors and locals by their CRC-32)."""
    if table != "vectors":
        return True
    vector, locals_ = row.get("vector"), row.get("locals")
    if not isinstance(vector, bytes) or zlib.crc32(vector) != row.get("vector_crc32"):
        return False
    crc = row.get("locals_crc32")
    if locals_ is not None and crc is not None:
        return isinstance(locals_, bytes) and zlib.crc32(locals_) == crc
    if locals_ is not None:
        row["locals_crc32"] = zlib.crc32(locals_)  # from before v5: record it now
    return True
