"""Opening the catalog file: connect, switch to WAL, check, configure and migrate."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from lookalike.store.catalog_files import quick_check
from lookalike.store.migrations import migrate

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def journal_wal(conn: sqlite3.Connection) -> str:
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


def connect(path: Path) -> tuple[sqlite3.Connection, bool]:
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
        mode = journal_wal(conn)
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
