"""load_or_rebuild: the index file is a cache of the catalog and is repaired from it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.store import index_sync as index_module
from lookalike.store import vector_rows
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import VectorIndex
from lookalike.store.index_sync import diff, load_or_rebuild

MODEL = "model-a"
UnitVectors = Callable[..., np.ndarray]
DIM = 16
LOGGER = "lookalike.store.index_sync"

Fill = Callable[..., list[int]]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "index.hnsw"


def assert_matches_catalog(index: VectorIndex, catalog: Catalog) -> None:
    ids, _ = catalog.vector_digests(MODEL)
    assert index.labels() == set(ids.tolist())
    assert diff(index, catalog).size == 0
    for block_ids, vectors in catalog.iter_vectors(MODEL):
        found, scores = index.knn(vectors, 1)
        assert found[:, 0].tolist() == block_ids.tolist()
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_new_library_creates_an_empty_index_quietly(
    path: Path, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert (index.live_count, reason) == (0, "missing")
    assert warnings(caplog) == []
    assert path.exists()


def test_missing_index_is_rebuilt_with_a_warning(
    path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture
) -> None:
    fill(50)
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason == "missing"
    assert warnings(caplog) == [f"index {path} rebuilt: missing"]
    assert_matches_catalog(index, catalog)


def test_saved_index_is_used_as_is(
    path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture,
    unit_vectors: UnitVectors,
) -> None:  # fmt: skip
    fill(80)
    first, _ = load_or_rebuild(path, catalog, MODEL, DIM)
    queries = unit_vectors(10, seed=99)
    caplog.clear()
    second, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason is None and warnings(caplog) == []
    np.testing.assert_array_equal(first.knn(queries, 10)[0], second.knn(queries, 10)[0])
    assert not second.dirty


def test_truncated_index_is_rebuilt(
    path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture
) -> None:
    fill(60)
    load_or_rebuild(path, catalog, MODEL, DIM)
    path.write_bytes(path.read_bytes()[:1000])
    caplog.clear()
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason is not None and "bytes" in reason
    assert len(warnings(caplog)) == 1 and "rebuilt" in warnings(caplog)[0]
    assert_matches_catalog(index, catalog)
    assert load_or_rebuild(path, catalog, MODEL, DIM)[1] is None  # saved back


def test_stale_index_saved_before_more_adds_is_patched(
    path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture
) -> None:
    fill(40)
    load_or_rebuild(path, catalog, MODEL, DIM)
    fill(7, seed=1, start=40)  # the app wrote these to the catalog, then crashed
    caplog.clear()
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason == "stale (7 missing)"
    assert warnings(caplog) == [f"index {path} patched from the catalog: stale (7 missing)"]
    assert_matches_catalog(index, catalog)
    assert load_or_rebuild(path, catalog, MODEL, DIM)[1] is None


def test_stale_index_removed_offline_and_reembedded_photos(
    path: Path, catalog: Catalog, fill: Fill, root: Path, unit_vectors: UnitVectors
) -> None:
    ids = fill(30)
    load_or_rebuild(path, catalog, MODEL, DIM)
    catalog.remove_photos(ids[:2])
    other = catalog.add_root(root.parent / "usb")
    moved_away = catalog.upsert_pending(other, root.parent / "usb" / "x.jpg", 1, 1, None)
    catalog.set_indexed(moved_away, MODEL, unit_vectors(1, seed=5)[0], b"")
    catalog.set_root_online(other, False)
    new_vec = unit_vectors(1, seed=6)[0]
    catalog.upsert_pending(catalog.add_root(root), root / "img00010.jpg", 5, 5, None)
    catalog.set_indexed(ids[10], MODEL, new_vec, b"")  # same id, new vector

    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason == "stale (2 extra, 1 changed)"
    assert_matches_catalog(index, catalog)
    assert int(index.knn(new_vec, 1)[0][0, 0]) == ids[10]


def test_large_difference_means_full_rebuild(
    path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(index_module, "PATCH_LIMIT_MIN", 5)
    fill(10)
    load_or_rebuild(path, catalog, MODEL, DIM)
    fill(30, seed=2, start=10)
    caplog.clear()
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM)
    assert reason == "stale (30 missing)"
    assert warnings(caplog) == [f"index {path} rebuilt: stale (30 missing)"]
    assert_matches_catalog(index, catalog)


def test_model_change_rebuilds(
    path: Path, catalog: Catalog, fill: Fill, root: Path, unit_vectors: UnitVectors,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    ids = fill(20)
    load_or_rebuild(path, catalog, MODEL, DIM)
    assert catalog.set_model("model-b")
    catalog.set_indexed(ids[0], "model-b", unit_vectors(1, dim=8)[0], b"")
    caplog.clear()
    index, reason = load_or_rebuild(path, catalog, "model-b", 8)
    assert reason is not None and "model" in reason
    assert index.labels() == {ids[0]} and index.dim == 8
    assert "rebuilt" in warnings(caplog)[0]


def test_failed_save_keeps_the_index_usable(
    tmp_path: Path, catalog: Catalog, fill: Fill, caplog: pytest.LogCaptureFixture
) -> None:
    fill(5)
    index, reason = load_or_rebuild(tmp_path / "no-such-dir" / "index.hnsw", catalog, MODEL, DIM)
    assert reason == "missing" and index.live_count == 5
    assert any("could not be saved" in m for m in warnings(caplog))


def test_an_index_of_another_whitening_is_rebuilt(
    path: Path, catalog: Catalog, fill: Fill, unit_vectors: UnitVectors
) -> None:
    from lookalike.store.whitening import fit

    fill(60)
    white = fit(unit_vectors(60), np.arange(60, dtype=np.int64).reshape(30, 2))
    index, _ = load_or_rebuild(path, catalog, MODEL, DIM)
    assert index.whitening is None
    index, reason = load_or_rebuild(path, catalog, MODEL, DIM, whitening=white)
    assert reason is not None and "whitening" in reason and index.whitening is white
    assert_matches_catalog(index, catalog)  # CRCs are the catalog's, whitened or not
    assert load_or_rebuild(path, catalog, MODEL, DIM, whitening=white)[1] is None
    assert "whitening" in str(load_or_rebuild(path, catalog, MODEL, DIM)[1])  # undone


def test_catalog_checksum_is_the_digests_checksum_and_sees_one_changed_vector(
    catalog: Catalog, fill: Fill, root: Path, unit_vectors: UnitVectors
) -> None:
    ids = fill(25)
    digests = catalog.vector_digests(MODEL)
    before = vector_rows.vector_checksum(catalog, MODEL)
    assert before == vector_rows.digests_checksum(*digests)
    assert before[0] == 25
    catalog.set_indexed(ids[3], MODEL, unit_vectors(1, seed=7)[0], b"")  # same id, new vector
    after = vector_rows.vector_checksum(catalog, MODEL)
    assert after != before and after == vector_rows.digests_checksum(*catalog.vector_digests(MODEL))
    assert vector_rows.vector_checksum(catalog, "another-model") == (0, 0, 0)
