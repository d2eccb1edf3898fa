"""Query expansion and database-side augmentation on global descriptors (Radenović et al.
2018): (N, D) vectors → expanded (N, D) vectors.

Both replace a descriptor by a weighted sum of itself and its nearest neighbours, with weights
``sim ** alpha`` (alpha-QE / alpha-DBA). Measured on ``bench/dev`` without gain so far; kept
for ablations (``lookalike eval --qe K --dba K``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lookalike.embed.rmac import l2n

Floats = npt.NDArray[np.float32]


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
