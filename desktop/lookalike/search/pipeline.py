"""The one search pipeline: query embedding(s) + stored vectors → ranked :class:`Match` rows.

``Library.search``, ``Library.search_photo`` and ``lookalike eval`` (ablations included) all
call :func:`search`; only the store they pass differs (the library's hnswlib index and catalog,
or the bench's vectors held in memory). Steps, each switched by :class:`SearchOptions`:

1. alpha query expansion (``qe``) in the store's space;
2. k nearest photos (among those in ``scope`` when set): the store's index (approximate, over
   projected vectors) shortlists ``OVERFETCH`` times k, which are rescored with their exact
   vectors (:func:`exact_knn`);
3. alpha-DBA on the shortlist (``dba``, ``dba_depth``, ``alpha``);
4. spatial re-ranking of the top ``rerank_params.depth`` by local features (``rerank``), which
   also gives each of them its verdict (``search.verdict``);
5. with several query variants (``rotate``), each photo keeps its best score.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lookalike.search.copy_check import EMBEDDED_VARIANTS, CopyPixels, QueryImage
from lookalike.search.defaults import DBA_ALPHA, DBA_DEPTH, DBA_K
from lookalike.search.expand import alpha_expand, dba_shortlist
from lookalike.search.rerank import DEFAULT_PARAMS, Fit, RerankParams
from lookalike.search.rotate import merge_max
from lookalike.search.similar import Match, clamp_k, rank
from lookalike.search.verdict import fits_by_id, verified_matches
from lookalike.store.projection import OVERFETCH
from lookalike.store.scope import Scope
from lookalike.types import Embedding, Locals

Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SearchOptions:
    """How one search runs; built per call from the settings or the command line.

    Attributes:
        top: maximum number of matches returned.
        dba: neighbours of alpha-DBA on the shortlist (0: off).
        dba_depth: how many of the top matches DBA rescores.
        alpha: weight exponent of DBA and QE.
        qe: neighbours of alpha query expansion (0: off; it hurts on both benches).
        rerank: re-rank the top matches by spatial verification (when the query has local
            features).
        rerank_params: the re-ranking knobs (depth, weight, ...).
        rotate: also search with the query turned by 90, 180 and 270 degrees (the caller
            embeds the turns; see ``Library.search``).
        scope: only photos of these folders and dates are returned (None: all); the kNN step
            searches among them, DBA and re-ranking then work on that shortlist.
    """

    top: int = 50
    dba: int = DBA_K
    dba_depth: int = DBA_DEPTH
    alpha: float = DBA_ALPHA
    qe: int = 0
    rerank: bool = True
    rerank_params: RerankParams = DEFAULT_PARAMS
    rotate: bool = False
    scope: Scope | None = None


DEFAULT_OPTIONS = SearchOptions()


class VectorStore(Protocol):
    """Read access to the stored vectors and local features a search needs.

    Vectors in "index space" are what a search ranks by: the model's (N, D) vectors, whitened
    if the library learned a whitening. The store's nearest-neighbour index may hold them
    projected to fewer dimensions (``lookalike.store.projection``): its scores are then
    approximate, and :func:`exact_knn` rescores its shortlist with :meth:`vectors_of`.
    """

    @property
    def live_count(self) -> int:
        """Number of searchable photos."""
        ...

    def knn(self, queries: Floats, k: int) -> tuple[Ids, Floats]:
        """(Q, D) index-space queries → ids (Q, k') and their index's scores (Q, k'), best
        first (cosines, or approximations of them when the index projects)."""
        ...

    def knn_within(self, queries: Floats, k: int, scope: Scope) -> tuple[Ids, Floats]:
        """As :meth:`knn`, among the photos in ``scope`` only (k' ≤ how many there are)."""
        ...

    def vectors(self, ids: Ids) -> Floats:
        """(n,) ids → their exact (n, D) index-space vectors (KeyError for an unknown id)."""
        ...

    def vectors_of(self, ids: Ids) -> tuple[Ids, Floats]:
        """As :meth:`vectors`, for those of ``ids`` the store has (m ≤ n; ids (m,), (m, D))."""
        ...

    def to_index_space(self, vectors: Floats) -> Floats:
        """(n, D) model vectors → (n, D) index-space vectors."""
        ...

    def locals_of(self, ids: Sequence[int]) -> dict[int, Locals]:
        """The local features of those photos that have them."""
        ...

    def path_of(self, photo_id: int) -> Path | None:
        """A searchable photo's path; None for one that is not (removed, pending...)."""
        ...

    def paths_of(self, ids: Sequence[int]) -> dict[int, Path]:
        """:meth:`path_of` of many photos at once: those that are searchable, by id."""
        ...


def search(
    store: VectorStore,
    queries: Sequence[Embedding],
    options: SearchOptions = DEFAULT_OPTIONS,
    exclude: Collection[int] = (),
    image: QueryImage | None = None,
) -> list[Match]:
    """Rank the store's photos for one query given as one or more variants (turns).

    Args:
        store: the vectors searched (the caller holds whatever lock guards it).
        queries: the query's embeddings, upright first; several are merged by best score.
        options: the search's switches.
        exclude: photo ids never returned (the query photo itself).
        image: the query's pixels, for the same-photo verdict's pixel test
            (``search.copy_check``); None: the verdict uses the cells only.

    Returns:
        Up to ``options.top`` matches, best first, ranks 1..n.
    """
    found = [find(store, q, options, exclude,
                  None if image is None else image if t == 0 else image.turned(t))
             for t, q in enumerate(queries)]  # fmt: skip
    if not found:
        return []
    return found[0] if len(found) == 1 else merge_max(found, options.top)


def find(
    store: VectorStore, query: Embedding, options: SearchOptions, exclude: Collection[int] = (),
    image: QueryImage | None = None,
) -> list[Match]:
    """One query variant: QE, kNN, DBA on the shortlist, then spatial re-ranking (with the
    pixel copy test when ``image`` gives the variant's pixels)."""
    params = options.rerank_params
    verify = options.rerank and query.locals is not None
    deep = verify or options.dba > 0
    vector = store.to_index_space(np.asarray(query.vector, np.float32)[None, :])
    if options.qe > 0:
        vector = _expanded(store, vector, exclude, options)
    k = max(options.top, params.depth, options.dba_depth) if deep else options.top
    matches = nearest(store, vector, k, exclude, options.scope)
    cosines = {m.photo_id: m.score for m in matches[: params.depth]}
    if not verify:
        return _dba_head(store, vector, matches, options)[: options.top]
    assert query.locals is not None
    # DBA only reorders its first dba_depth matches: when re-ranking verifies at least as many,
    # the photos it verifies are known now, and their fits (which depend on the two photos'
    # local features only) are computed on one thread while DBA rescores on this one. One
    # thread, not one per core: re-ranking's many small NumPy calls hold Python's lock, and
    # with DBA beside it a second re-ranking thread only waits for it (search part of a
    # dragged-in photo on the 100k bench: 121 ms with two, 112 with one).
    fits: dict[int, Fit | None] | None = None
    if options.dba > 0 and params.depth >= options.dba_depth:
        ids = [m.photo_id for m in matches[: params.depth]]
        candidates = store.locals_of(ids)
        with ThreadPoolExecutor(1, thread_name_prefix="verify") as pool:
            pending = pool.submit(fits_by_id, query.locals, ids, candidates, params, 1)
            matches = _dba_head(store, vector, matches, options)
            fits = pending.result()
    else:
        matches = _dba_head(store, vector, matches, options)
        candidates = store.locals_of([m.photo_id for m in matches[: params.depth]])
    pixels = None if image is None else CopyPixels(
        image, store.path_of, EMBEDDED_VARIANTS if options.rotate else ())
    return verified_matches(matches, query.locals, candidates, cosines, options.top, params,
                            pixels, fits)  # fmt: skip


def _dba_head(store: VectorStore, vector: Floats, matches: list[Match],
              options: SearchOptions) -> list[Match]:  # fmt: skip
    """``matches`` with their first ``options.dba_depth`` rescored by alpha-DBA (when on)."""
    if options.dba <= 0:
        return matches
    head = _augmented(store, vector[0], matches[: options.dba_depth], options)
    return head + matches[options.dba_depth:]


def nearest(store: VectorStore, vector: Floats, k: int, exclude: Collection[int],
            scope: Scope | None = None) -> list[Match]:  # fmt: skip
    """The ``k`` searchable photos (in ``scope`` if set) nearest to a (1, D) index-space
    vector, ``exclude`` left out."""
    n = clamp_k(k, store.live_count, len(exclude))
    if n == 0:
        return []
    ids, scores = exact_knn(store, np.ascontiguousarray(vector, np.float32), n, scope)
    paths = store.paths_of(ids[0].tolist())  # one lookup, not one per photo
    return rank(ids[0], scores[0], k, exclude, paths.get)


def exact_knn(store: VectorStore, queries: Floats, k: int,
              scope: Scope | None = None) -> tuple[Ids, Floats]:  # fmt: skip
    """The ``k`` nearest photos of (Q, D) index-space queries by exact cosine: the store's
    index shortlists ``OVERFETCH * k`` (in ``scope`` if set), rescored with their vectors.

    Returns:
        ids (Q, k') int64 and cosines (Q, k') float32, best first (ties: the index's order);
        an id the store no longer has a vector for is left out.
    """
    fetch = min(OVERFETCH * k, store.live_count)
    if fetch <= 0 or not len(queries):
        return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
    if scope is not None and not scope.unlimited:
        found, _ = store.knn_within(queries, fetch, scope)
    else:
        found, _ = store.knn(queries, fetch)
    known, vectors = store.vectors_of(np.unique(found))
    row_of = {int(i): r for r, i in enumerate(known.tolist())}
    rows = [[row_of[i] for i in hits if i in row_of] for hits in found.tolist()]
    width = min(k, min((len(r) for r in rows), default=0))
    ids, scores = np.zeros((len(rows), width), np.int64), np.zeros((len(rows), width), np.float32)
    for q, held in enumerate(rows):
        sims = vectors[held] @ queries[q]
        best = np.argsort(-sims, kind="stable")[:width]
        ids[q], scores[q] = known[np.asarray(held, np.int64)[best]], sims[best]
    return ids, scores


def _expanded(store: VectorStore, query: Floats, exclude: Collection[int],
              options: SearchOptions) -> Floats:  # fmt: skip
    """alpha-QE: the (1, D) query plus its ``qe`` nearest photos, weighted ``sim ** alpha``."""
    k = clamp_k(options.qe, store.live_count, len(exclude))
    if k == 0:
        return query
    ids, _ = exact_knn(store, query, k)
    keep = np.asarray([i for i in ids[0].tolist() if i not in exclude][: options.qe], np.int64)
    if not len(keep):
        return query
    expanded = alpha_expand(query, store.vectors(keep), options.qe, options.alpha)
    return np.ascontiguousarray(expanded, np.float32)


def _augmented(store: VectorStore, query: Floats, matches: list[Match],
               options: SearchOptions) -> list[Match]:  # fmt: skip
    """The shortlist rescored against its alpha-DBA descriptors, best first."""
    if not matches:
        return matches
    ids = np.asarray([m.photo_id for m in matches], np.int64)
    try:
        vectors = store.vectors(ids)
    except KeyError:  # removed meanwhile: keep the plain order
        return matches
    scores = dba_shortlist(query, ids, vectors, lambda qs, k: exact_knn(store, qs, k),
                           store.vectors, options.dba, options.alpha)  # fmt: skip
    order = np.argsort(-scores, kind="stable")
    return [replace(matches[i], score=float(scores[i]), rank=r + 1)
            for r, i in enumerate(order.tolist())]  # fmt: skip

