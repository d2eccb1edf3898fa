"""VectorIndex on real hnswlib: adds, removals, slot reuse, growth, queries, files, threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import BugError
from lookalike.store.hnsw import IndexParams, IndexUnusable, VectorIndex, sidecar_path

MODEL = "model-a"
UnitVectors = Callable[..., np.ndarray]
DIM = 16


def make(capacity: int = 1024) -> VectorIndex:
    return VectorIndex(DIM, MODEL, IndexParams(m=16, ef_construction=100), capacity=capacity)


def top1(index: VectorIndex, vector: np.ndarray) -> int:
    ids, _ = index.knn(vector, 1)
    return int(ids[0, 0])


def test_add_and_query_finds_each_vector_first(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(200)
    index.add(np.arange(100, 300), vecs)
    ids, scores = index.knn(vecs, 5)
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (200, 5)
    assert ids[:, 0].tolist() == list(range(100, 300))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    assert index.live_count == 200 and index.labels() == set(range(100, 300))


def test_scores_are_cosine_similarities(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(50)
    index.add(np.arange(50), vecs)
    ids, scores = index.knn(vecs[0], 50)
    np.testing.assert_allclose(scores[0], vecs[ids[0]] @ vecs[0], atol=1e-5)


@pytest.mark.parametrize("count, k, expected", [(0, 5, 0), (3, 10, 3), (10, 0, 0), (10, 4, 4)])
def test_k_is_clamped_to_live_count(
    unit_vectors: UnitVectors, count: int, k: int, expected: int
) -> None:
    index = make()
    if count:
        index.add(np.arange(count), unit_vectors(count))
    ids, scores = index.knn(unit_vectors(2, seed=9), k)
    assert ids.shape == scores.shape == (2, expected)


def test_k_larger_than_ef_search(unit_vectors: UnitVectors) -> None:
    index = VectorIndex(DIM, MODEL, IndexParams(ef_search=10))
    index.add(np.arange(300), unit_vectors(300))
    ids, _ = index.knn(unit_vectors(1, seed=5), 200)
    assert ids.shape == (1, 200) and len(set(ids[0].tolist())) == 200


def test_remove_hides_vectors_and_tolerates_repeats(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(20)
    index.add(np.arange(20), vecs)
    assert index.remove([3, 4, 99]) == [3, 4]
    assert index.remove([3]) == []  # hnswlib itself raises on a second mark_deleted
    ids, _ = index.knn(vecs, 18)
    assert not {3, 4} & set(ids.ravel().tolist())
    assert index.live_count == 18 and 3 not in index.labels()
    ids, _ = index.knn(vecs[0], 100)
    assert ids.shape == (1, 18)


def test_readding_a_live_label_replaces_its_vector(unit_vectors: UnitVectors) -> None:
    index = make(capacity=10)
    old, new = unit_vectors(10), unit_vectors(1, seed=1)
    index.add(np.arange(10), old)
    index.add([4], new)
    assert index.live_count == 10 and index.capacity == 10  # same slot, no growth
    assert top1(index, new[0]) == 4
    ids, _ = index.knn(old[4], 10)
    assert ids[0].tolist().count(4) == 1


def test_readding_a_removed_label_revives_it(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(10)
    index.add(np.arange(10), vecs)
    index.remove([5])
    index.add([5], unit_vectors(1, seed=3))
    assert top1(index, unit_vectors(1, seed=3)[0]) == 5 and index.live_count == 10


def test_new_labels_reuse_deleted_slots(unit_vectors: UnitVectors) -> None:
    index = make(capacity=10)
    index.add(np.arange(10), unit_vectors(10))
    index.remove(range(5))
    fresh = unit_vectors(5, seed=1)
    index.add(np.arange(100, 105), fresh)
    assert index.capacity == 10  # no resize: the five deleted slots were reused
    assert index.labels() == {5, 6, 7, 8, 9, 100, 101, 102, 103, 104}
    ids, _ = index.knn(fresh, 1)
    assert ids[:, 0].tolist() == list(range(100, 105))


@pytest.mark.parametrize("seed", range(4))
def test_partial_slot_reuse_then_revive_any_removed_label(
    unit_vectors: UnitVectors, seed: int
) -> None:
    """hnswlib picks which deleted slot a new label takes; re-adding any removed label later
    must neither raise nor leave a duplicate label behind."""
    rng = np.random.default_rng(seed)
    index = make(capacity=30)
    index.add(np.arange(30), unit_vectors(30, seed=seed))
    removed = rng.choice(30, 8, replace=False).tolist()
    index.remove(removed)
    index.add([1000, 1001, 1002], unit_vectors(3, seed=seed + 10))  # takes 3 of the 8 slots
    revived = unit_vectors(8, seed=seed + 20)
    index.add(removed, revived)
    assert index.labels() == set(range(30)) | {1000, 1001, 1002}
    ids, _ = index.knn(revived, 1)
    assert ids[:, 0].tolist() == removed
    ids, _ = index.knn(revived[0], 33)
    assert sorted(ids[0].tolist()) == sorted(index.labels())  # every label exactly once


def test_grows_across_capacity(unit_vectors: UnitVectors) -> None:
    index = make(capacity=16)
    vecs = unit_vectors(500)
    for start in range(0, 500, 7):
        index.add(np.arange(start, min(start + 7, 500)), vecs[start : start + 7])
    assert index.live_count == 500 and index.capacity >= 500
    ids, _ = index.knn(vecs, 1)
    assert (ids[:, 0] == np.arange(500)).mean() > 0.99


def test_filter_restricts_results(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(100)
    index.add(np.arange(100), vecs)
    ids, _ = index.knn(vecs[1], 10, filter=lambda label: label % 2 == 0)
    assert ids.shape == (1, 10) and all(i % 2 == 0 for i in ids[0])
    ids, _ = index.knn(vecs[1], 10, filter=lambda label: label in (7, 8))
    assert sorted(ids[0].tolist()) == [7, 8]


@pytest.mark.parametrize(
    "ids, vectors",
    [
        ([0, 1], np.ones((2, DIM), np.float64) / 4),
        ([0, 1], np.ones((2, DIM), np.float32)),  # not unit
        ([0], np.full((1, DIM), np.nan, np.float32)),
        ([0], np.ones((1, DIM + 1), np.float32) / np.sqrt(DIM + 1)),
        ([0, 0], np.ones((2, DIM), np.float32) / 4),
        ([-1], np.ones((1, DIM), np.float32) / 4),
        ([0, 1, 2], np.ones((2, DIM), np.float32) / 4),
    ],
    ids=["float64", "not-unit", "nan", "dim", "duplicate", "negative", "count"],
)
def test_add_rejects_invalid_input(ids: list[int], vectors: np.ndarray) -> None:
    index = make()
    with pytest.raises(BugError):
        index.add(ids, vectors)
    assert index.live_count == 0 and not index.dirty


def test_save_load_round_trip(tmp_path: Path, unit_vectors: UnitVectors) -> None:
    path = tmp_path / "index.hnsw"
    index = make(capacity=100)
    index.add(np.arange(100), unit_vectors(100))
    index.remove([7, 8])
    queries = unit_vectors(20, seed=5)
    before = index.knn(queries, 10)
    assert index.dirty
    index.save(path)
    assert not index.dirty and not index.save_if_dirty(path)
    assert index.file_size == path.stat().st_size > 0
    assert not path.with_name("index.hnsw.tmp").exists()

    loaded = VectorIndex.load(path, MODEL, DIM, IndexParams(ef_search=64))
    after = loaded.knn(queries, 10)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1])
    assert loaded.labels() == index.labels() and loaded.digests() == index.digests()
    assert loaded.params.m == 16 and loaded.params.ef_construction == 100  # from the file
    assert loaded.remove([7]) == []  # still deleted after the load, no hnswlib error
    loaded.add([500, 501], unit_vectors(2, seed=6))
    assert loaded.capacity == 100  # the deleted slots are still reusable
    assert loaded.save_if_dirty(path)


def _saved(tmp_path: Path, unit_vectors: UnitVectors) -> Path:
    path = tmp_path / "index.hnsw"
    index = make()
    index.add(np.arange(30), unit_vectors(30))
    index.save(path)
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _truncate_and_fix_sidecar(path: Path) -> None:
    """A damaged file whose sidecar agrees on its size: hnswlib itself must reject it."""
    _truncate(path)
    meta = json.loads(sidecar_path(path).read_text())
    meta["index_bytes"] = path.stat().st_size
    sidecar_path(path).write_text(json.dumps(meta))


def _edit_sidecar(**changes: object) -> object:
    def edit(path: Path) -> None:
        meta = json.loads(sidecar_path(path).read_text())
        meta.update(changes)
        sidecar_path(path).write_text(json.dumps(meta))

    return edit


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.unlink(), "missing"),
        (lambda p: sidecar_path(p).unlink(), "sidecar unreadable"),
        (lambda p: sidecar_path(p).write_text("{not json"), "sidecar unreadable"),
        (_truncate, "bytes"),
        (_truncate_and_fix_sidecar, "damaged"),  # caught by the file checksum first
        (lambda p: p.write_bytes(b"\0" * p.stat().st_size), "damaged"),
        (_edit_sidecar(model_id="model-b"), "another model_id"),
        (_edit_sidecar(dim=DIM * 2), "another dim"),
        (_edit_sidecar(labels_sha256="0" * 64), "checksum"),
        (_edit_sidecar(deleted=[3]), "label set"),  # live and deleted at once
        (_edit_sidecar(deleted=[999]), "label set"),  # not in the file
    ],
    ids=[
        "missing",
        "no-sidecar",
        "bad-json",
        "truncated",
        "hnswlib-rejects",
        "zeros",
        "model",
        "dim",
        "checksum",
        "live-deleted",
        "unknown-deleted",
    ],
)
def test_load_rejects_damaged_files(
    tmp_path: Path, unit_vectors: UnitVectors, damage: object, reason: str
) -> None:
    path = _saved(tmp_path, unit_vectors)
    damage(path)  # type: ignore[operator]
    with pytest.raises(IndexUnusable, match=reason):
        VectorIndex.load(path, MODEL, DIM)


def test_queries_during_adds_from_two_threads(unit_vectors: UnitVectors) -> None:
    index = make(capacity=64)  # forces resizes while others query
    vecs = unit_vectors(4000)
    index.add(np.arange(10), vecs[:10])
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(part: int) -> None:
        for start in range(10 + part * 50, 4000, 100):
            index.add(np.arange(start, min(start + 50, 4000)), vecs[start : start + 50])

    def reader() -> None:
        while not done.is_set():
            ids, _ = index.knn(vecs[:3], 5)
            assert ids.shape[1] == 5

    def run(target: object, *args: object) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)  # type: ignore[operator]
            except BaseException as e:
                errors.append(e)

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    readers = [run(reader), run(reader)]
    writers = [run(writer, 0), run(writer, 1)]
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert index.live_count == 4000 and index.labels() == set(range(4000))


def test_vectors_returns_what_was_added_and_refuses_removed_ids(unit_vectors: UnitVectors) -> None:
    index = make()
    vecs = unit_vectors(20)
    index.add(np.arange(20), vecs)
    np.testing.assert_allclose(index.vectors([3, 7, 3]), vecs[[3, 7, 3]], atol=1e-6)
    assert index.vectors([]).shape == (0, DIM)
    index.remove([7])
    with pytest.raises(KeyError):
        index.vectors([7])
