"""Vectors held in memory with exact neighbours: the store ``lookalike eval`` searches.

It answers what the library's hnswlib index and catalog answer (``search.pipeline``'s
``VectorStore``), exactly instead of approximately, so a bench runs the app's own search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.store.hnsw import check_vectors
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
        """
        self._ids = np.asarray(ids, np.int64)
        self.whitening = whitening
        raw = check_vectors(np.asarray(vectors, np.float32))
        self._db = raw if whitening is None else whitening.apply(raw)
        self._row = {int(i): r for r, i in enumerate(self._ids.tolist())}
        self._locals = {int(k): locals_from_bytes(locals_to_bytes(v))
                        for k, v in (locals_ or {}).items()}  # fmt: skip
        self._paths = dict(paths or {})
        self._dates = dict(dates or {})

    @property
    def live_count(self) -> int:
        """Number of vectors."""
        return len(self._ids)

    def knn(self, queries: Floats, k: int) -> tuple[Ids, Floats]:
        """Exact nearest ids (Q, k) and cosine scores of (Q, D) index-space queries; ties keep
        the ids' order."""
        sims = np.asarray(queries, np.float32).reshape(-1, self._db.shape[1]) @ self._db.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, : max(0, min(k, len(self._ids)))]
        return self._ids[order], np.take_along_axis(sims, order, axis=1).astype(np.float32)

    def knn_within(self, queries: Floats, k: int, scope: Scope) -> tuple[Ids, Floats]:
        """As :meth:`knn`, among the ids whose path and date (``dates``) ``scope`` admits."""
        keep = [r for r, i in enumerate(self._ids.tolist())
                if scope.admits(self._paths.get(i, Path()), self._dates.get(i))]  # fmt: skip
        sims = np.asarray(queries, np.float32).reshape(-1, self._db.shape[1]) @ self._db[keep].T
        order = np.argsort(-sims, axis=1, kind="stable")[:, : max(0, min(k, len(keep)))]
        ids = self._ids[keep][order]
        return ids, np.take_along_axis(sims, order, axis=1).astype(np.float32)

    def vectors(self, ids: Ids) -> Floats:
        """Index-space vectors of ``ids`` (KeyError for an unknown id)."""
        rows = [self._row[int(i)] for i in np.asarray(ids).reshape(-1).tolist()]
        return np.ascontiguousarray(self._db[rows], np.float32)

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


def stored_form(embedding: Embedding) -> Embedding:
    """An embedding as the catalog gives it back (local features through their int8 codes)."""
    if embedding.locals is None:
        return embedding
    return replace(embedding, locals=locals_from_bytes(locals_to_bytes(embedding.locals)))
