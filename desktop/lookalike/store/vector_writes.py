"""Writing the catalog's vectors: store one photo's descriptor, or switch the vector space.
:class:`~lookalike.store.catalog.Catalog` methods of the same names call these.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError
from lookalike.store.hnsw import check_vectors, vector_crc32
from lookalike.types import PEAK_DTYPE, vector_to_bytes

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog

log = logging.getLogger(__name__)


def check_descriptor(vector: npt.NDArray[np.float32], peaks: bytes, locals_: bytes | None) -> None:
    """Raise BugError unless ``vector`` is (D,) and the blobs are bytes of whole records."""
    if not isinstance(vector, np.ndarray) or vector.ndim != 1:
        raise BugError(f"vector must be (D,), got {getattr(vector, 'shape', type(vector))}")
    if not isinstance(peaks, bytes) or len(peaks) % PEAK_DTYPE.itemsize:
        raise BugError(f"peaks must be bytes of {PEAK_DTYPE.itemsize}-byte records")
    if locals_ is not None and not isinstance(locals_, bytes):
        raise BugError("locals must be bytes or None")


def set_indexed(
    catalog: Catalog,
    photo_id: int,
    model_id: str,
    vector: npt.NDArray[np.float32],
    peaks: bytes,
    locals_: bytes | None = None,
) -> None:
    """Store a photo's descriptor and mark it 'indexed'.

    Args:
        catalog: the open catalog.
        photo_id: an existing photo.
        model_id: must be the catalog's model (the first vector records it).
        vector: (D,) float32, finite, unit norm; D is fixed per model.
        peaks: ``types.peaks_to_bytes`` output (8 bytes per record).
        locals_: ``types.locals_to_bytes`` output, or None when there are none.

    Raises:
        BugError: invalid vector or peaks, another model, or an unknown photo.
    """
    check_descriptor(vector, peaks, locals_)
    with catalog.transaction():
        current, dim = catalog.get_meta("model_id"), catalog.get_meta("dim")
        vec = check_vectors(vector[None, :], int(dim) if dim else None)[0]
        if current is not None and current != model_id:
            raise BugError(f"vector of model {model_id} into a catalog of model {current}")
        if current is None or dim is None:
            catalog.set_meta("model_id", model_id)
            catalog.set_meta("dim", str(vec.shape[0]))
        sql = "UPDATE photos SET status = 'indexed', skip_reason = NULL, indexed_at_ns = ? "
        if not catalog._write(sql + "WHERE id = ?", (time.time_ns(), photo_id)):
            raise BugError(f"set_indexed: no photo {photo_id}")
        catalog._write(
            "INSERT OR REPLACE INTO vectors(photo_id, model_id, vector, peaks, vector_crc32, "
            "locals, locals_crc32) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (photo_id, model_id, vector_to_bytes(vec), peaks, vector_crc32(vec), locals_,
             None if locals_ is None else zlib.crc32(locals_)),
        )


def set_model(catalog: Catalog, model_id: str) -> bool:
    """Make ``model_id`` the catalog's vector space.

    Returns:
        True if another model was recorded: its vectors are dropped and its 'indexed'
        photos go back to 'pending' to be re-embedded. False if unchanged or first set.
    """
    with catalog.transaction():
        current = catalog.get_meta("model_id")
        catalog.set_meta("model_id", model_id)
        if current == model_id:
            return False
        catalog._write("DELETE FROM vectors WHERE model_id != ?", (model_id,))
        catalog._write("DELETE FROM whitening WHERE model_id != ?", (model_id,))
        catalog._write("DELETE FROM retired_vectors WHERE model_id != ?", (model_id,))
        catalog._write(
            "UPDATE photos SET status = 'pending', indexed_at_ns = NULL "
            "WHERE status = 'indexed' AND id NOT IN (SELECT photo_id FROM vectors)"
        )
        catalog._write("DELETE FROM meta WHERE key = 'dim'")
    if current is not None:
        log.info("model changed from %s to %s: every photo is re-embedded", current, model_id)
    return current is not None
