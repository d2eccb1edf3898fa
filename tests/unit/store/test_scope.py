"""Search scopes in the store: dates (EXIF, else file time), folder and date queries on a real
catalog, the v6 → v7 migration, and the k nearest among allowed ids on a real hnswlib index
(exact below ``EXACT_MAX``, hnswlib's filter above)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from tests.unit.store.conftest import MODEL, UnitVectors

from lookalike.store import scope as scope_mod
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import VectorIndex
from lookalike.store.scope import (
    Scope,
    days_scope,
    exif_time_ns,
    knn_among,
    local_day_ns,
    scope_ids,
    set_taken,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019:06:01 10:00:00", dt.datetime(2019, 6, 1, 10)),
        ("2019-06-01 10:00:00\x00", dt.datetime(2019, 6, 1, 10)),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("", None),
        (None, None),
    ],
)
def test_exif_dates_are_read_as_local_time(text: str | None, expected: dt.datetime | None) -> None:
    want = None if expected is None else int(expected.timestamp()) * 10**9
    assert exif_time_ns(text) == want


def test_days_scope_covers_whole_local_days() -> None:
    s = days_scope([], dt.date(2020, 3, 1), dt.date(2020, 3, 2))
    assert s.from_ns == local_day_ns(dt.date(2020, 3, 1))
    assert s.to_ns == local_day_ns(dt.date(2020, 3, 3))  # end exclusive: the 2nd is in
    assert Scope().unlimited and not s.unlimited


def _photo(catalog: Catalog, root: int, path: Path, mtime_ns: int, unit: np.ndarray) -> int:
    pid = catalog.upsert_pending(root, path, 10, mtime_ns, None)
    catalog.set_indexed(pid, MODEL, unit, b"")
    return pid


def test_scope_ids_by_folder_and_date(
    catalog: Catalog, tmp_path: Path, unit_vectors: UnitVectors
) -> None:
    vecs = unit_vectors(5)
    root = catalog.add_root(tmp_path)
    jan, feb = local_day_ns(dt.date(2021, 1, 10)), local_day_ns(dt.date(2021, 2, 10))
    a = _photo(catalog, root, tmp_path / "trip" / "a.jpg", jan, vecs[0])
    b = _photo(catalog, root, tmp_path / "trip" / "sub" / "b.jpg", feb, vecs[1])
    c = _photo(catalog, root, tmp_path / "home" / "c.jpg", jan, vecs[2])
    d = _photo(catalog, root, tmp_path / "trip2" / "d.jpg", jan, vecs[3])  # not in "trip"
    pending = catalog.upsert_pending(root, tmp_path / "trip" / "e.jpg", 10, jan, None)
    set_taken(catalog, {c: feb})  # c's EXIF date wins over its January file time
    assert scope_ids(catalog, days_scope([tmp_path / "trip"])) == {a, b}
    assert scope_ids(catalog, days_scope([tmp_path / "trip", tmp_path / "home"])) == {a, b, c}
    january = days_scope([], dt.date(2021, 1, 1), dt.date(2021, 1, 31))
    assert scope_ids(catalog, january) == {a, d}
    assert scope_ids(catalog, days_scope([tmp_path / "trip"], dt.date(2021, 2, 10),
                                         dt.date(2021, 2, 10))) == {b}  # fmt: skip
    assert pending not in scope_ids(catalog, Scope())  # not searchable yet


def test_v6_catalog_gains_dates_from_file_times(tmp_path: Path, unit_vectors: UnitVectors) -> None:
    """Photos embedded before v7 count by their file time (nothing is read from disk)."""
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        root = catalog.add_root(tmp_path)
        a = _photo(catalog, root, tmp_path / "a.jpg", local_day_ns(dt.date(2020, 5, 5)),
                   unit_vectors(1)[0])  # fmt: skip
    with sqlite3.connect(path) as conn:  # the file as schema v6 left it
        conn.execute("DROP TABLE thumbs")  # (added in v8)
        conn.execute("DROP INDEX photos_date")
        conn.execute("ALTER TABLE photos DROP COLUMN taken_ns")
        conn.execute("PRAGMA user_version = 6")
    conn.close()
    with Catalog.open(path) as catalog:
        may = days_scope([], dt.date(2020, 5, 1), dt.date(2020, 5, 31))
        assert scope_ids(catalog, may) == {a}
        assert scope_ids(catalog, days_scope([], dt.date(2020, 6, 1))) == set()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 7
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM photos WHERE COALESCE(taken_ns, mtime_ns) >= 0"
        ).fetchall()
        assert "photos_date" in str(plan)
    finally:
        conn.close()


@pytest.fixture
def index(catalog: Catalog, tmp_path: Path, unit_vectors: UnitVectors) -> VectorIndex:
    """600 photos in the catalog and the same vectors in a real hnswlib index."""
    vecs = unit_vectors(600, seed=3)
    root = catalog.add_root(tmp_path)
    with catalog.transaction():
        ids = [_photo(catalog, root, tmp_path / f"{i}.jpg", 1, vecs[i]) for i in range(600)]
    index = VectorIndex(16, MODEL, capacity=600)
    index.add(np.asarray(ids), vecs)
    return index


def _exact(index: VectorIndex, query: np.ndarray, allowed: list[int], k: int) -> list[int]:
    ids = np.asarray(sorted(allowed), np.int64)
    sims = index.vectors(ids) @ query
    return ids[np.argsort(-sims, kind="stable")[:k]].tolist()


def test_small_scope_is_searched_exactly_without_hnswlib(
    catalog: Catalog, index: VectorIndex, unit_vectors: UnitVectors,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    query = unit_vectors(1, seed=9)
    allowed = list(range(5, 600, 37))  # 17 ids: hnswlib's filter would struggle here

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a small scope must not go through hnswlib's filter")

    monkeypatch.setattr(index, "knn", refuse)
    ids, scores = knn_among(catalog, index, query, 5, set(allowed))
    assert ids[0].tolist() == _exact(index, query[0], allowed, 5)
    np.testing.assert_allclose(scores[0], index.vectors(ids[0]) @ query[0], atol=1e-5)
    assert np.all(np.diff(scores[0]) <= 0)
    ids, _ = knn_among(catalog, index, query, 50, set(allowed))
    assert sorted(ids[0].tolist()) == sorted(allowed)  # k clamped to the scope


def test_removed_photos_leave_the_scope(
    catalog: Catalog, index: VectorIndex, unit_vectors: UnitVectors
) -> None:
    catalog.remove_photos([5, 42])
    ids, _ = knn_among(catalog, index, unit_vectors(1, seed=9), 10, {5, 42, 79, 116})
    assert sorted(ids[0].tolist()) == [79, 116]
    ids, scores = knn_among(catalog, index, unit_vectors(1, seed=9), 10, {5})
    assert ids.shape == scores.shape == (1, 0)


def test_large_scope_uses_hnswlib_filter(
    catalog: Catalog, index: VectorIndex, unit_vectors: UnitVectors,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(scope_mod, "EXACT_MAX", 100)
    allowed = set(range(1, 601, 2))  # 300 ids > EXACT_MAX
    calls: list[object] = []
    real = index.knn

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args[2])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index, "knn", spy)
    query = unit_vectors(1, seed=9)
    ids, _ = knn_among(catalog, index, query, 10, allowed)
    assert calls and callable(calls[0])
    assert set(ids[0].tolist()) <= allowed
    exact = _exact(index, query[0], sorted(allowed), 10)
    assert len(set(ids[0].tolist()) & set(exact)) >= 9  # approximate, recall@10 ≥ 0.9


def test_pipeline_scope_on_the_eval_store(unit_vectors: UnitVectors) -> None:
    """``SearchOptions.scope`` reaches the kNN step of the shared pipeline (here the bench's
    in-memory store, as ``lookalike eval`` searches): DBA then works on the scoped shortlist."""
    from lookalike.search.pipeline import SearchOptions, search
    from lookalike.store.memory import MemoryStore
    from lookalike.types import PEAK_DTYPE, Embedding

    vecs = unit_vectors(40, seed=5)
    ids = np.arange(1, 41)
    paths = {i: Path(f"/p/{'a' if i % 2 else 'b'}/{i}.jpg") for i in range(1, 41)}
    dates = {i: local_day_ns(dt.date(2020, 1, 1 + i % 20)) for i in range(1, 41)}
    store = MemoryStore(ids, vecs, paths=paths, dates=dates)
    query = Embedding(vector=vecs[0], peaks=np.zeros(0, PEAK_DTYPE))
    everything = search(store, [query], SearchOptions(top=40, rerank=False))
    assert len(everything) == 40
    scope = days_scope([Path("/p/a")], dt.date(2020, 1, 1), dt.date(2020, 1, 10))
    found = search(store, [query], SearchOptions(top=40, rerank=False, scope=scope))
    want = {i for i in range(1, 41) if i % 2 and 1 + i % 20 <= 10}
    assert {m.photo_id for m in found} == want
    assert [m.rank for m in found] == list(range(1, len(want) + 1))
