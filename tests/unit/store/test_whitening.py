"""Learned whitening from mutual nearest neighbours: pairs, fit, serialisation, in the index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.embed.rmac import l2n
from lookalike.store.hnsw import IndexParams, IndexUnusable, VectorIndex
from lookalike.store.whitening import MIN_PAIRS, Whitening, fit, mutual_pairs

DIM = 16


def _scenes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes, two photos each, that differ mostly along the first two axes (a nuisance
    such as light), plus small noise: (2n, DIM) unit rows and their scene labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n, DIM))
    photos, labels = [], []
    for i, c in enumerate(centres):
        for _ in range(2):
            nuisance = np.zeros(DIM)
            nuisance[:2] = rng.standard_normal(2) * 2.5
            photos.append(c + nuisance + 0.05 * rng.standard_normal(DIM))
            labels.append(i)
    return l2n(np.asarray(photos, np.float32)), np.asarray(labels)


def test_mutual_pairs_keeps_only_reciprocal_nearest_neighbours() -> None:
    ids = np.array([10, 11, 12, 13, 14], np.int64)
    nearest = np.array([11, 10, 13, 14, -1], np.int64)  # 10<->11 mutual, 12->13->14 not
    assert mutual_pairs(ids, nearest).tolist() == [[0, 1]]
    assert mutual_pairs(ids[:0], nearest[:0]).shape == (0, 2)


def test_fit_learns_to_ignore_what_pairs_differ_in() -> None:
    vectors, labels = _scenes(60)
    pairs = np.array([[2 * i, 2 * i + 1] for i in range(60)], np.int64)

    def twin_found(x: np.ndarray) -> float:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return float((labels[sims.argmax(axis=1)] == labels).mean())

    white = fit(vectors, pairs)
    assert white.pairs == 60 and white.photos == 120
    assert twin_found(white.apply(vectors)) > twin_found(vectors) + 0.2
    assert np.allclose(np.linalg.norm(white.apply(vectors), axis=1), 1.0, atol=1e-5)
    assert white.apply(vectors[0]).shape == (DIM,)


def test_fit_needs_enough_pairs() -> None:
    vectors, _ = _scenes(MIN_PAIRS)
    pairs = np.array([[2 * i, 2 * i + 1] for i in range(MIN_PAIRS - 1)], np.int64)
    with pytest.raises(ValueError, match="at least"):
        fit(vectors, pairs)


def test_bytes_round_trip_and_digest() -> None:
    vectors, _ = _scenes(30)
    white = fit(vectors, np.array([[2 * i, 2 * i + 1] for i in range(30)], np.int64))
    back = Whitening.from_bytes(white.to_bytes())
    assert back.digest == white.digest and (back.pairs, back.photos) == (30, 60)
    np.testing.assert_array_equal(back.matrix, white.matrix)
    other = fit(vectors, np.array([[2 * i, 2 * i + 1] for i in range(25)], np.int64))
    assert other.digest != white.digest
    with pytest.raises(ValueError):
        Whitening.from_bytes(b"not an npz")


def test_index_whitens_vectors_and_queries_but_keeps_catalog_crcs(tmp_path: Path) -> None:
    vectors, _ = _scenes(30)
    white = fit(vectors, np.array([[2 * i, 2 * i + 1] for i in range(30)], np.int64))
    plain = VectorIndex(DIM, "m", IndexParams(m=16))
    whitened = VectorIndex(DIM, "m", IndexParams(m=16), whitening=white)
    ids = np.arange(60)
    plain.add(ids, vectors)
    whitened.add(ids, vectors)
    assert whitened.digests() == plain.digests()  # CRCs of the unwhitened vectors
    np.testing.assert_allclose(whitened.vectors([3]), white.apply(vectors[[3]]), atol=1e-6)
    found, scores = whitened.knn(vectors[5], 3)
    exact = white.apply(vectors) @ white.apply(vectors[5])
    assert found[0].tolist() == np.argsort(-exact)[:3].tolist()
    np.testing.assert_allclose(scores[0], np.sort(exact)[::-1][:3], atol=1e-5)
    same, _ = whitened.knn(whitened.vectors([5]), 3, whitened=True)
    assert same[0].tolist() == found[0].tolist()

    path = tmp_path / "index.hnsw"
    whitened.save(path)
    assert VectorIndex.load(path, "m", DIM, whitening=white).whitening is white
    for wrong in (None, fit(vectors, np.array([[2 * i, 2 * i + 1] for i in range(25)]))):
        with pytest.raises(IndexUnusable, match="whitening"):
            VectorIndex.load(path, "m", DIM, whitening=wrong)

