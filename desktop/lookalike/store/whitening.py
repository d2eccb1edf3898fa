"""Whitening learned from a library's own photos, without labels.

The shipped models use identity whitening: PCA-whitening fitted on photos that are not the
user's did not help (models/MODELS.md). What does help is the learned whitening of Radenović
et al. ("CNN image retrieval learns from BoW", 2016/2018) fitted on the library itself. It needs
pairs of photos that show the same thing; a library has no labels, but its *mutual* nearest
neighbours (A's nearest photo is B and B's is A) are such pairs far more often than not.

The map is ``x ↦ l2n(W (x - m))`` with ``m`` the library mean and ``W = C_s^(-1/2)`` for ``C_s``
the covariance of the differences of matching pairs: directions in which photos of the same
thing differ (light, viewpoint, clutter) are shrunk, the others kept. Eigenvalues are shrunk
towards their mean (``C_s + shrink · mean(eig) · I``) because a library gives far fewer pairs
than dimensions. No dimensions are dropped, so the index keeps its size and the stored
vectors (kept unwhitened in the catalog) can be re-projected at any time, or left as they are.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.types import l2n

Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]

SHRINK = 1.0
"""Eigenvalue shrinkage, in units of the mean eigenvalue."""
MIN_PAIRS = 20
"""Fewest mutual-neighbour pairs a fit needs (below it the library is too small to learn from)."""


@dataclass(frozen=True, eq=False)
class Whitening:
    """A learned whitening: ``apply(x) = l2n((x - mean) @ matrix)``.

    Attributes:
        mean: (D,) float32 library mean.
        matrix: (D, D) float32, symmetric.
        pairs: mutual-neighbour pairs it was fitted on.
        photos: photos in the library when it was fitted.
    """

    mean: Floats
    matrix: Floats
    pairs: int
    photos: int

    @property
    def digest(self) -> str:
        """Identity of the map (16 hex digits): an index built with another one is stale."""
        h = hashlib.sha256(np.ascontiguousarray(self.mean).tobytes())
        h.update(np.ascontiguousarray(self.matrix).tobytes())
        return h.hexdigest()[:16]

    def apply(self, vectors: npt.ArrayLike) -> Floats:
        """Whiten (D,) or (N, D) unit vectors; returns unit vectors of the same shape."""
        x = np.asarray(vectors, np.float32)
        out = l2n((x - self.mean) @ self.matrix)
        return out

    def to_bytes(self) -> bytes:
        """Serialise (NumPy ``.npz``, no pickle)."""
        buf = io.BytesIO()
        counts = np.array([self.pairs, self.photos], np.int64)
        np.savez(buf, mean=self.mean, matrix=self.matrix, counts=counts)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Whitening:
        """Inverse of :meth:`to_bytes` (ValueError on anything else)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                mean, matrix, counts = z["mean"], z["matrix"], z["counts"]
        except (OSError, KeyError, EOFError) as exc:
            raise ValueError(f"not a whitening: {exc}") from exc
        if mean.ndim != 1 or matrix.shape != (len(mean), len(mean)):
            raise ValueError(f"whitening of shape {mean.shape} / {matrix.shape}")
        return cls(mean.astype(np.float32), matrix.astype(np.float32), int(counts[0]),
                   int(counts[1]))  # fmt: skip


def mutual_pairs(ids: Ids, nearest: Ids) -> npt.NDArray[np.int64]:
    """Pairs of photos that are each other's nearest neighbour.

    Args:
        ids: (N,) photo ids.
        nearest: (N,) id of each photo's nearest other photo (-1: none).

    Returns:
        (P, 2) positions into ``ids`` (i < j), each pair once.
    """
    position = {int(pid): i for i, pid in enumerate(ids.tolist())}
    out = []
    for i, other in enumerate(nearest.tolist()):
        j = position.get(int(other), -1)
        if j > i and position.get(int(nearest[j]), -1) == i:
            out.append((i, j))
    return np.asarray(out, np.int64).reshape(-1, 2)


def fit(vectors: Floats, pairs: npt.NDArray[np.int64], shrink: float = SHRINK) -> Whitening:
    """Fit the learned whitening on a library's vectors and its matching pairs.

    Args:
        vectors: (N, D) unit vectors of the library (unwhitened).
        pairs: (P, 2) rows of ``vectors`` that show the same thing.
        shrink: eigenvalue shrinkage (see the module docstring).

    Raises:
        ValueError: fewer than ``MIN_PAIRS`` pairs.
    """
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"{len(pairs)} matching pairs; at least {MIN_PAIRS} are needed")
    x = np.asarray(vectors, np.float64)
    diffs = x[pairs[:, 0]] - x[pairs[:, 1]]
    cov = diffs.T @ diffs / len(diffs)
    eigval, eigvec = np.linalg.eigh(cov)
    eigval = np.maximum(eigval, 0.0)
    eigval += shrink * max(float(eigval.mean()), 1e-12)
    matrix = (eigvec / np.sqrt(eigval)) @ eigvec.T
    return Whitening(
        mean=x.mean(axis=0).astype(np.float32),
        matrix=matrix.astype(np.float32),
        pairs=len(pairs),
        photos=len(x),
    )
