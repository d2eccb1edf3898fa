"""The kNN step of the search pipeline: the store's projected index shortlists OVERFETCH x k,
and the shortlist is rescored with exact vectors."""

from __future__ import annotations

import numpy as np

from lookalike.search.pipeline import exact_knn, nearest
from lookalike.store.memory import MemoryStore
from lookalike.store.projection import OVERFETCH, random_rotation
from lookalike.types import l2n


def _store(n: int = 200, dim: int = 64) -> tuple[MemoryStore, np.ndarray]:
    rng = np.random.default_rng(0)
    vectors = l2n(rng.standard_normal((n, dim)).astype(np.float32))
    return MemoryStore(np.arange(n) + 10, vectors, projection=random_rotation(dim, 8)), vectors


def test_scores_are_exact_cosines_best_first() -> None:
    store, vectors = _store()
    query = vectors[:2] + 0.3 * vectors[2:4]
    ids, scores = exact_knn(store, query, 5)
    assert ids.shape == scores.shape == (2, 5)
    for q in range(2):
        np.testing.assert_allclose(scores[q], vectors[ids[q] - 10] @ query[q], atol=1e-6)
        assert (np.diff(scores[q]) <= 0).all()
    _, approx_scores = store.knn(query, 5)  # the coarse index alone differs
    assert not np.allclose(approx_scores, scores)


def test_a_whole_shortlist_gives_the_exact_neighbours() -> None:
    store, vectors = _store(n=40)
    query = vectors[7:8]
    ids, _ = exact_knn(store, query, 40 // OVERFETCH)  # the shortlist is every vector
    exact = np.argsort(-(vectors @ query[0]), kind="stable")[: 40 // OVERFETCH] + 10
    assert ids[0].tolist() == exact.tolist()
    found = nearest(store, query, 3, exclude={17})
    assert [m.photo_id for m in found] == exact[1:4].tolist()
    # the exact cosine (to float32 rounding: BLAS sums a matrix product in another order than
    # one dot product on some CPUs), not the coarse index's estimate
    assert abs(found[0].score - float(vectors[exact[1] - 10] @ query[0])) < 1e-6


class _Forgetful(MemoryStore):
    """A store whose catalog lost one vector after its index shortlisted it."""

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        known, vecs = super().vectors_of(ids)
        keep = known != 10
        return known[keep], vecs[keep]


def test_an_id_without_a_vector_is_left_out() -> None:
    _, vectors = _store(n=30)
    store = _Forgetful(np.arange(30) + 10, vectors, projection=random_rotation(64, 8))
    ids, scores = exact_knn(store, vectors[:1], 5)
    assert 10 not in ids[0].tolist() and ids.shape == (1, 5)
    np.testing.assert_allclose(scores[0], vectors[ids[0] - 10] @ vectors[0], atol=1e-6)
