"""How the catalog meets the disk: paths stored as the OS's bytes, SQLite's damage and full-disk
errors in plain words, ``PRAGMA quick_check``, the roots backup beside the catalog, names for
files kept aside, and a read of ``meta`` that changes nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lookalike.errors import CatalogCorrupt, DiskFull


class CatalogDamaged(CatalogCorrupt):
    """SQLite reports damaged pages (or the file is no database): a copy of what is readable
    can rebuild it, see ``lookalike.store.salvage``."""


def roots_backup_path(catalog: Path) -> Path:
    """Where the catalog's root folders are copied (JSON list), beside the catalog."""
    return catalog.with_name(catalog.name + ".roots.json")


def read_roots_backup(catalog: Path) -> list[Path]:
    """The root folders last copied beside ``catalog`` (empty if none or unreadable)."""
    try:
        folders = json.loads(roots_backup_path(catalog).read_text(encoding="utf-8"))
        return [Path(f) for f in folders if isinstance(f, str)]
    except (OSError, ValueError, TypeError):
        return []


def aside_path(path: Path, label: str) -> Path:
    """A new name beside ``path`` for keeping it aside: ``<name>.<label>-<time>[-n]`` (never
    one that exists, so nothing kept aside earlier is overwritten)."""
    base = f"{path.name}.{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, n = path.with_name(base), 1
    while any(Path(f"{candidate}{s}").exists() for s in ("", "-wal", ".json")):
        candidate, n = path.with_name(f"{base}-{n}"), n + 1
    return candidate


def path_key(path: Path | str) -> bytes:
    """The bytes a path is stored as: exactly what the OS gave (``os.fsencode``), so names
    that are not UTF-8 round-trip (Python holds them as surrogate escapes)."""
    return os.fsencode(path)


def key_path(value: bytes | str) -> Path:
    """A stored path back as a Path (TEXT from before v5 is accepted too)."""
    return Path(value if isinstance(value, str) else os.fsdecode(bytes(value)))


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn a full disk and damaged pages into KnownErrors the user can act on."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        code = getattr(e, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL:
            raise DiskFull(
                f"the disk holding the library is full ({path.parent}): the last change was "
                "undone and nothing was lost; free some space and run the command again"
            ) from e
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            raise CatalogDamaged(
                f"the catalog {path} is damaged ({e}); run 'lookalike check' to repair it"
            ) from e
        raise


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` (every page read once, no index cross-check); raises
    CatalogDamaged with SQLite's first finding."""
    found = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if found != ["ok"]:
        lines = [ln for f in found for ln in f.splitlines() if ln and not ln.startswith("***")]
        more = f" and {len(lines) - 1} more problems" if len(lines) > 1 else ""
        raise CatalogDamaged(f"the catalog {path} is damaged: {(lines or found)[0]}{more}")


def peek_meta(path: Path, key: str) -> str | None:
    """A ``meta`` value of the catalog file ``path``, read only: no schema is created or
    migrated, no check runs and no lock is needed. None when absent or unreadable."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except (sqlite3.Error, ValueError):
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])
