"""The catalog's ``thumbs`` rows: each photo's grey thumbnail for the duplicates' copy screen
(:class:`lookalike.types.Thumb`; ``lookalike.search.copy_screen``). Written beside the photo's
vector when it is embedded, or later from its file for photos embedded before schema v8; a
removed photo's row goes with it (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lookalike.errors import BugError
from lookalike.types import Thumb

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog

_IN_CHUNK = 500
"""Ids per ``IN (...)`` query (below SQLite's variable limit)."""


def put_thumbs(catalog: Catalog, thumbs: Mapping[int, Thumb | None]) -> None:
    """Store (or, for None, drop) the thumbnails of existing photos, in one transaction.

    Raises:
        BugError: a thumbnail that is not a square uint8 image.
    """
    rows, gone = [], []
    for photo_id, thumb in thumbs.items():
        if thumb is None:
            gone.append((photo_id,))
            continue
        pixels = thumb.pixels
        if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[0] != pixels.shape[1]:
            raise BugError(f"a thumbnail must be (S, S) uint8, got {pixels.shape} {pixels.dtype}")
        rows.append((photo_id, thumb.width, thumb.height, np.ascontiguousarray(pixels).tobytes()))
    with catalog.transaction():
        db = catalog._db
        db.executemany("INSERT OR REPLACE INTO thumbs(photo_id, width, height, pixels) "
                       "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?)",
                       [(*r, r[0]) for r in rows])  # fmt: skip
        db.executemany("DELETE FROM thumbs WHERE photo_id = ?", gone)


def thumbs_of(catalog: Catalog, photo_ids: Sequence[int]) -> dict[int, Thumb]:
    """The stored thumbnails of these photos (those without one are left out)."""
    out: dict[int, Thumb] = {}
    wanted = sorted({int(i) for i in photo_ids})
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        sql = ("SELECT photo_id, width, height, pixels FROM thumbs "
               f"WHERE photo_id IN ({','.join('?' * len(chunk))})")  # fmt: skip
        for pid, width, height, blob in catalog._all(sql, chunk):
            side = round(len(blob) ** 0.5)
            if side * side != len(blob) or width <= 0 or height <= 0:
                continue  # not a thumbnail this version wrote: made again when needed
            pixels = np.frombuffer(blob, np.uint8).reshape(side, side)
            out[int(pid)] = Thumb(pixels, int(width), int(height))
    return out
