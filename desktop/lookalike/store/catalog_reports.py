"""What the catalog reports about itself: counts, skipped photos and integrity problems.
:class:`~lookalike.store.catalog.Catalog` methods of the same names call these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lookalike.store.catalog_files import key_path

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog


def skipped(catalog: Catalog) -> list[tuple[Path, str]]:
    """(path, reason) of every skipped photo, by path."""
    sql = "SELECT path, skip_reason FROM photos WHERE status = 'skipped' ORDER BY path"
    return [(key_path(r[0]), str(r[1] or "")) for r in catalog._all(sql)]


def stats(catalog: Catalog) -> dict[str, int]:
    """Counts of 'indexed', 'pending', 'skipped' and 'offline' photos, and of 'roots'."""
    counts = dict.fromkeys(("indexed", "pending", "skipped", "offline"), 0)
    for status, n in catalog._all("SELECT status, count(*) FROM photos GROUP BY status"):
        counts[status] = int(n)
    counts["roots"] = int(catalog._one("SELECT count(*) FROM roots"))
    return counts


def integrity_problems(catalog: Catalog) -> list[str]:
    """What ``PRAGMA integrity_check`` and ``foreign_key_check`` find (empty: none; slow)."""
    found = [str(r[0]) for r in catalog._all("PRAGMA integrity_check(20)")]
    keys = catalog._all("PRAGMA foreign_key_check")
    lost = [f"row {r[1]} of {r[0]} lost its parent" for r in keys]
    return [f for f in found if f != "ok"] + lost
