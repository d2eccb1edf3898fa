"""Schema versions of the catalog: create the latest in a new file, or step an old one up.

RC-style: ``PRAGMA user_version`` holds the version, a newer file is refused, and each step
``MIGRATIONS[v]`` (v -> v + 1) runs in its own transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from lookalike.errors import CatalogCorrupt
from lookalike.store.hnsw import vector_crc32
from lookalike.types import vector_from_bytes

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8


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


def _migrate_4_to_5(conn: sqlite3.Connection) -> None:
    """v4 → v5: paths become the OS's bytes (BLOB), local features get a CRC-32."""
    conn.execute("UPDATE roots SET path = CAST(path AS BLOB)")
    conn.execute("UPDATE photos SET path = CAST(path AS BLOB)")
    conn.execute("ALTER TABLE vectors ADD COLUMN locals_crc32 INTEGER")
    rows = conn.execute("SELECT photo_id, locals FROM vectors WHERE locals IS NOT NULL")
    conn.executemany(
        "UPDATE vectors SET locals_crc32 = ? WHERE photo_id = ?",
        [(zlib.crc32(blob), pid) for pid, blob in rows.fetchall()],
    )


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


def _migrate_5_to_6(conn: sqlite3.Connection) -> None:
    """v5 → v6: add ``retired_vectors`` (a removed folder added back is not embedded again)."""
    conn.execute(_RETIRED_TABLE)


def _migrate_6_to_7(conn: sqlite3.Connection) -> None:
    """v6 → v7: add ``photos.taken_ns`` (the EXIF DateTimeOriginal, read when a photo is
    embedded) and an index on the photo's date, ``COALESCE(taken_ns, mtime_ns)``.

    Existing rows keep NULL, so their date is their file time (``mtime_ns``) until they are
    embedded again: no file is opened during the migration.
    """
    conn.execute("ALTER TABLE photos ADD COLUMN taken_ns INTEGER")
    conn.execute(_DATE_INDEX)


_DATE_INDEX = "CREATE INDEX photos_date ON photos(COALESCE(taken_ns, mtime_ns))"

_THUMBS_TABLE = """
CREATE TABLE thumbs (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    width    INTEGER NOT NULL,
    height   INTEGER NOT NULL,
    pixels   BLOB NOT NULL
)"""


def _migrate_7_to_8(conn: sqlite3.Connection) -> None:
    """v7 → v8: add ``thumbs`` (each photo's grey thumbnail for the duplicates' copy screen).

    Photos embedded before have none: no file is opened during the migration; the duplicate
    finder makes the ones it needs from the files (``lookalike.library.copy_screening``).
    """
    conn.execute(_THUMBS_TABLE)

# MIGRATIONS[v] turns schema v into v + 1; each step runs in its own transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
    5: _migrate_5_to_6,
    6: _migrate_6_to_7,
    7: _migrate_7_to_8,
}


def _statements(script: str) -> Iterator[str]:
    """The complete SQL statements of a script, in order."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


def migrate(conn: sqlite3.Connection, path: Path) -> bool:
    """Create the latest schema in an empty file, or step an older one up to SCHEMA_VERSION.

    The version is read inside the write transaction, so two processes opening a new file at
    once cannot both create the tables. Returns True if the schema was created just now.
    """
    conn.execute("BEGIN IMMEDIATE")
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
        for statement in _statements(schema):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        return True
    conn.execute("COMMIT")
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
        log.info("catalog %s migrated from schema %d to %d", path, step, step + 1)
    return False
