"""Shared value types. A leaf module: it imports no stage.

Array convention: N×D float32, C-contiguous, L2-normalised rows (``Vectors``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from lookalike.errors import UnreadablePhoto

Vectors = npt.NDArray[np.float32]
"""(N, D) float32, C-contiguous, rows L2-normalised."""

PEAK_DTYPE = np.dtype(
    [("channel", "<u2"), ("value", "<f2"), ("x", "<f2"), ("y", "<f2")]
)
"""One record per strong MAC channel: channel index, its MAC value, and where its maximum lies
as a fraction of the image width and height (0..1, centre of the feature-map cell)."""

Peaks = npt.NDArray[np.void]
"""(K,) records of PEAK_DTYPE, sorted by channel index."""

PhotoStatus = Literal["pending", "indexed", "skipped", "offline"]
"""A catalogued photo's state: waiting to be embedded, searchable, unreadable, or on a root that
is offline (kept, not searchable)."""


@dataclass(frozen=True)
class Root:
    """A library folder.

    Attributes:
        id: catalog id.
        path: absolute folder path.
        online: False while the folder is missing (an unplugged drive); its photos are kept.
    """

    id: int
    path: Path
    online: bool


def l2n(x: npt.NDArray[np.floating], axis: int = -1, eps: float = 1e-6) -> Vectors:
    """L2-normalise along ``axis`` (rows by default); float32 result."""
    norm = np.sqrt((x * x).sum(axis=axis, keepdims=True))
    out: Vectors = (x / (norm + eps)).astype(np.float32)
    return out


Locals = npt.NDArray[np.float16]
"""(K, 2 + d) float16 local features (``lookalike.embed.local``): per row the x and y of a
feature-map cell centre in units of the image's long side, then its unit-norm d-dim code."""


@dataclass(frozen=True)
class Thumb:
    """A photo's grey thumbnail for the copy screen of duplicate grouping
    (``lookalike.search.copy_screen``).

    Attributes:
        pixels: (S, S) uint8 grey levels of the whole upright frame squeezed to a square
            (``lookalike.decode.thumb.THUMB_SIDE``; a quarter turn or mirror of the photo is the
            same turn or mirror of these pixels).
        width, height: size in pixels of the upright image it was made from (its aspect).
    """

    pixels: npt.NDArray[np.uint8]
    width: int
    height: int


@dataclass(frozen=True)
class Embedding:
    """What the model says about one photo.

    Attributes:
        vector: (D,) float32, L2-normalised global R-MAC descriptor.
        peaks: (K,) PEAK_DTYPE records, the strongest MAC channels and their positions; used to
            highlight the regions that drive a match.
        locals: local features for spatial re-ranking, or None when the embedder makes none
            (or the photo was stored before they existed).
        thumb: the grey thumbnail of the pixels embedded (None: the embedder makes none).
    """

    vector: npt.NDArray[np.float32]
    peaks: Peaks
    locals: Locals | None = None
    thumb: Thumb | None = None


def peaks_to_bytes(peaks: Peaks) -> bytes:
    """Serialise peaks for the catalog (8 bytes per record)."""
    return np.ascontiguousarray(peaks, dtype=PEAK_DTYPE).tobytes()


def peaks_from_bytes(blob: bytes) -> Peaks:
    """Inverse of :func:`peaks_to_bytes`."""
    return np.frombuffer(blob, dtype=PEAK_DTYPE).copy()


_LOCALS_HEADER = np.dtype("<u4")
_INT8_CODES = 0x8000_0000
"""Header flag: positions as float16, then codes as int8 (code · 127); without it, the float16
rows written before this format (still read)."""
CODE_STEP = 1.0 / 127.0
"""Local feature codes are multiples of this (``embed.local.extract`` rounds them), so the
compact format stores them exactly."""


def locals_to_bytes(locals_: Locals) -> bytes:
    """Serialise local features compactly: a uint32 header (row width 2 + d, flagged), the (K, 2)
    float16 positions, then the (K, d) codes as int8 steps of ``CODE_STEP`` (4 + K·(4 + d) bytes:
    17.4 KB for 256 cells of 64 dims, half the float16 rows)."""
    arr = np.asarray(locals_, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise ValueError(f"locals must be (K, 2 + d), got {arr.shape}")
    head = np.asarray([arr.shape[1] | _INT8_CODES], _LOCALS_HEADER).tobytes()
    positions = np.ascontiguousarray(arr[:, :2], dtype="<f2").tobytes()
    codes = np.clip(np.rint(arr[:, 2:] / CODE_STEP), -127, 127).astype(np.int8)
    return bytes(head + positions + codes.tobytes())


def locals_from_bytes(blob: bytes) -> Locals:
    """Inverse of :func:`locals_to_bytes` (also reads the older float16 rows); raises
    ValueError on a malformed blob."""
    head = _LOCALS_HEADER.itemsize
    if len(blob) < head:
        raise ValueError("locals blob too short")
    word = int(np.frombuffer(blob[:head], _LOCALS_HEADER)[0])
    width = word & ~_INT8_CODES
    if width < 3:
        raise ValueError(f"locals blob with rows of {width}")
    if not word & _INT8_CODES:  # the float16 rows of schema v3
        body = np.frombuffer(blob[head:], dtype="<f2")
        if body.size % width:
            raise ValueError(f"locals blob of {len(blob)} bytes does not hold rows of {width}")
        legacy: Locals = body.reshape(-1, width).astype(np.float16)
        return legacy
    row = 4 + (width - 2)
    if (len(blob) - head) % row:
        raise ValueError(f"locals blob of {len(blob)} bytes does not hold rows of {width}")
    k = (len(blob) - head) // row
    out: Locals = np.empty((k, width), np.float16)
    out[:, :2] = np.frombuffer(blob[head : head + 4 * k], dtype="<f2").reshape(k, 2)
    codes = np.frombuffer(blob[head + 4 * k :], dtype=np.int8).reshape(k, width - 2)
    out[:, 2:] = codes.astype(np.float32) * CODE_STEP
    return out


def vector_to_bytes(vector: npt.NDArray[np.float32]) -> bytes:
    """Serialise one descriptor as a float32 BLOB."""
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(blob: bytes) -> npt.NDArray[np.float32]:
    """Inverse of :func:`vector_to_bytes`."""
    return np.frombuffer(blob, dtype=np.float32).copy()


class PhotoEmbedder(Protocol):
    """What the library needs from an embedder (the real one is ``lookalike.embed.model.Embedder``;
    tests use a fake).

    Attributes:
        model_id: identifies the vector space (sha256 of the model file + embedding settings);
            vectors made under different ids never mix.
        dim: descriptor size D.
        max_side: the long side photos are decoded at for embedding (``embed_file`` decodes
            so); a whole image given as bytes is decoded the same way, so a pasted copy of a
            library photo gets that photo's vector.
    """

    model_id: str
    dim: int
    max_side: int

    def embed_file(self, path: Path) -> Embedding:
        """Decode and embed one photo. Raises ``UnreadablePhoto`` with a reason."""
        ...

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        """Embed an already decoded upright (H, W, 3) uint8 RGB image (e.g. a crop or a pasted
        image). Large images are downscaled like files are."""
        ...

    def embed_files(
        self, paths: Iterable[Path]
    ) -> Iterator[tuple[Path, Embedding | UnreadablePhoto]]:
        """Embed many photos in order, decoding ahead of inference; unreadable ones come back as
        the ``UnreadablePhoto`` error instead of an embedding (never raised)."""
        ...
