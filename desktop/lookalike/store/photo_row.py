"""One row of the catalog's ``photos`` table as a frozen dataclass."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lookalike.store.catalog_files import key_path
from lookalike.types import PhotoStatus

PHOTO_SELECT = "SELECT id, root_id, path, size_bytes, mtime_ns, content_hash, status, " \
    "skip_reason FROM photos"  # fmt: skip
"""The columns :func:`photo_from_row` reads, in order."""


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


def photo_from_row(row: sqlite3.Row) -> PhotoRow:
    """A :class:`PhotoRow` from a row selected by :data:`PHOTO_SELECT`."""
    id_, root_id, path, *rest = tuple(row)
    return PhotoRow(id_, root_id, key_path(path), *rest)
