"""The on-disk hnswlib index: a cache of the catalog's vectors, labelled by ``photos.id``.

Scores are cosine similarities (unit vectors, space ``ip``, distance ``1 - dot``). The sidecar
``<index>.json`` records model, dimension, file size, the CRC-32 of the whole file, the live labels
with each vector's CRC-32 and the labels hnswlib holds as deleted (its Python API cannot tell
them from live ones; see ``lookalike.store.hnsw_files``);
``lookalike.store.index_sync.load_or_rebuild`` compares that with the catalog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError
from lookalike.store.hnsw_files import IndexUnusable as IndexUnusable
from lookalike.store.hnsw_files import read_sidecar, save_checked, sidecar
from lookalike.store.hnsw_files import sidecar_path as sidecar_path
from lookalike.store.projection import Projection, resolve
from lookalike.store.vectors import UNIT_NORM_TOLERANCE as UNIT_NORM_TOLERANCE
from lookalike.store.vectors import check_vectors as check_vectors
from lookalike.store.vectors import vector_crc32 as vector_crc32
from lookalike.store.whitening import Whitening
from lookalike.types import Vectors

log = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]
"""(N,) int64 photo ids (hnswlib labels)."""

SERIAL_START = 2048
"""The first nodes of a graph are added on one thread: hnswlib's threads racing over a
near-empty graph can leave a node so poorly linked that an exact query misses it (seen in CI
on a 60-vector rebuild with 2 threads). 2,048 nodes take well under a second."""


@dataclass(frozen=True)
class IndexParams:
    """HNSW settings, measured with ``benchmarks/search_speed.py`` (100k × 1280, 2 cores):
    M=32 reaches recall@10 0.996 at ef=32 in ~1.2 ms, where M=16 needs ef=80 for 0.995;
    ef_construction=100 already gives recall 1.0 at ef=48 and builds 2× faster than 200.

    Attributes:
        m: graph degree M; costs 8·M bytes per vector on top of 4·D (D=1280: +5 %).
        ef_construction: build-time beam width.
        ef_search: query beam width; raised to k when k is larger.
        num_threads: threads for ``add`` and batch queries; filtered queries use one.
    """

    m: int = 32
    ef_construction: int = 100
    ef_search: int = 32
    num_threads: int = 1


class VectorIndex:
    """hnswlib HNSW index over unit vectors, labelled by photo id; every method is thread-safe.

    One lock serialises all calls: hnswlib's add is not safe with a concurrent query and
    resize is safe with nothing. Re-adding a live or removed label rewrites its vector in its
    own slot; removing marks it deleted; new labels fill deleted slots before the index grows.

    Vectors are given to :meth:`add` and queries to :meth:`knn` as the model makes them (the
    catalog's form), whitened on the way in with a ``whitening``, then projected to D' dims
    with a ``projection`` (``lookalike.store.projection``; by default the one for D). CRCs and
    the sidecar describe the catalog's vectors, so diffs against the catalog work the same.
    With a projection, :meth:`knn`'s scores are inner products of projected vectors: the
    exact cosine less its part outside the projection's span (searches rescore the shortlist
    with the catalog's vectors: ``search.pipeline.nearest``).

    Attributes:
        dim: descriptor size D.
        index_dim: the size of the vectors hnswlib holds (D' with a projection, else D).
        model_id: the vector space the index belongs to.
        params: HNSW settings; ``m`` and ``ef_construction`` come from the file after a load.
        whitening: the learned map applied to every vector and query, or None.
        projection: the map from (whitened) D-dim vectors to what hnswlib holds, or None.
    """

    def __init__(
        self,
        dim: int,
        model_id: str,
        params: IndexParams | None = None,
        capacity: int = 1024,
        whitening: Whitening | None = None,
        projection: Projection | str | None = "default",
    ) -> None:
        """Create an empty index with room for ``capacity`` vectors (it grows on demand);
        ``projection`` "default" is :func:`default_projection` of ``dim``."""
        import hnswlib

        params = params or IndexParams()
        chosen = resolve(dim, projection)
        raw = hnswlib.Index(space="ip", dim=chosen.dim if chosen else dim)
        raw.init_index(
            max_elements=max(1, capacity),
            M=params.m,
            ef_construction=params.ef_construction,
            allow_replace_deleted=True,
        )
        self._attach(raw, model_id, params, {}, set(), whitening, dim, chosen)

    def _attach(
        self,
        raw: Any,
        model_id: str,
        params: IndexParams,
        crcs: dict[int, int],
        deleted: set[int],
        whitening: Whitening | None,
        dim: int,
        projection: Projection | None,
    ) -> None:
        self._raw = raw
        self.dim: int = dim
        self.index_dim: int = raw.dim
        self.model_id = model_id
        self.whitening = whitening
        self.projection = projection
        self.params = params
        self._crc = crcs  # live label -> CRC-32 of its vector
        self._deleted = deleted  # labels hnswlib holds as marked-deleted
        self._lock = threading.Lock()
        self._dirty = False
        self._file_size = 0
        raw.set_ef(params.ef_search)  # never saved in the file: set after init and every load
        raw.set_num_threads(params.num_threads)

    @property
    def live_count(self) -> int:
        """Number of searchable vectors."""
        with self._lock:
            return len(self._crc)

    @property
    def capacity(self) -> int:
        """Slots allocated (live + deleted + free)."""
        with self._lock:
            return int(self._raw.get_max_elements())

    @property
    def dirty(self) -> bool:
        """True when the index changed since it was last saved or loaded."""
        with self._lock:
            return self._dirty

    @property
    def file_size(self) -> int:
        """Size in bytes of the file this index was last saved to or loaded from (0: none)."""
        with self._lock:
            return self._file_size

    def labels(self) -> set[int]:
        """The live labels (photo ids)."""
        with self._lock:
            return set(self._crc)

    def vectors(self, ids: npt.ArrayLike) -> Vectors:
        """(n, index_dim) float32 vectors the index holds for live ``ids`` (whitened if it
        whitens, projected if it projects; :meth:`knn` takes them back as queries); KeyError
        for any other id."""
        labels = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(labels):
            return np.zeros((0, self.index_dim), np.float32)
        with self._lock:
            missing = [int(x) for x in labels if int(x) not in self._crc]
            if missing:
                raise KeyError(f"not in the index: {missing[:5]}")
            items = self._raw.get_items(labels.tolist(), return_type="numpy")
        return np.ascontiguousarray(items, dtype=np.float32)

    def to_index_space(self, vectors: npt.ArrayLike) -> Vectors:
        """(n, D) vectors as the model makes them → the (n, D) space searches rank in (whitened
        if it whitens; not projected: see :meth:`held_form`)."""
        x = np.asarray(vectors, np.float32)
        return x if self.whitening is None else self.whitening.apply(x)

    def held_form(self, vectors: Vectors) -> Vectors:
        """(n, D) index-space vectors → (n, index_dim) as hnswlib holds them (projected)."""
        return vectors if self.projection is None else self.projection.apply(vectors)

    def digests_of(self, ids: Iterable[int]) -> list[int | None]:
        """The CRC-32 of each id's vector, None for an id that is not live."""
        with self._lock:
            return [self._crc.get(int(i)) for i in ids]

    def digests(self) -> dict[int, int]:
        """Live label → CRC-32 of the vector the index holds for it."""
        with self._lock:
            return dict(self._crc)

    def add(self, ids: npt.ArrayLike, vectors: Vectors) -> None:
        """Insert or replace vectors.

        Args:
            ids: (N,) distinct non-negative photo ids.
            vectors: (N, D) float32, unit rows.

        Raises:
            BugError: on invalid ids or vectors.
        """
        labels = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = check_vectors(vectors, self.dim)
        if labels.shape[0] != vecs.shape[0] or (labels.size and labels.min() < 0):
            raise BugError(f"need {vecs.shape[0]} non-negative ids, got {labels.shape[0]}")
        if np.unique(labels).size != labels.size:
            raise BugError("duplicate ids in one add")
        if not labels.size:
            return
        crcs = [vector_crc32(v) for v in vecs]
        vecs = self.held_form(self.to_index_space(vecs))
        with self._lock:
            known = np.array([int(x) in self._crc or int(x) in self._deleted for x in labels])
            for label in labels[known]:
                if int(label) in self._deleted:  # addPoint refuses deleted labels: revive first
                    self._raw.unmark_deleted(int(label))
                    self._deleted.discard(int(label))
            if known.any():  # updated in place, slot and label kept
                self._raw.add_items(vecs[known], labels[known], self.params.num_threads)
            if not known.all():
                self._add_new(labels[~known], vecs[~known])
            self._crc.update(zip((int(x) for x in labels), crcs, strict=True))
            self._dirty = True

    def _add_new(self, labels: Ids, vecs: Vectors) -> None:
        """Add labels hnswlib has never seen, reusing deleted slots first (lock held)."""
        vacant = len(self._deleted)
        needed = int(self._raw.element_count) + max(0, len(labels) - vacant)
        capacity = int(self._raw.get_max_elements())
        if needed > capacity:  # grow ahead: hnswlib raises instead of growing
            self._raw.resize_index(max(needed, capacity * 3 // 2, capacity + 1024))
        serial = max(0, SERIAL_START - int(self._raw.element_count))
        if serial and self.params.num_threads > 1:  # see SERIAL_START
            self._raw.add_items(vecs[:serial], labels[:serial], 1, replace_deleted=True)
        rest = serial if self.params.num_threads > 1 else 0
        if rest < len(labels):
            self._raw.add_items(
                vecs[rest:], labels[rest:], self.params.num_threads, replace_deleted=True
            )
        if not vacant:
            return
        # hnswlib chose which deleted slots to reuse; their old labels are gone from it now.
        if len(labels) >= vacant:
            self._deleted.clear()
        else:
            self._deleted.intersection_update(self._raw.get_ids_list())

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Hide vectors from search; unknown or already removed ids are ignored.

        Returns:
            The ids that were live and are now removed.
        """
        removed = []
        with self._lock:
            for label in (int(x) for x in ids):
                if label in self._crc:  # mark_deleted raises on unknown or deleted labels
                    self._raw.mark_deleted(label)
                    del self._crc[label]
                    self._deleted.add(label)
                    removed.append(label)
            self._dirty = self._dirty or bool(removed)
        return removed

    def knn(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        filter: Callable[[int], bool] | None = None,
        *,
        whitened: bool = False,
        threads: int | None = None,
        ef: int | None = None,
    ) -> tuple[Ids, npt.NDArray[np.float32]]:
        """Approximate k nearest neighbours by cosine similarity.

        Args:
            query: (D,) or (Q, D) float32 unit vector(s), or (Q, index_dim) vectors as
                :meth:`vectors` gives them (taken as they are).
            k: wanted neighbours; clamped to the live count (and to the ids ``filter`` accepts).
            filter: optional predicate on photo ids; hnswlib then searches with one thread.
            whitened: the (Q, D) query is already whitened (:meth:`to_index_space`).
            threads: for a batch of queries (default ``params.num_threads``); ignored with a
                ``filter``.
            ef: beam width for this call (default ``params.ef_search``); raised to k.

        Returns:
            ids (Q, k') int64 and scores (Q, k') float32 in [-1, 1], best first (cosines, or
            with a projection the projected inner products); k' ≤ k and k' = 0 for an empty
            index.
        """
        q = self._query_form(query[None, :] if getattr(query, "ndim", 0) == 1 else query,
                             whitened)  # fmt: skip
        with self._lock:
            allowed = len(self._crc)
            if filter is not None:
                allowed = sum(1 for label in self._crc if filter(label))
            k_eff = min(int(k), allowed)
            if k_eff <= 0 or not len(q):
                return np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
            labels, dist = self._query(q, k_eff, filter, threads, ef)
        return labels.astype(np.int64), (1.0 - dist).astype(np.float32)

    def _query_form(self, query: npt.NDArray[np.float32], whitened: bool) -> Vectors:
        """(Q, D) model or whitened queries, or (Q, index_dim) held ones → held form."""
        held = self.projection is not None and getattr(query, "shape", (0, 0))[1] == self.index_dim
        if held and isinstance(query, np.ndarray) and query.dtype == np.float32:
            if not np.isfinite(query).all():
                raise BugError("vectors contain NaN or infinity")
            return np.ascontiguousarray(query)
        q = check_vectors(query, self.dim)
        return self.held_form(q if whitened else self.to_index_space(q))

    def _query(
        self, q: Vectors, k: int, filter: Callable[[int], bool] | None, threads: int | None = None,
        ef: int | None = None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """knn_query with ef ≥ k, halving k when the graph yields fewer hits (lock held)."""
        threads = 1 if filter is not None else (threads or self.params.num_threads)
        while True:
            self._raw.set_ef(max(ef or self.params.ef_search, k))
            try:
                labels, dist = self._raw.knn_query(q, k=k, num_threads=threads, filter=filter)
                return labels, dist
            except RuntimeError as e:  # "Cannot return the results in a contiguous 2D array"
                if k == 1:
                    log.warning("hnswlib found no neighbour: %s", e)
                    return np.zeros((len(q), 0), np.uint64), np.zeros((len(q), 0), np.float32)
                k //= 2

    def save(self, path: Path) -> None:
        """Write the index and its sidecar atomically, both checked in full before either
        replaces the old pair (``lookalike.store.hnsw_files.save_checked``).

        Raises:
            DiskFull: no room for the files; the previous index and sidecar are untouched.
            OSError: another write error, likewise.
        """
        with self._lock:
            size = save_checked(path, lambda tmp: self._raw.save_index(str(tmp)), self._sidecar)
            self._dirty = False
            self._file_size = size

    def save_if_dirty(self, path: Path) -> bool:  # callers: periodically and on close
        """Save when something changed since the last save or load; True if it saved."""
        if not self.dirty:
            return False
        self.save(path)
        return True

    def _sidecar(self, size: int, crc: int) -> dict[str, Any]:
        labels = np.fromiter(self._crc.keys(), np.int64, len(self._crc))
        crcs = np.fromiter(self._crc.values(), np.uint32, len(self._crc))
        white = self.whitening.digest if self.whitening is not None else ""
        return sidecar(self.model_id, white, self.dim, size, crc, labels, crcs, self._deleted,
                       self.projection)  # fmt: skip

    @classmethod
    def load(
        cls,
        path: Path,
        model_id: str,
        dim: int,
        params: IndexParams | None = None,
        whitening: Whitening | None = None,
        projection: Projection | str | None = "default",
    ) -> VectorIndex:
        """Load an index saved by :meth:`save` and check it against its sidecar.

        Raises:
            IndexUnusable: missing, truncated, corrupt, another model, dimension, whitening
                or projection, or a sidecar that does not describe this file.
        """
        import hnswlib

        params = params or IndexParams()
        chosen = resolve(dim, projection)
        meta = read_sidecar(path, model_id, dim, whitening.digest if whitening else "", chosen)
        raw = hnswlib.Index(space="ip", dim=chosen.dim if chosen else dim)
        try:
            raw.load_index(str(path), allow_replace_deleted=True)
        except (RuntimeError, ValueError, MemoryError) as e:
            raise IndexUnusable(f"unreadable ({e})") from e
        labels, crcs, deleted = meta["labels"], meta["crc32"], meta["deleted"]
        live = set(labels.tolist())
        if set(raw.get_ids_list()) != live | deleted or live & deleted:
            raise IndexUnusable("label set does not match the sidecar")
        params = IndexParams(raw.M, raw.ef_construction, params.ef_search, params.num_threads)
        index = cls.__new__(cls)
        crc_map = dict(zip(labels.tolist(), crcs.tolist(), strict=True))
        index._attach(raw, model_id, params, crc_map, deleted, whitening, dim, chosen)
        index._file_size = int(meta["index_bytes"])
        return index

