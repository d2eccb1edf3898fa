"""How the catalog meets the disk: paths stored as the OS's bytes, SQLite's damage and full-disk
errors in plain words, ``PRAGMA quick_check`` and the clean-close record that lets it be skipped,
the roots backup beside the catalog, names for files kept aside, and a read of ``meta`` that
changes nothing."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lookalike.errors import CatalogCorrupt, DiskFull

log = logging.getLogger(__name__)


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
    CatalogDamaged with SQLite's first finding.

    Skipped when :func:`closed_cleanly` says the file is exactly as its last clean close left
    it: reading every page costs about 2 s per GB (0.49 s for 10k photos), which an open of a
    big library cannot afford each time.
    """
    if closed_cleanly(path):
        log.debug("catalog %s closed cleanly and unchanged since: quick_check skipped", path)
        return
    found = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if found != ["ok"]:
        lines = [ln for f in found for ln in f.splitlines() if ln and not ln.startswith("***")]
        more = f" and {len(lines) - 1} more problems" if len(lines) > 1 else ""
        raise CatalogDamaged(f"the catalog {path} is damaged: {(lines or found)[0]}{more}")


def clean_close_path(catalog: Path) -> Path:
    """Where the last clean close of ``catalog`` is recorded (JSON), beside the catalog."""
    return catalog.with_name(catalog.name + ".closed.json")


def _fingerprint(catalog: Path) -> dict[str, int]:
    """What identifies one state of the catalog file without reading it; raises OSError."""
    st = os.stat(catalog)
    return {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def record_clean_close(catalog: Path, checked_s: float) -> bool:
    """Record that ``catalog`` was just closed cleanly; call it after the last connection closed,
    while the library's lock is still held.

    SQLite removes the ``-wal`` file when the last connection closes cleanly, so one still
    there means another connection is open (or the close failed): nothing is recorded then.
    The file's mtime is moved on by 1 ns first, so that a write in the same clock tick (the
    kernel stamps writes with a coarse clock) still changes it.

    Args:
        catalog: the catalog file.
        checked_s: when (``time.time()``) every page was last checked, kept for
            :func:`last_checked_s`.

    Returns:
        Whether a record was written (a failure is logged; it only costs a check next time).
    """
    try:
        if Path(f"{catalog}-wal").exists():
            return False
        st = os.stat(catalog)
        os.utime(catalog, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
        record = clean_close_path(catalog)
        tmp = record.with_name(record.name + ".tmp")
        tmp.write_text(json.dumps({**_fingerprint(catalog), "checked_s": checked_s}),
                       encoding="utf-8")
        os.replace(tmp, record)
    except OSError as exc:
        log.warning("could not record the clean close of %s: %s", catalog, exc)
        return False
    return True


def last_checked_s(catalog: Path) -> float | None:
    """When every page of ``catalog`` was last checked (``time.time()``), if it was closed
    cleanly since (:func:`closed_cleanly`); else None."""
    if not closed_cleanly(catalog):
        return None
    try:
        return float(json.loads(clean_close_path(catalog).read_text(encoding="utf-8"))
                     ["checked_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget_clean_close(catalog: Path) -> None:
    """Drop the clean-close record of ``catalog`` (call it once the catalog is open for use),
    so that a crash before the next clean close leaves none behind."""
    try:
        clean_close_path(catalog).unlink(missing_ok=True)
    except OSError as exc:  # the -wal and mtime tests of closed_cleanly still hold
        log.warning("could not remove %s: %s", clean_close_path(catalog), exc)


def closed_cleanly(catalog: Path) -> bool:
    """Whether ``catalog`` is exactly as its last recorded clean close left it.

    True only when the record exists and the file's size, mtime (ns) and inode all match it,
    and no ``-wal`` holds frames. That catches a crash mid-write (no record: it is dropped at
    open and written at close only; a -wal left with frames; or a checkpoint that wrote the
    file), and the file written, truncated or replaced by anything else since (another
    program, a copy or restore, the fault tests' smashed pages). It cannot catch damage that
    leaves size and mtime alone: bits flipped on the medium, a disk that returns bad sectors.
    Damage SQLite notices when it reads the page during use becomes ``CatalogDamaged`` with
    "run 'lookalike check'" (see :func:`sqlite_errors`); damaged cell contents can also read
    back as missing or wrong rows with no error at all (``tests/faults/
    test_store_clean_close.py``). ``lookalike check`` always reads every page, and
    ``lookalike.library.integrity`` checks at open a catalog last checked over a week ago,
    which bounds how long such damage can go unseen.
    """
    try:
        record = json.loads(clean_close_path(catalog).read_text(encoding="utf-8"))
        wal = Path(f"{catalog}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            return False
        fingerprint = _fingerprint(catalog)
        return isinstance(record, dict) and all(record.get(k) == v for k, v in fingerprint.items())
    except (OSError, ValueError):
        return False


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
