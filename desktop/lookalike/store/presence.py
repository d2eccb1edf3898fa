"""Which photos are still there: roots whose drive comes and goes, and the sweep that ends
a full rescan. :class:`~lookalike.store.catalog.Catalog` methods of the same names call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookalike.errors import BugError

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog


def set_root_online(catalog: Catalog, root_id: int, online: bool) -> list[int]:
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
    with catalog.transaction():
        catalog._write("UPDATE roots SET online = ? WHERE id = ?", (int(online), root_id))
        ids = catalog._ids(f"SELECT id FROM photos WHERE root_id = ? AND {which}", (root_id,))
        catalog._write(
            f"UPDATE photos SET status = {status} WHERE root_id = ? AND {which}", (root_id,)
        )
        return ids


def sweep(catalog: Catalog, root_id: int) -> list[int]:
    """Delete the root's photos still unseen since :meth:`Catalog.begin_sweep`; returns their ids.

    Raises:
        BugError: the root is offline (its unplugged drive would look empty).
    """
    with catalog.transaction():
        if catalog._one("SELECT online FROM roots WHERE id = ?", (root_id,)) == 0:
            raise BugError(f"sweep of offline root {root_id} would delete all its photos")
        ids = catalog._ids("SELECT id FROM photos WHERE root_id = ? AND seen = 0", (root_id,))
        catalog.remove_photos(ids)
        return ids
