"""A flat file of the catalog's vectors, one fixed slot per photo id: what a search reads to
rescore its shortlist and DBA's neighbours, instead of catalog rows.

Why: the index holds projected vectors (``lookalike.store.projection``), so every search reads
the whole ones of its shortlist (400 for the top 100) and of DBA's neighbours (about 300) from
the catalog. There each is a row of a 2.4 GB file (at 100k photos) interleaved with local
features, joined to its photo's row: with the catalog out of the page cache (after a reboot)
those ~700 rows took 100-150 ms of disk reads, and 10-20 ms of SQL when cached. Here a vector
is ``D`` float32 at ``HEADER + id * D * 4``: one contiguous read of 5 KB.

It is only a cache. The catalog stays the truth and the index's digest says which vector is
current: a slot is used only when its CRC-32 equals the CRC the index holds for that photo (the
catalog's ``vector_crc32``), so a slot never written (a hole reads as zeros), torn by a crash,
left from an older vector, or from another photo's reused slot never passes. Indexing writes
the vectors it stores (``CatalogWriter``), and a search the ones it had to read from the
catalog (a library indexed before the cache, a lost file). A header names the model
and dimension; another model's file is started again at its first write. Errors (disk full, a
read-only folder) turn the cache off for the session: searches then read the catalog as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.store.vectors import vector_crc32

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]

CACHE_FILE = "vectors.cache"
"""Its name in a library's folder, beside the index."""
MAGIC = b"LKVCACH1"
HEADER = 4096
"""Bytes before slot 0: the magic, the dimension and the model id, then zeros (one page, so
slots keep their alignment)."""


def _header(model_id: str, dim: int) -> bytes:
    name = model_id.encode("utf-8")[: HEADER - 16]
    head = MAGIC + struct.pack("<II", dim, len(name)) + name
    return head + bytes(HEADER - len(head))


class VectorCache:
    """The slots file of one library (see the module docstring); thread-safe.

    Attributes:
        path: the file (``vectors.cache`` in the library's home).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: io.FileIO | None = None
        self._space: tuple[str, int] | None = None  # (model id, dim) the file holds
        self._off = False
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file (the next call opens it again)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file, self._space = None, None

    def read(self, model_id: str, dim: int, ids: Sequence[int], digests: Sequence[int | None]
             ) -> tuple[list[int], Floats]:  # fmt: skip
        """The vectors of those ``ids`` whose slot holds a vector with the CRC-32 given in
        ``digests`` (None: the photo has no current vector; never a hit).

        Returns:
            The ids found, in the order asked, and their (n, dim) float32 vectors.
        """
        found: list[int] = []
        out = np.empty((len(ids), dim), np.float32)
        with self._lock:
            f = self._opened(model_id, dim, create=False)
            if f is None:
                return found, out[:0]
            size = dim * 4
            try:
                for photo_id, digest in zip(ids, digests, strict=True):
                    if digest is None:
                        continue
                    row = out[len(found)]
                    f.seek(HEADER + int(photo_id) * size)
                    if f.readinto(memoryview(row).cast("B")) == size \
                            and vector_crc32(row) == digest:  # fmt: skip
                        found.append(int(photo_id))
            except OSError as exc:
                self._turn_off(exc)
                return [], out[:0]
        return found, out[: len(found)]

    def write(self, model_id: str, ids: Sequence[int], vectors: Floats) -> None:
        """Keep these vectors (as the catalog stores them) in their photos' slots."""
        rows = np.ascontiguousarray(vectors, np.float32)
        if not len(ids):
            return
        with self._lock:
            f = self._opened(model_id, rows.shape[1], create=True)
            if f is None:
                return
            size = rows.shape[1] * 4
            try:
                for photo_id, row in zip(ids, rows, strict=True):
                    f.seek(HEADER + int(photo_id) * size)
                    if f.write(row.data) != size:  # a short write: the disk is full
                        raise OSError(f"wrote part of slot {photo_id}")
            except OSError as exc:
                self._turn_off(exc)

    def _opened(self, model_id: str, dim: int, create: bool) -> io.FileIO | None:
        """The open file if it holds ``(model_id, dim)``; with ``create``, (re)started for
        them when it does not exist or holds another space (lock held)."""
        if self._off:
            return None
        if self._space == (model_id, dim) and self._file is not None:
            return self._file
        try:
            if self._file is None:
                if not self.path.exists():
                    if not create:
                        return None
                    self.path.touch()
                # unbuffered: a slot is one read of its own bytes (a buffer would read more)
                self._file = open(self.path, "r+b", buffering=0)  # noqa: SIM115 (closed by close)
            self._file.seek(0)
            if self._file.read(HEADER) == _header(model_id, dim):
                self._space = (model_id, dim)
                return self._file
            if not create:
                return None
            self._file.truncate(0)  # another model's vectors (or damage): start again
            self._file.seek(0)
            self._file.write(_header(model_id, dim))
            self._space = (model_id, dim)
            return self._file
        except OSError as exc:
            self._turn_off(exc)
            return None

    def _turn_off(self, exc: OSError) -> None:
        """Stop using the file for this session (lock held)."""
        log.warning("vector cache %s off: %s", self.path, exc)
        self._off = True
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file, self._space = None, None

