"""The index's projection: a fixed random rotation, scaled so inner products estimate cosines;
the hnswlib index holding projected vectors; its sidecar naming the projection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.store import projection
from lookalike.store.hnsw import IndexParams, IndexUnusable, VectorIndex, sidecar_path
from lookalike.store.projection import Projection, default_projection, random_rotation
from lookalike.store.whitening import Whitening

UnitVectors = Callable[..., np.ndarray]
MODEL = "model-a"


def test_rotation_is_orthonormal_fixed_and_unbiased(unit_vectors: UnitVectors) -> None:
    p = random_rotation(512, 128)
    np.testing.assert_allclose(p.basis.T @ p.basis, np.eye(128), atol=1e-5)
    assert p.scale == pytest.approx(2.0) and (p.source_dim, p.dim) == (512, 128)
    assert random_rotation(512, 128).digest == p.digest != random_rotation(512, 128, 7).digest
    x = unit_vectors(400, 512, seed=1)
    y = x + 0.05 * unit_vectors(400, 512, seed=2)  # near pairs: cosines ~0.999
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    exact = np.sum(x * y, axis=1)
    approx = np.sum(p.apply(x) * p.apply(y), axis=1)
    assert abs(float(np.mean(approx - exact))) < 0.02  # unbiased: no shrink by D'/D
    assert float(np.abs(approx - exact).max()) < 0.4


def test_default_projection_only_for_larger_models(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_projection(projection.INDEX_DIM) is None
    chosen = default_projection(1280)
    assert chosen is not None and chosen.dim == projection.INDEX_DIM == 384
    monkeypatch.setattr(projection, "INDEX_DIM", 32)
    small = default_projection(64)
    assert small is not None and small.dim == 32


def make(proj: Projection | None, white: Whitening | None = None) -> VectorIndex:
    return VectorIndex(64, MODEL, IndexParams(m=16, ef_construction=100), whitening=white,
                       projection=proj)  # fmt: skip


def test_index_holds_projected_vectors_and_answers_model_queries(
    unit_vectors: UnitVectors,
) -> None:
    proj = random_rotation(64, 16)
    index = make(proj)
    vecs = unit_vectors(300, 64)
    index.add(np.arange(300), vecs)
    assert (index.dim, index.index_dim) == (64, 16)
    held = index.vectors([5, 7])
    np.testing.assert_allclose(held, proj.apply(vecs[[5, 7]]), atol=1e-6)
    ids, scores = index.knn(vecs[5], 3)
    assert ids[0, 0] == 5
    np.testing.assert_allclose(scores[0, 0], np.sum(held[0] ** 2), atol=1e-4)
    again, _ = index.knn(held, 3, whitened=True)  # what vectors() gives goes back as a query
    assert again[:, 0].tolist() == [5, 7]


def test_whitening_is_applied_in_full_space_before_the_projection(
    unit_vectors: UnitVectors,
) -> None:
    vecs = unit_vectors(200, 64)
    rng = np.random.default_rng(3)
    white = Whitening(rng.normal(0, 0.01, 64).astype(np.float32),
                      np.diag(rng.uniform(0.5, 2, 64)).astype(np.float32), 50, 200)  # fmt: skip
    proj = random_rotation(64, 16)
    index = make(proj, white)
    index.add(np.arange(200), vecs)
    np.testing.assert_allclose(index.vectors([3]), proj.apply(white.apply(vecs[[3]])),
                               atol=1e-5)  # fmt: skip


def test_sidecar_names_the_projection_and_another_one_is_rebuilt(
    tmp_path: Path, unit_vectors: UnitVectors,
) -> None:
    proj = random_rotation(64, 16)
    index = make(proj)
    index.add(np.arange(50), unit_vectors(50, 64))
    path = tmp_path / "index.hnsw"
    index.save(path)
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["projection"] == proj.digest and (meta["dim"], meta["index_dim"]) == (64, 16)
    loaded = VectorIndex.load(path, MODEL, 64, projection=proj)
    assert loaded.index_dim == 16 and loaded.live_count == 50
    with pytest.raises(IndexUnusable, match="projection"):
        VectorIndex.load(path, MODEL, 64, projection=random_rotation(64, 16, seed=1))
    with pytest.raises(IndexUnusable, match="projection"):
        VectorIndex.load(path, MODEL, 64, projection=None)


def test_an_index_saved_before_projections_is_rebuilt(
    tmp_path: Path, unit_vectors: UnitVectors,
) -> None:
    index = make(None)
    index.add(np.arange(50), unit_vectors(50, 64))
    path = tmp_path / "index.hnsw"
    index.save(path)
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    del meta["projection"], meta["index_dim"]  # as an older version wrote it
    side.write_text(json.dumps(meta))
    assert VectorIndex.load(path, MODEL, 64, projection=None).live_count == 50
    with pytest.raises(IndexUnusable, match="another projection"):
        VectorIndex.load(path, MODEL, 64, projection=random_rotation(64, 16))
