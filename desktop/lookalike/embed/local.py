"""Local features from a trunk feature map: (C, h, w) float32 → compact ``Locals``.

Each feature-map cell is a local descriptor of the image patch under it. The map is the
model's ``fine_features`` output (the trunk's last stride-16 block: 16-pixel cells, a quarter
of the area of the head's 32-pixel cells, so a wide view of a scene still has cells on the
detail another photo shows up close); a model without it gives its head map instead. The
cells with the largest L2 norm (a cheap attention proxy: strong activations sit on textured,
distinctive structure) are kept; each cell's C-dim vector is L2-normalised, projected to
``LOCAL_DIM`` dimensions by a fixed random orthogonal matrix (seeded, never fitted on any
data), normalised again and rounded to steps of 1/127 (so the catalog stores each component in
one byte, see ``types.locals_to_bytes``), with the cell centre.

Positions are in units of the image's long side (x in 0..1 on a landscape photo, y in
0..h/w), so a rotation of the photo is a rotation of the coordinates (no anisotropic scaling)
and one cell has the same size in every photo embedded at the same long side.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from lookalike.types import CODE_STEP, Locals

LOCAL_DIM = 64
"""Code size d of a local feature (the projection's output dimension). With the stride-16 map's
120 channels, the full codes score ~0.2 higher on bench/dev than 64-d ones (docs/QUALITY.md) at
almost twice the storage; on the head map, 32-d codes found about half the inliers between a
photo and a crop of it while chance stayed at ~5, so 64."""
MAX_LOCALS = 256
"""Most cells kept per photo: 17.4 KB stored. With DBA and re-ranking, bench/dev mAP 94.78 with
256 stride-16 cells, 93.8-93.9 with 128 (docs/QUALITY.md)."""
PROJECTION_SEED = 20_240_607
"""Seed of the random orthogonal projection; changing it makes stored locals incomparable."""


@functools.lru_cache(maxsize=4)
def projection(channels: int, dim: int = LOCAL_DIM, seed: int = PROJECTION_SEED) -> npt.NDArray[
    np.float32
]:
    """A fixed (channels, dim) matrix with orthonormal columns (QR of a seeded Gaussian).

    Random orthogonal projection keeps cosine similarities approximately (Johnson-Lindenstrauss)
    without learning anything, so no data set is needed and no bench leaks into the app.
    """
    if not 0 < dim <= channels:
        raise ValueError(f"projection to {dim} dims from {channels} channels")
    gauss = np.random.default_rng(seed).standard_normal((channels, dim))
    q, r = np.linalg.qr(gauss)
    q *= np.sign(np.diag(r))  # unique Q: the same matrix whatever LAPACK's sign conventions
    out: npt.NDArray[np.float32] = np.ascontiguousarray(q, dtype=np.float32)
    out.setflags(write=False)
    return out


def extract(
    fmap: npt.NDArray[np.float32], top: int = MAX_LOCALS, dim: int = LOCAL_DIM
) -> Locals:
    """The strongest cells of a feature map as local features.

    Args:
        fmap: (C, h, w) float32 non-negative activations of one image.
        top: most cells kept (fewer when the map is smaller).
        dim: code size d.

    Returns:
        (K, 2 + d) float16, K <= top, strongest first: x and y of the cell centre in units of
        the long side, then the unit-norm code.
    """
    channels, fh, fw = fmap.shape
    cells = np.ascontiguousarray(fmap.reshape(channels, fh * fw).T, dtype=np.float32)  # (hw, C)
    norms = np.sqrt(np.einsum("ij,ij->i", cells, cells))
    keep = np.argsort(-norms, kind="stable")[: min(top, fh * fw)]
    keep = keep[norms[keep] > 0]
    codes = cells[keep] / norms[keep, None]
    codes = codes @ projection(channels, dim)
    codes /= np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-6)
    codes = np.rint(codes / CODE_STEP) * CODE_STEP  # int8 steps: stored exactly (types.py)
    long_side = float(max(fh, fw))
    out = np.empty((len(keep), 2 + dim), np.float16)
    out[:, 0] = ((keep % fw) + 0.5) / long_side
    out[:, 1] = ((keep // fw) + 0.5) / long_side
    out[:, 2:] = codes
    return out
