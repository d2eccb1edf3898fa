"""Learning the library's whitening from its own photos (no labels) and dropping it again.

Pairs of photos that are each other's nearest neighbour stand in for labelled matches (see
:mod:`lookalike.store.whitening`). The stored vectors never change: the index is rebuilt from
them, whitened, beside the one in use, and the writer swaps it in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.errors import KnownError
from lookalike.library.writer import CatalogWriter
from lookalike.store import whitening
from lookalike.store.catalog import Catalog
from lookalike.store.index_sync import build_from_catalog

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
Nearest = Callable[[Floats, int], tuple[Ids, Floats]]
"""(m, D) model vectors, k → ids (m, k') and similarities of their nearest photos."""


def learn(ids: Ids, vectors: Floats, nearest: Nearest) -> whitening.Whitening:
    """Fit a whitening on mutual-nearest-neighbour pairs.

    Args:
        ids: (N,) photo ids.
        vectors: (N, D) their model vectors.
        nearest: the neighbour lookup over the same photos (the library's index, or exact
            neighbours over a bench).

    Raises:
        KnownError: too few photos or pairs to learn from.
    """
    found = nearest_others(ids, vectors, nearest)
    try:
        return whitening.fit(vectors, whitening.mutual_pairs(ids, found))
    except ValueError as exc:
        raise KnownError(f"not enough similar photos to learn from yet: {exc}") from exc


def nearest_others(ids: Ids, vectors: Floats, nearest: Nearest) -> Ids:
    """Each photo's nearest other photo (-1: none), in blocks of 256 queries."""
    out = np.full(len(ids), -1, np.int64)
    if len(ids) < 2:
        return out
    for start in range(0, len(ids), 256):
        found, _ = nearest(vectors[start : start + 256], 2)
        for row, hits in enumerate(found.tolist(), start=start):
            others = [h for h in hits if h != ids[row]]
            out[row] = others[0] if others else -1
    return out


def learn_for_library(writer: CatalogWriter, index_file: Path | None) -> whitening.Whitening:
    """Learn a whitening from the writer's catalog, store it and swap in a whitened index.

    Nothing here holds the library lock while learning: the catalog is read block by block and
    each index query locks the index briefly, so searches go on meanwhile.
    """
    blocks = list(writer.catalog.iter_vectors(writer.model_id))
    if not blocks:
        raise KnownError("the library has no indexed photos to learn from")
    ids = np.concatenate([b[0] for b in blocks])
    vectors = np.concatenate([b[1] for b in blocks])
    index = writer.index
    fitted = learn(ids, vectors, lambda vs, k: index.knn(vs, k))
    writer.set_whitening(fitted.to_bytes())
    reindex(writer, fitted, index_file)
    log.info("whitening learned from %d photos (%d pairs)", fitted.photos, fitted.pairs)
    return fitted


def forget_for_library(writer: CatalogWriter, index_file: Path | None) -> None:
    """Drop the stored whitening and re-index the stored vectors as they are."""
    writer.set_whitening(None)
    if writer.index.whitening is not None:
        reindex(writer, None, index_file)


def reindex(writer: CatalogWriter, white: whitening.Whitening | None, index_file: Path | None
            ) -> None:  # fmt: skip
    """Build an index with ``white`` while the current one serves, then let the writer swap."""
    current = writer.index
    fresh = build_from_catalog(writer.catalog, writer.model_id, current.dim, current.params,
                               white)  # fmt: skip
    writer.replace_index(fresh, index_file)


def stored_whitening(catalog: Catalog, model_id: str) -> whitening.Whitening | None:
    """The catalog's whitening for ``model_id``; a damaged one is logged and ignored."""
    data = catalog.whitening(model_id)
    if data is None:
        return None
    try:
        return whitening.Whitening.from_bytes(data)
    except ValueError as exc:
        log.warning("stored whitening ignored: %s", exc)
        return None
