"""Vectors held in memory with exact neighbours: the store ``lookalike eval`` searches.

It answers what the library's hnswlib index and catalog answer (``search.pipeline``'s
``VectorStore``): its :meth:`MemoryStore.knn` ranks the vectors projected as the library's
index holds them (``lookalike.store.projection``), exactly where hnswlib is approximate, and
:meth:`MemoryStore.vectors` gives the whole ones, so a bench runs the app's own two-stage
search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.store.hnsw import check_vectors
from lookalike.store.projection import Projection, resolve
from lookalike.store.scope import Scope
from lookalike.store.whitening import Whitening
from lookalike.types import Embedding, Locals, locals_from_bytes, locals_to_bytes

Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


class MemoryStore:
    """(N, D) vectors labelled by id, their local features, and an optional whitening.

    Local features are kept as the catalog keeps them (int8 codes), so re-ranking sees what a
    library's search sees.
    """

    def __init__(
        self,
        ids: Ids,
        vectors: Floats,
        locals_: Mapping[int, Locals] | None = None,
        whitening: Whitening | None = None,
        paths: Mapping[int, Path] | None = None,
        dates: Mapping[int, int] | None = None,
        projection: Projection | str | None = "default",
    ) -> None:
        """Hold the vectors.

        Args:
            ids: (N,) distinct photo ids.
            vectors: (N, D) model vectors (unwhitened, unit rows).
            locals_: id → local features, for those that have them.
            whitening: applied to the vectors and to every query, as a library's index does.
            paths: id → file (default: an empty path for every id).
            dates: id → the photo's date, ns since the epoch (for date scopes; default none:
                a date range then admits nothing).
            projection: what :meth:`knn` ranks in ("default": the library index's, for D).
        """
        self._ids = np.asarray(ids, np.int64)
        self.whitening = whitening
        raw = check_vectors(np.asarray(vectors, np.float32))
        self._db = raw if whitening is None else whitening.apply(raw)
        self.projection = chosen = resolve(raw.shape[1], projection)
        self._held = self._db if chosen is None else chosen.apply(self._db)
        self._row = {int(i): r for r, i in enumerate(self._ids.tolist())}
        self._locals = {int(k): locals_from_bytes(locals_to_bytes(v))
                        for k, v in (locals_ or {}).items()}  # fmt: skip
        self._paths = dict(paths or {})
        self._dates = dict(dates or {})

    @property
    def live_count(self) -> int:
        """Number of vectors."""
        return len(self._ids)

    def _held_queries(self, queries: Floats) -> Floats:
        q = np.asarray(queries, np.float32).reshape(-1, self._db.shape[1])
        return q if self.projection is None else self.projection.apply(q)

    def knn(self, queries: Floats, k: int) -> tuple[Ids, Floats]:
        """Nearest ids (Q, k) and scores of (Q, D) index-space queries among the vectors as
        the index holds them (projected: inner products; else cosines), by exhaustive search;
        ties keep the ids' order."""
        sims = self._held_queries(queries) @ self._held.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, : max(0, min(k, len(self._ids)))]
        return self._ids[order], np.take_along_axis(sims, order, axis=1).astype(np.float32)

    def knn_within(self, queries: Floats, k: int, scope: Scope) -> tuple[Ids, Floats]:
        """As :meth:`knn`, among the ids whose path and date (``dates``) ``scope`` admits."""
        keep = [r for r, i in enumerate(self._ids.tolist())
                if scope.admits(self._paths.get(i, Path()), self._dates.get(i))]  # fmt: skip
        sims = self._held_queries(queries) @ self._held[keep].T
        order = np.argsort(-sims, axis=1, kind="stable")[:, : max(0, min(k, len(keep)))]
        ids = self._ids[keep][order]
        return ids, np.take_along_axis(sims, order, axis=1).astype(np.float32)

    def vectors(self, ids: Ids) -> Floats:
        """Index-space vectors of ``ids`` (KeyError for an unknown id)."""
        rows = [self._row[int(i)] for i in np.asarray(ids).reshape(-1).tolist()]
        return np.ascontiguousarray(self._db[rows], np.float32)

    def vectors_of(self, ids: Ids) -> tuple[Ids, Floats]:
        """Those of ``ids`` the store holds, and their index-space vectors."""
        known = np.asarray([i for i in np.asarray(ids).reshape(-1).tolist() if i in self._row],
                           np.int64)  # fmt: skip
        return known, self.vectors(known)

    def to_index_space(self, vectors: Floats) -> Floats:
        """Model vectors → index space (whitened if a whitening is set)."""
        x = np.asarray(vectors, np.float32)
        return x if self.whitening is None else self.whitening.apply(x)

    def locals_of(self, ids: Sequence[int]) -> dict[int, Locals]:
        """The local features of those ids that have them."""
        return {int(i): self._locals[int(i)] for i in ids if int(i) in self._locals}

    def path_of(self, photo_id: int) -> Path | None:
        """The id's file (an empty path if none was given); None for an unknown id."""
        if photo_id not in self._row:
            return None
        return self._paths.get(photo_id, Path())

    def paths_of(self, ids: Sequence[int]) -> dict[int, Path]:
        """:meth:`path_of` of those of ``ids`` the store holds."""
        return {int(i): self._paths.get(int(i), Path()) for i in ids if int(i) in self._row}


def stored_form(embedding: Embedding) -> Embedding:
    """An embedding as the catalog gives it back (local features through their int8 codes)."""
    if embedding.locals is None:
        return embedding
    return replace(embedding, locals=locals_from_bytes(locals_to_bytes(embedding.locals)))
