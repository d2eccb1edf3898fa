"""The projection the hnswlib index holds its vectors in: D model dimensions → D' < D.

The index is only a shortlist maker: a search over-fetches from it and rescores the shortlist
with the exact D-dim vectors read from the catalog (``search.pipeline.nearest``), so the
ranking stays exact cosines except for a true neighbour the shortlist missed. Holding D' = 256
instead of D = 1280 floats per photo cuts the index in RAM and on disk about 4x (100k photos:
541 → ~131 MB).

The map is ``x ↦ x @ basis`` with an orthonormal (D, D') basis and no re-normalisation, so the
index's inner product ``(x @ B) · (y @ B)`` is the exact cosine minus the part of it outside the
basis' span. The basis is a random rotation drawn from a fixed seed: nothing to fit, to ship or
to go stale, the same for every model of a dimension, and measured on the benches to shortlist
as well as a PCA fitted on photos from no bench (docs/SCALING.md, "A smaller index").
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError

Floats = npt.NDArray[np.float32]

INDEX_DIM = 384
"""D': the dimension the index holds (models of more dimensions are projected to it)."""
SEED = 20261202
"""Seed of the random rotation; changing it changes every projection's digest (indexes are
then rebuilt from the catalog once)."""
OVERFETCH = 4
"""A search asks the projected index for this many times the neighbours it keeps."""


@dataclass(frozen=True, eq=False)
class Projection:
    """A scaled orthonormal projection ``apply(x) = scale · x @ basis``.

    Attributes:
        basis: (D, D') float32 with orthonormal columns.
        scale: sqrt(D / D') for a random basis (inner products then estimate cosines).
    """

    basis: Floats
    scale: float = 1.0

    @property
    def source_dim(self) -> int:
        """D, the model's dimension."""
        return int(self.basis.shape[0])

    @property
    def dim(self) -> int:
        """D', the dimension of the projected vectors."""
        return int(self.basis.shape[1])

    @functools.cached_property
    def digest(self) -> str:
        """Identity of the map (16 hex digits): an index built with another one is rebuilt."""
        h = hashlib.sha256(np.ascontiguousarray(self.basis).tobytes())
        h.update(np.float64(self.scale).tobytes())
        return h.hexdigest()[:16]

    def apply(self, vectors: npt.ArrayLike) -> Floats:
        """(N, D) float32 → (N, D') float32, C-contiguous (rows not re-normalised)."""
        x = np.asarray(vectors, np.float32)
        return np.ascontiguousarray((x @ self.basis) * np.float32(self.scale), np.float32)


def random_rotation(source_dim: int, dim: int, seed: int = SEED) -> Projection:
    """The first ``dim`` columns of a random orthogonal (D, D) matrix (QR of a Gaussian),
    scaled by sqrt(D / dim)."""
    if not 0 < dim <= source_dim:
        raise ValueError(f"cannot project {source_dim} dimensions to {dim}")
    gauss = np.random.default_rng(seed).standard_normal((source_dim, dim))
    q, r = np.linalg.qr(gauss)
    q *= np.sign(np.diag(r))  # a unique factorisation: the same basis with any LAPACK
    return Projection(np.ascontiguousarray(q, np.float32), float(np.sqrt(source_dim / dim)))


def default_projection(source_dim: int) -> Projection | None:
    """The projection an index of ``source_dim``-dim vectors uses: to :data:`INDEX_DIM` (read
    at each call); None for models of at most that many dimensions (held whole)."""
    return _rotation(source_dim, INDEX_DIM) if source_dim > INDEX_DIM else None


@functools.lru_cache(maxsize=4)
def _rotation(source_dim: int, dim: int) -> Projection:
    return random_rotation(source_dim, dim)


def resolve(source_dim: int, projection: Projection | str | None) -> Projection | None:
    """The projection an index of ``source_dim``-dim vectors uses ("default": the default).

    Raises:
        BugError: an unknown name, or a projection from another dimension.
    """
    if isinstance(projection, str):
        if projection != "default":
            raise BugError(f"unknown projection {projection!r}")
        return default_projection(source_dim)
    if projection is not None and projection.source_dim != source_dim:
        raise BugError(f"a projection from {projection.source_dim} dims for {source_dim}")
    return projection
