"""Opening a library safely, and ``lookalike check``: one owner, damage found and repaired.

:func:`open_catalog` is the first step of ``Library.open``: it takes the library's lock (one
process at a time), opens the catalog with ``PRAGMA quick_check`` unless it was closed cleanly
and is unchanged since (``lookalike.store.catalog_files.closed_cleanly``), rebuilds it from its
readable rows when damaged (``lookalike.store.salvage``), and sets aside an index that a lost
or emptied catalog can no longer vouch for. Releasing the lock records the clean close.
:func:`check_library` runs every check on request.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import (
    aside_path,
    forget_clean_close,
    last_checked_s,
    read_roots_backup,
    record_clean_close,
)
from lookalike.store.hnsw_files import sidecar_path
from lookalike.store.index_sync import load_or_rebuild
from lookalike.store.lock import LibraryLock
from lookalike.store.salvage import open_or_recover, recover
from lookalike.store.whitening import Whitening

log = logging.getLogger(__name__)

CHECK_EVERY_S = 7 * 24 * 3600.0
"""Longest time (seconds) between two checks of every catalog page at open, even when it was
closed cleanly each time: bounds how long damage that leaves the file's size and mtime alone
(a failing disk) can go unseen."""


def open_catalog(home: Path, catalog_file: str, index_file: str, *, always_check: bool = False
                 ) -> tuple[LibraryLock, Catalog, list[str]]:
    """Lock the library in ``home`` and open its catalog, repairing what must be.

    ``PRAGMA quick_check`` runs unless the catalog was closed cleanly, is unchanged since and
    was checked less than :data:`CHECK_EVERY_S` ago (or always, with ``always_check``). The
    clean-close record is dropped once the catalog is open and written again when the lock is
    released after the catalog was closed, so a crash in between leaves none.

    Returns:
        The held lock, the open catalog, and one plain-words note per repair (also logged
        as warnings): a damaged catalog rebuilt, an orphaned index set aside.

    Raises:
        LibraryBusy: another process has the library open.
        CatalogCorrupt: the catalog cannot be used (newer, not ours) and was left as it is.
        DiskFull: no room to open or repair it.
    """
    lock = LibraryLock.acquire(home)
    try:
        path = home / catalog_file
        checked_s = last_checked_s(path)
        if always_check or checked_s is None or time.time() - checked_s > CHECK_EVERY_S:
            forget_clean_close(path)  # Catalog.open runs quick_check without it
            checked_s = time.time()
        catalog, salvage = open_or_recover(path)
        forget_clean_close(path)
        lock.on_release(functools.partial(record_clean_close, path, checked_s))
        notes = [salvage.message(path)] if salvage is not None else []
        try:
            orphan = _set_aside_orphaned_index(catalog, home / index_file)
        except BaseException:
            catalog.close()
            raise
    except BaseException:
        lock.release()
        raise
    notes += [orphan] if orphan else []
    for note in notes:
        log.warning("%s", note)
    return lock, catalog, notes


def _live_count(index_path: Path) -> int:
    """Live vectors the index's sidecar records (0 if there is no readable sidecar)."""
    try:
        return int(json.loads(sidecar_path(index_path).read_text("utf-8"))["live_count"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1 if index_path.exists() else 0  # an index without sidecar: assume it held some


def _set_aside_orphaned_index(catalog: Catalog, index_path: Path) -> str | None:
    """An index with vectors beside a catalog without photos (missing, emptied, or its WAL
    lost before the first checkpoint): keep the index aside and say so.

    The index maps photo ids to vectors, never to files, so without the catalog's rows no
    vector can be given back to its photo; re-embedding is the only sound way. The folders
    come back from the catalog's roots backup so the next scan finds the photos again.
    """
    stats = catalog.stats()
    held = _live_count(index_path)
    if sum(stats[k] for k in ("indexed", "pending", "skipped", "offline")) or not held:
        return None
    aside = aside_path(index_path, "orphaned")
    os.replace(index_path, aside)
    if sidecar_path(index_path).exists():
        os.replace(sidecar_path(index_path), sidecar_path(aside))
    folders = [f for f in read_roots_backup(catalog.path) if f.is_absolute()]
    if not stats["roots"]:
        for folder in folders:
            catalog.add_root(folder)
    what = "was missing or empty" if catalog.created else "has no photos left"
    again = (f"its {len(folders)} folders were taken from the backup list and their photos "
             "will be indexed again" if folders and not stats["roots"]
             else "add your folders again with 'lookalike index FOLDER' to index them again")
    return (f"The library's catalog {catalog.path.name} {what}, but its index held {held} "
            f"photos. The index cannot say which file each vector belongs to, so it was kept "
            f"aside unused as {aside.name}; {again}.")


@dataclass
class CheckReport:
    """What :func:`check_library` found and repaired, in plain words.

    Attributes:
        found: one line per problem found (empty: all is well).
        repaired: one line per repair made.
        checked: one line per check run, with its numbers.
    """

    found: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def check_library(home: Path, catalog_file: str, index_file: str) -> CheckReport:
    """Run every integrity check on the library in ``home`` and repair what it can.

    Checks: SQLite's full ``integrity_check`` and foreign keys, every stored vector's and
    local features' CRC-32, the index file's checksum, and the index against the catalog.

    Raises:
        LibraryBusy: another process has the library open.
        CatalogCorrupt, DiskFull: as :func:`open_catalog`.
    """
    report = CheckReport()
    lock, catalog, notes = open_catalog(home, catalog_file, index_file, always_check=True)
    try:
        report.found += notes
        report.repaired += ["done when the library was opened: as found above"] if notes else []
        problems = catalog.integrity_problems()
        report.checked.append(f"catalog integrity check: {len(problems) or 'no'} problems")
        if problems:
            catalog.close()
            catalog, salvage = recover(catalog.path, "; ".join(problems[:3]))
            report.found.append(salvage.message(catalog.path))
            report.repaired.append("the catalog was rebuilt from its readable rows")
        _check_rows(catalog, report)
        _check_index(catalog, home / index_file, report)
    finally:
        catalog.close()
        lock.release()
    return report


def _check_rows(catalog: Catalog, report: CheckReport) -> None:
    """Vectors and local features against their CRC-32s; damaged ones are re-embedded."""
    for what, bad in (("vectors", catalog.damaged_vectors()),
                      ("local features", catalog.damaged_locals())):
        report.checked.append(f"stored {what}: {len(bad)} damaged")
        if bad:
            catalog.reembed(bad)
            report.found.append(f"{len(bad)} photos' stored {what} failed their checksum")
            report.repaired.append(f"those {len(bad)} photos were marked to be embedded again "
                                   "(run 'lookalike index' or open the window)")


def _check_index(catalog: Catalog, index_path: Path, report: CheckReport) -> None:
    """The index file's checksum and its contents against the catalog; rebuilt or patched."""
    model_id, dim = catalog.get_meta("model_id"), catalog.get_meta("dim")
    if model_id is None or dim is None:
        report.checked.append("index: nothing indexed yet")
        return
    blob = catalog.whitening(model_id)
    white = None
    try:
        white = Whitening.from_bytes(blob) if blob is not None else None
    except ValueError as exc:
        report.found.append(f"the stored whitening is unreadable ({exc}); it is not used")
    index, reason = load_or_rebuild(index_path, catalog, model_id, int(dim), whitening=white)
    if reason is not None:
        report.found.append(f"the index {index_path.name} was {reason}")
        report.repaired.append(f"the index was rebuilt or patched from the catalog ({reason})")
    searchable = catalog.count_indexed(model_id)
    report.checked.append(f"index: {index.live_count} photos; catalog: {searchable} searchable")
    if index.live_count != searchable:
        report.found.append(f"the index holds {index.live_count} photos but the catalog "
                            f"{searchable}")
