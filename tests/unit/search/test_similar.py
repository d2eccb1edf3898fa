"""search.similar: clamping k, excluding the query, mapping ids to matches, crops."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from lookalike.decode.query import crop_fraction
from lookalike.errors import KnownError
from lookalike.library.searching import IndexStore
from lookalike.library.writer import CatalogWriter
from lookalike.search.pipeline import nearest
from lookalike.search.similar import Match, clamp_k, rank
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import VectorIndex


@pytest.mark.parametrize(
    ("k", "live", "excluded", "expected"),
    [(10, 100, 0, 10), (10, 100, 1, 11), (10, 5, 1, 5), (0, 5, 0, 0), (-3, 5, 0, 0),
     (10, 0, 0, 0)],
)
def test_clamp_k(k: int, live: int, excluded: int, expected: int) -> None:
    assert clamp_k(k, live, excluded) == expected


def test_rank_skips_excluded_and_unknown_ids() -> None:
    ids = np.array([7, 3, 9, 4, 5], np.int64)
    scores = np.array([1.0, 0.9, 0.8, 0.7, 0.6], np.float32)
    paths = {3: Path("/a"), 4: Path("/b"), 5: Path("/c"), 7: Path("/q")}
    matches = rank(ids, scores, k=2, exclude={7}, lookup=paths.get)
    assert matches == [Match(3, Path("/a"), pytest.approx(0.9), 1),
                       Match(4, Path("/b"), pytest.approx(0.7), 2)]


def unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_nearest_against_a_real_catalog_and_index(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.sqlite")
    try:
        root = catalog.add_root(tmp_path)
        vecs = unit(6, 16)
        index = VectorIndex(16, "m")
        ids = []
        for i in range(6):
            pid = catalog.upsert_pending(root, tmp_path / f"{i}.jpg", 1, 1, None)
            catalog.set_indexed(pid, "m", vecs[i], b"")
            ids.append(pid)
        index.add(np.array(ids, np.int64), vecs)
        store = IndexStore(CatalogWriter(catalog, index, "m", {".jpg"}, []))

        def knn(query: np.ndarray, k: int, exclude: set[int] | None = None) -> list[Match]:
            return nearest(store, query[None, :], k, exclude or set())

        matches = knn(vecs[2], k=50, exclude={ids[2]})
        assert len(matches) == 5  # k clamped, the query itself excluded
        assert [m.rank for m in matches] == [1, 2, 3, 4, 5]
        assert ids[2] not in {m.photo_id for m in matches}
        assert all(a.score >= b.score for a, b in itertools.pairwise(matches))
        catalog.set_skipped(ids[0], "gone bad")  # not indexed any more: never returned
        assert ids[0] not in {m.photo_id for m in knn(vecs[0], k=3)}
        asked = [ids[0], ids[3], 999, ids[1]]  # skipped, indexed, unknown, indexed
        assert store.paths_of(asked) == {i: p for i in asked if (p := store.path_of(i))}
        assert set(store.paths_of(asked)) == {ids[3], ids[1]}
        assert knn(vecs[0], k=0) == []
        empty = IndexStore(CatalogWriter(catalog, VectorIndex(16, "m"), "m", {".jpg"}, []))
        assert nearest(empty, vecs[:1], 5, set()) == []
    finally:
        catalog.close()


def test_crop_fraction() -> None:
    rgb = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    assert crop_fraction(rgb, (0.0, 0.0, 1.0, 1.0)).shape == (10, 20, 3)
    part = crop_fraction(rgb, (0.5, 0.0, 1.0, 0.5))
    assert part.shape == (5, 10, 3)
    assert (part == rgb[:5, 10:]).all()
    assert crop_fraction(rgb, (0.99, 0.99, 1.0, 1.0)).shape == (1, 1, 3)
    for bad in [(0.5, 0.0, 0.5, 1.0), (-0.1, 0, 1, 1), (0, 0, 1.2, 1)]:
        with pytest.raises(KnownError):
            crop_fraction(rgb, bad)
