"""Query expansion and database-side augmentation on global descriptors (Radenović et al.
2018).

Both replace a descriptor by a weighted sum of itself and its nearest neighbours, with weights
``sim ** alpha`` (alpha-QE / alpha-DBA).

:func:`alpha_expand` / :func:`alpha_dba` work on whole (N, D) matrices (ablations).
:func:`dba_shortlist` is what searches use: DBA applied to the shortlist only. Augmenting the
whole index would have to be redone around every photo added, changed or removed; augmenting
the top ``depth`` candidates of the plain search at query time gives them the same scores
(each candidate averaged with its own nearest photos) and never goes stale. It can only reorder
the shortlist, not bring in a photo from beyond it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from lookalike.types import l2n

Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
Neighbours = Callable[[Floats, int], tuple[Ids, Floats]]
"""(m, D) vectors, k → ids (m, k') and similarities (m, k') of their nearest photos, best first."""
Fetch = Callable[[Ids], Floats]
"""(n,) photo ids → their (n, D) vectors."""


def dba_shortlist(
    query: Floats,
    ids: Ids,
    vectors: Floats,
    neighbours: Neighbours,
    fetch: Fetch,
    k: int,
    alpha: float,
) -> Floats:
    """Scores of shortlisted photos against their alpha-DBA descriptors.

    Each candidate ``v`` becomes ``l2n(v + sum_j max(s_j, 0) ** alpha * v_j)`` over its ``k``
    nearest other photos ``v_j`` (similarity ``s_j``), and is scored by cosine to ``query``.

    Args:
        query: (D,) unit query vector.
        ids: (m,) candidate photo ids.
        vectors: (m, D) their unit vectors.
        neighbours: nearest-photo lookup over the whole library (the candidate itself is
            dropped from its own list).
        fetch: vectors of photo ids.
        k: neighbours per candidate (0: plain cosine).
        alpha: weight exponent.

    Returns:
        (m,) float32 scores, aligned with ``ids``.
    """
    if k <= 0 or not len(ids):
        return np.asarray(vectors @ query, dtype=np.float32)
    nn_ids, nn_sims = neighbours(vectors, k + 1)
    m = len(ids)
    chosen = np.full((m, k), -1, np.int64)
    weights = np.zeros((m, k), np.float32)
    for row in range(m):
        others = nn_ids[row] != ids[row]
        take_ids, take_sims = nn_ids[row][others][:k], nn_sims[row][others][:k]
        chosen[row, : len(take_ids)] = take_ids
        weights[row, : len(take_ids)] = np.maximum(take_sims, 0.0) ** alpha
    unique, where = np.unique(chosen[chosen >= 0], return_inverse=True)
    table = _neighbour_vectors(unique, ids, vectors, fetch)
    slots = np.zeros((m, k), np.int64)
    slots[chosen >= 0] = where
    gathered = table[slots] if len(table) else np.zeros((m, k, vectors.shape[1]), np.float32)
    gathered[chosen < 0] = 0.0
    augmented = l2n(vectors + np.einsum("mk,mkd->md", weights, gathered))
    return np.asarray(augmented @ query, dtype=np.float32)


def _neighbour_vectors(unique: Ids, ids: Ids, vectors: Floats, fetch: Fetch) -> Floats:
    """(u, D) vectors of the sorted ``unique`` neighbour ids: those of the shortlist ``ids``
    are taken from its ``vectors`` (in a library most neighbours of a shortlisted photo are
    shortlisted too), only the others are fetched."""
    table = np.zeros((len(unique), vectors.shape[1]), np.float32)
    if not len(unique):
        return table
    order = np.argsort(ids, kind="stable")
    at = np.minimum(np.searchsorted(ids[order], unique), len(ids) - 1)
    known = ids[order][at] == unique
    table[known] = vectors[order[at[known]]]
    if not known.all():
        table[~known] = fetch(unique[~known])
    return table


def alpha_expand(
    queries: Floats, database: Floats, k: int, alpha: float, *, queries_in_database: bool = False
) -> Floats:
    """Each query plus its ``k`` nearest database vectors, weighted ``max(sim, 0) ** alpha``.

    Args:
        queries: (Q, D) unit rows.
        database: (N, D) unit rows.
        k: neighbours added (0 returns the queries unchanged).
        alpha: weight exponent (0 = plain average).
        queries_in_database: the queries are the database's rows (Q == N, same order); each
            row's own entry is not counted as a neighbour.

    Returns:
        (Q, D) float32 unit rows.
    """
    if k <= 0 or len(database) == 0:
        return np.ascontiguousarray(queries, dtype=np.float32)
    sim = queries @ database.T
    if queries_in_database:
        np.fill_diagonal(sim, -np.inf)
    k = min(k, len(database) - int(queries_in_database))
    if k <= 0:
        return np.ascontiguousarray(queries, dtype=np.float32)
    nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    weights = np.maximum(np.take_along_axis(sim, nn, axis=1), 0.0) ** alpha  # (Q, k)
    expanded = queries + np.einsum("qk,qkd->qd", weights, database[nn])
    return l2n(expanded)


def alpha_dba(database: Floats, k: int, alpha: float) -> Floats:
    """Database-side augmentation: each vector averaged with its ``k`` nearest others.

    Args:
        database: (N, D) unit rows.
        k: neighbours (itself excluded) added to each vector.
        alpha: weight exponent.

    Returns:
        (N, D) float32 unit rows.
    """
    if k <= 0 or len(database) < 2:
        return np.ascontiguousarray(database, dtype=np.float32)
    return alpha_expand(database, database, k, alpha, queries_in_database=True)
