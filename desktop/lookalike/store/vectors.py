"""Checks every (N, D) descriptor array passes on its way into the store, and the CRC-32 that
identifies one stored vector (catalog, index sidecar and index diffs compare them)."""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError
from lookalike.types import Vectors

UNIT_NORM_TOLERANCE = 1e-3


def check_vectors(vectors: object, dim: int | None = None) -> Vectors:
    """Validate (N, D) float32 descriptors with finite, L2-normalised rows (D = ``dim`` if set).

    Returns:
        The same data, C-contiguous (no copy when it already was).

    Raises:
        BugError: wrong type, dtype, shape, a non-finite value or a norm off by more than 1e-3.
    """
    if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32:
        kind = getattr(vectors, "dtype", type(vectors))
        raise BugError(f"vectors must be a float32 ndarray, got {kind}")
    if vectors.ndim != 2 or vectors.shape[1] < 1 or (dim is not None and vectors.shape[1] != dim):
        raise BugError(f"vectors must be (N, {dim or 'D'}), got {vectors.shape}")
    arr: Vectors = np.ascontiguousarray(vectors)
    if not np.isfinite(arr).all():
        raise BugError("vectors contain NaN or infinity")
    norms = np.linalg.norm(arr, axis=1)
    if norms.size and float(np.abs(norms - 1.0).max()) > UNIT_NORM_TOLERANCE:
        raise BugError(f"vectors must be L2-normalised, norms range {norms.min()}..{norms.max()}")
    return arr


def vector_crc32(vector: npt.NDArray[np.float32]) -> int:
    """CRC-32 of one (D,) float32 descriptor's bytes, as stored in ``vectors.vector_crc32``."""
    return zlib.crc32(np.ascontiguousarray(vector, dtype=np.float32).data)
