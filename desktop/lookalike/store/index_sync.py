"""Catalog → index: load the cached hnswlib index and bring it in line with the catalog.

The catalog is the truth. An index file can be missing, damaged, built for another model, or
saved before the last catalog writes (the app saves it periodically, not per photo). The
first three are rebuilt from the catalog; a stale one is patched in place by diffing
(photo id, vector CRC-32) pairs, which also catches a photo re-embedded under the same id.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lookalike.errors import DiskFull
from lookalike.store import vector_rows
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import Ids, IndexParams, IndexUnusable, VectorIndex
from lookalike.store.whitening import Whitening

log = logging.getLogger(__name__)

BuildProgress = Callable[[int, int], None]
"""``progress(done, total)``: vectors added so far to an index being rebuilt from the catalog,
of how many; called from the thread that opens the library (the window shows it while a big
library's index is rebuilt, which takes minutes at 100k photos)."""

PATCH_LIMIT_FRACTION = 0.5
PATCH_LIMIT_MIN = 1000
"""Above both this share of the live count and this many differing ids, a full rebuild (a
cleaner graph) beats patching."""


@dataclass(frozen=True)
class IndexDiff:
    """How an index differs from the catalog; each field is (n,) int64 photo ids.

    Attributes:
        missing: searchable in the catalog, absent from the index.
        extra: live in the index, not searchable in the catalog (deleted, offline, skipped…).
        changed: in both, but with another vector.
    """

    missing: Ids
    extra: Ids
    changed: Ids

    @property
    def size(self) -> int:
        """Number of ids to fix."""
        return len(self.missing) + len(self.extra) + len(self.changed)

    def __str__(self) -> str:
        parts = {"missing": self.missing, "extra": self.extra, "changed": self.changed}
        return ", ".join(f"{len(ids)} {name}" for name, ids in parts.items() if len(ids))


def diff(index: VectorIndex, catalog: Catalog) -> IndexDiff:
    """Compare the index's (label, CRC) pairs with the catalog's searchable vectors."""
    cat_ids, cat_crc = catalog.vector_digests(index.model_id)
    held = index.digests()
    idx_ids = np.fromiter(held.keys(), np.int64, len(held))
    idx_crc = np.fromiter(held.values(), np.uint32, len(held))
    _, in_cat, in_idx = np.intersect1d(cat_ids, idx_ids, assume_unique=True, return_indices=True)
    changed = cat_ids[in_cat][cat_crc[in_cat] != idx_crc[in_idx]]
    return IndexDiff(
        missing=np.setdiff1d(cat_ids, idx_ids, assume_unique=True),
        extra=np.setdiff1d(idx_ids, cat_ids, assume_unique=True),
        changed=changed,
    )


def build_from_catalog(
    catalog: Catalog,
    model_id: str,
    dim: int,
    params: IndexParams | None = None,
    whitening: Whitening | None = None,
    progress: BuildProgress | None = None,
) -> VectorIndex:
    """A new index holding every searchable vector of ``model_id`` (whitened with
    ``whitening`` if given); adds use all CPU cores. ``progress`` hears of each block added."""
    params = params or IndexParams()
    params = replace(params, num_threads=max(params.num_threads, os.cpu_count() or 1))
    count = catalog.count_indexed(model_id)
    index = VectorIndex(
        dim, model_id, params, capacity=max(1024, count + count // 8), whitening=whitening
    )
    started = time.perf_counter()
    if progress is not None and count:  # a new, empty library is no rebuild
        progress(0, count)
    for ids, vectors in catalog.iter_vectors(model_id):
        index.add(ids, vectors)
        if progress is not None:
            progress(index.live_count, max(count, index.live_count))
    log.info("index built: %d vectors in %.1f s", index.live_count, time.perf_counter() - started)
    return index


def patch(index: VectorIndex, catalog: Catalog, found: IndexDiff) -> None:
    """Apply a diff: remove the extra ids, (re)add the missing and changed ones."""
    index.remove(found.extra.tolist())
    todo = np.union1d(found.missing, found.changed).tolist()
    for ids, vectors in catalog.iter_vectors(index.model_id, ids=todo):
        index.add(ids, vectors)


def load_or_rebuild(
    path: Path,
    catalog: Catalog,
    model_id: str,
    dim: int,
    params: IndexParams | None = None,
    whitening: Whitening | None = None,
    progress: BuildProgress | None = None,
) -> tuple[VectorIndex, str | None]:
    """Load the index at ``path`` and make it match the catalog, rebuilding when needed.

    A rebuilt or patched index is saved back to ``path`` at once (a failed save is logged;
    the index in memory is still right). Each repair logs one WARNING line with its reason.

    Args:
        path: the index file (its sidecar is ``<path>.json``).
        catalog: the truth.
        model_id: the current model; an index of another model is rebuilt.
        dim: descriptor size D.
        params: HNSW settings for a new index and for searching.
        whitening: the library's learned whitening (None: none); an index built with another
            one is rebuilt.
        progress: hears how far a rebuild is (not called when the index is used or patched).

    Returns:
        The index, and None if it was used as saved, else why it was rebuilt or patched.
    """
    # no file: nothing to compare, so no catalog-wide sum for the rebuild to wait for
    checksum = _checksum_beside(catalog, model_id) if path.exists() else (lambda: None)
    try:
        index = VectorIndex.load(path, model_id, dim, params, whitening)
    except IndexUnusable as e:
        checksum()  # the catalog is read again below: let the thread finish first
        index = build_from_catalog(catalog, model_id, dim, params, whitening, progress)
        reason = e.reason
        if reason == "missing" and not index.live_count:
            log.info("index %s created (empty catalog)", path)
        else:
            log.warning("index %s rebuilt: %s", path, reason)
    else:
        if checksum() == _index_checksum(index):  # the usual case: nothing to compare id by id
            return index, None
        found = diff(index, catalog)
        if not found.size:
            return index, None
        reason = f"stale ({found})"
        if found.size > max(PATCH_LIMIT_FRACTION * index.live_count, PATCH_LIMIT_MIN):
            index = build_from_catalog(catalog, model_id, dim, params, whitening, progress)
            log.warning("index %s rebuilt: %s", path, reason)
        else:
            patch(index, catalog, found)
            log.warning("index %s patched from the catalog: %s", path, reason)
    _save_quietly(index, path)
    return index, reason


def _checksum_beside(catalog: Catalog, model_id: str
                     ) -> Callable[[], tuple[int, int, int] | None]:  # fmt: skip
    """Start the catalog's checksum of ``model_id``'s searchable vectors
    (``vector_rows.vector_checksum``) on a thread: SQLite sums them while the index loads
    (hnswlib holds Python's lock while it reads the file). Returns the function that waits for
    it: the checksum, or None when the catalog failed (the full :func:`diff` then raises)."""
    out: list[tuple[int, int, int] | None] = [None]

    def run() -> None:
        try:
            out[0] = vector_rows.vector_checksum(catalog, model_id)
        except Exception:  # the main thread's diff reads the same rows and reports it
            log.debug("catalog checksum failed", exc_info=True)

    thread = threading.Thread(target=run, name="catalog-checksum", daemon=True)
    thread.start()

    def wait() -> tuple[int, int, int] | None:
        thread.join()
        return out[0]

    return wait


def _index_checksum(index: VectorIndex) -> tuple[int, int, int]:
    held = index.digests()
    ids = np.fromiter(held.keys(), np.int64, len(held))
    return vector_rows.digests_checksum(ids, np.fromiter(held.values(), np.int64, len(held)))


def _save_quietly(index: VectorIndex, path: Path) -> None:
    try:
        index.save(path)
    except (OSError, RuntimeError, DiskFull) as e:  # hnswlib raises RuntimeError on some
        log.warning("index %s could not be saved: %s", path, e)
