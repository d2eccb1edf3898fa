"""Vectors kept from a removed folder, by (content hash, size, model), so adding the folder
back does not embed its photos again. :class:`~lookalike.store.catalog.Catalog` calls these.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lookalike.store.catalog_files import path_key
from lookalike.types import vector_from_bytes

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog

RETIRED_KEEP_NS = 90 * 24 * 3600 * 10**9
"""How long the vectors of a removed folder's photos are kept for when it is added back."""


def retire_root(catalog: Catalog, path: Path) -> None:
    """Keep the vectors of the root's hashed, indexed photos and drop those kept longer than
    :data:`RETIRED_KEEP_NS`; call inside the transaction that removes the root."""
    now = time.time_ns()
    catalog._write(
        "INSERT OR REPLACE INTO retired_vectors SELECT p.content_hash, p.size_bytes, "
        "v.model_id, v.vector, v.peaks, v.locals, ? FROM photos p "
        "JOIN roots r ON r.id = p.root_id JOIN vectors v ON v.photo_id = p.id "
        "WHERE r.path = ? AND p.status = 'indexed' AND p.content_hash IS NOT NULL",
        (now, path_key(path)),
    )
    catalog._write("DELETE FROM retired_vectors WHERE retired_at_ns < ?",
                   (now - RETIRED_KEEP_NS,))  # fmt: skip


def reuse_retired(
    catalog: Catalog, photo_id: int, content_hash: str, size_bytes: int, model_id: str
) -> npt.NDArray[np.float32] | None:
    """Give a pending photo the vector its content had in a removed folder, if kept.

    Returns:
        The (D,) float32 vector now stored for ``photo_id`` (it is 'indexed'), or None
        when no vector of this content (hash and size) and model was kept.
    """
    key = (content_hash, size_bytes, model_id)
    where = "WHERE content_hash = ? AND size_bytes = ? AND model_id = ?"
    with catalog.transaction():
        rows = catalog._all(f"SELECT vector, peaks, locals FROM retired_vectors {where}", key)
        if not rows:
            return None
        vector = vector_from_bytes(rows[0][0])
        locals_ = None if rows[0][2] is None else bytes(rows[0][2])
        catalog.set_indexed(photo_id, model_id, vector, bytes(rows[0][1]), locals_)
        catalog._write(f"DELETE FROM retired_vectors {where}", key)
        return vector
