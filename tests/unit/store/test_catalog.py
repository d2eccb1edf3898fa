"""Catalog: schema and migrations, transactions, photo lifecycle, vectors."""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import BugError, CatalogCorrupt
from lookalike.store.catalog import SCHEMA_VERSION, Catalog
from lookalike.types import PEAK_DTYPE, Root, peaks_to_bytes

MODEL = "model-a"
DIM = 16

# Schema v1, as the first release wrote it: vectors had no vector_crc32 column.
SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
    online INTEGER NOT NULL DEFAULT 1, added_at_ns INTEGER NOT NULL);
CREATE TABLE photos (id INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE, size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    content_hash TEXT, status TEXT NOT NULL DEFAULT 'pending', skip_reason TEXT,
    seen INTEGER NOT NULL DEFAULT 1, indexed_at_ns INTEGER);
CREATE INDEX photos_root ON photos(root_id);
CREATE INDEX photos_hash ON photos(content_hash);
CREATE INDEX photos_status ON photos(status);
CREATE TABLE vectors (photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL, vector BLOB NOT NULL, peaks BLOB NOT NULL);
PRAGMA user_version = 1;
"""


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def add_photo(cat: Catalog, root: Path, name: str, seed: int | None = None) -> int:
    """A photo under ``root``; indexed with ``unit(seed)`` unless seed is None."""
    photo_id = cat.upsert_pending(cat.add_root(root), root / name, 100, 1, f"hash-{name}")
    if seed is not None:
        cat.set_indexed(photo_id, MODEL, unit(seed), b"")
    return photo_id


# ---- opening, schema, migrations ------------------------------------------------------------


def test_new_catalog_has_latest_schema_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    Catalog.open(path).close()
    with Catalog.open(path) as cat:  # reopening an up-to-date file changes nothing
        assert cat.integrity_ok()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "roots", "photos", "vectors"} <= tables
    finally:
        conn.close()


def test_photos_by_ids_are_photo_by_id_at_once(catalog: Catalog, root: Path) -> None:
    ids = [add_photo(catalog, root, f"{i}.jpg", seed=i) for i in range(3)]
    asked = [ids[2], 12345, ids[0], ids[2]]  # an unknown id, one asked twice
    assert catalog.photos_by_ids(asked) == {i: catalog.photo_by_id(i) for i in (ids[0], ids[2])}
    assert catalog.photos_by_ids([]) == {}


def test_foreign_keys_cascade(catalog: Catalog, root: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg", seed=1)
    assert catalog.remove_root(root) == [photo_id]
    assert catalog.photo_by_id(photo_id) is None
    assert catalog.vector(photo_id) is None
    assert catalog.roots() == []


def test_migrates_v1_catalog_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    vec = unit(7)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V1)
    conn.execute("INSERT INTO meta VALUES ('model_id', ?)", (MODEL,))
    conn.execute("INSERT INTO roots VALUES (1, '/p', 1, 0)")
    conn.execute("INSERT INTO photos(root_id, path, size_bytes, mtime_ns, status) VALUES "
                 "(1, '/p/a.jpg', 5, 6, 'indexed')")  # fmt: skip
    conn.execute("INSERT INTO vectors VALUES (1, ?, ?, ?)", (MODEL, vec.tobytes(), b""))
    conn.commit()
    conn.close()

    with Catalog.open(path) as cat:
        ids, crcs = cat.vector_digests(MODEL)
        assert ids.tolist() == [1]
        assert crcs.tolist() == [zlib.crc32(vec.tobytes())]
        [(_, block)] = list(cat.iter_vectors(MODEL))
        np.testing.assert_array_equal(block[0], vec)
        assert cat.photo_by_id(1) is not None
        assert cat.integrity_ok()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def _shape(path: Path) -> dict[str, object]:
    """Columns and indexes of every table, as SQLite reports them."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: (
                [tuple(r)[1:] for r in conn.execute(f"PRAGMA table_info({t})")],
                sorted(r[1] for r in conn.execute(f"PRAGMA index_list({t})")),
            )
            for t in sorted(tables)
        }
    finally:
        conn.close()


def test_migrated_schema_equals_fresh_schema(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    conn = sqlite3.connect(old)
    conn.executescript(SCHEMA_V1)
    conn.close()
    Catalog.open(old).close()
    Catalog.open(new).close()
    assert _shape(old) == _shape(new)
    assert "vectors_digest" in _shape(new)["vectors"][1]  # type: ignore[index]


def test_refuses_newer_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    Catalog.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogCorrupt, match="created by a newer Lookalike"):
        Catalog.open(path)


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database, just text\n" * 200,
        bytes(range(256)) * 64,
        b"SQLite format 3\x00" + b"\xff" * 8192,  # right magic, garbage header
    ],
    ids=["text", "binary", "bad-header"],
)
def test_non_sqlite_file_is_catalog_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(content)
    with pytest.raises(CatalogCorrupt, match=str(path.name)):
        Catalog.open(path)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE cookies (name TEXT)")
    conn.close()
    with pytest.raises(CatalogCorrupt, match="not a Lookalike catalog"):
        Catalog.open(path)


def test_unopenable_path_is_catalog_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CatalogCorrupt, match="cannot use catalog"):
        Catalog.open(tmp_path)  # a folder


def test_use_after_close_is_a_bug(catalog: Catalog) -> None:
    catalog.close()
    catalog.close()  # idempotent
    with pytest.raises(BugError):
        catalog.roots()


# ---- transactions -----------------------------------------------------------------------------


def test_transaction_rolls_back_on_exception(catalog: Catalog, root: Path) -> None:
    with pytest.raises(RuntimeError), catalog.transaction():
        add_photo(catalog, root, "a.jpg", seed=1)
        raise RuntimeError("boom")
    assert catalog.roots() == []
    assert catalog.get_photo(root / "a.jpg") is None
    add_photo(catalog, root, "b.jpg", seed=2)  # the connection is usable afterwards
    assert catalog.stats()["indexed"] == 1


def test_nested_transaction_failure_undoes_only_the_inner_block(
    catalog: Catalog, root: Path
) -> None:
    with catalog.transaction():
        add_photo(catalog, root, "outer.jpg")
        with pytest.raises(ValueError), catalog.transaction():
            add_photo(catalog, root, "inner.jpg")
            raise ValueError
        add_photo(catalog, root, "after.jpg")
    names = [p.path.name for p in catalog.photos_under(root)]
    assert names == ["after.jpg", "outer.jpg"]


def test_outer_failure_undoes_committed_inner_block(catalog: Catalog, root: Path) -> None:
    with pytest.raises(KeyError), catalog.transaction():
        with catalog.transaction():
            add_photo(catalog, root, "inner.jpg")
        raise KeyError
    assert catalog.photos_under(root) == []


def test_other_connection_sees_writes_only_after_commit(tmp_path: Path, root: Path) -> None:
    with (
        Catalog.open(tmp_path / "c.sqlite") as writer,
        Catalog.open(tmp_path / "c.sqlite") as reader,
    ):
        with writer.transaction():
            add_photo(writer, root, "a.jpg")
            assert reader.get_photo(root / "a.jpg") is None  # WAL: reader not blocked
        assert reader.get_photo(root / "a.jpg") is not None


def test_calls_from_another_thread_work(catalog: Catalog, root: Path) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            add_photo(catalog, root, "t.jpg", seed=3)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
    assert catalog.count_indexed(MODEL) == 1


# ---- photos -------------------------------------------------------------------------------------


def test_upsert_pending_changed_file_drops_vector(catalog: Catalog, root: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg", seed=1)
    again = catalog.upsert_pending(catalog.add_root(root), root / "a.jpg", 222, 333, "new")
    assert again == photo_id
    row = catalog.photo_by_id(photo_id)
    assert row is not None
    assert (row.status, row.size_bytes, row.mtime_ns, row.content_hash) == (
        "pending",
        222,
        333,
        "new",
    )
    assert catalog.vector(photo_id) is None
    assert [p.id for p in catalog.pending(10)] == [photo_id]


def test_set_indexed_and_vector_round_trip(catalog: Catalog, root: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg")
    peaks = np.zeros(3, PEAK_DTYPE)
    peaks["channel"] = [1, 5, 9]
    catalog.set_indexed(photo_id, MODEL, unit(4), peaks_to_bytes(peaks))
    stored = catalog.vector(photo_id)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], unit(4))
    assert stored[1] == peaks_to_bytes(peaks)
    assert catalog.stats() == {"indexed": 1, "pending": 0, "skipped": 0, "offline": 0, "roots": 1}


@pytest.mark.parametrize(
    "vector, peaks",
    [
        (unit(1).astype(np.float64), b""),
        (unit(1)[None, :], b""),
        (unit(1, dim=DIM + 1) / 1.0, b""),  # another D than the first vector
        (unit(1) * 2, b""),
        (np.full(DIM, np.nan, np.float32), b""),
        (list(unit(1)), b""),
        (unit(1), b"123"),  # not whole 8-byte records
    ],
    ids=["float64", "2d", "other-dim", "not-unit", "nan", "list", "peaks"],
)
def test_set_indexed_rejects_invalid_input(
    catalog: Catalog, root: Path, vector: object, peaks: bytes
) -> None:
    add_photo(catalog, root, "first.jpg", seed=0)
    photo_id = add_photo(catalog, root, "a.jpg")
    with pytest.raises(BugError):
        catalog.set_indexed(photo_id, MODEL, vector, peaks)  # type: ignore[arg-type]
    assert catalog.vector(photo_id) is None


def test_set_indexed_rejects_other_model_and_unknown_photo(catalog: Catalog, root: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg", seed=1)
    with pytest.raises(BugError, match="model"):
        catalog.set_indexed(photo_id, "model-b", unit(2), b"")
    with pytest.raises(BugError, match="no photo"):
        catalog.set_indexed(photo_id + 100, MODEL, unit(2), b"")


def test_set_skipped_records_reason_and_drops_vector(catalog: Catalog, root: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg", seed=1)
    catalog.set_skipped(photo_id, "truncated JPEG")
    assert catalog.vector(photo_id) is None
    assert catalog.skipped() == [(root / "a.jpg", "truncated JPEG")]
    assert catalog.count_indexed(MODEL) == 0


def test_move_keeps_vector_and_id(catalog: Catalog, root: Path, tmp_path: Path) -> None:
    photo_id = add_photo(catalog, root, "a.jpg", seed=1)
    other_root = catalog.add_root(tmp_path / "other")
    assert catalog.move_photo(photo_id, tmp_path / "other" / "b.jpg", other_root, 42) == []
    assert catalog.get_photo(root / "a.jpg") is None
    moved = catalog.get_photo(tmp_path / "other" / "b.jpg")
    assert moved is not None
    assert (moved.id, moved.root_id, moved.mtime_ns, moved.status) == (
        photo_id, other_root, 42, "indexed",
    )  # fmt: skip
    stored = catalog.vector(photo_id)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], unit(1))


def test_move_over_an_existing_photo_displaces_it(catalog: Catalog, root: Path) -> None:
    moving = add_photo(catalog, root, "a.jpg", seed=1)
    target = add_photo(catalog, root, "b.jpg", seed=2)
    root_id = catalog.add_root(root)
    assert catalog.move_photo(moving, root / "b.jpg", root_id, 5) == [target]
    assert catalog.photo_by_id(target) is None
    assert catalog.vector(target) is None
    assert catalog.get_photo(root / "b.jpg").id == moving  # type: ignore[union-attr]


def test_move_unknown_photo_is_a_bug(catalog: Catalog, root: Path) -> None:
    with pytest.raises(BugError):
        catalog.move_photo(999, root / "x.jpg", catalog.add_root(root), 1)


def test_photos_under_is_ordered_and_respects_folder_boundaries(
    catalog: Catalog, root: Path
) -> None:
    for name in ["b.jpg", "a.jpg", "sub/c.jpg", "sub/deeper/d.jpg"]:
        add_photo(catalog, root, name)
    root_id = catalog.add_root(root.parent / "photos2")
    catalog.upsert_pending(root_id, root.parent / "photos2" / "x.jpg", 1, 1, None)  # sibling
    rel = [p.path.relative_to(root).as_posix() for p in catalog.photos_under(root)]
    assert rel == ["a.jpg", "b.jpg", "sub/c.jpg", "sub/deeper/d.jpg"]
    direct = [p.path.name for p in catalog.photos_under(root, recursive=False)]
    assert direct == ["a.jpg", "b.jpg"]
    assert [p.path.name for p in catalog.photos_under(root / "sub")] == ["c.jpg", "d.jpg"]


def test_find_by_hash_matches_hash_and_size(catalog: Catalog, root: Path) -> None:
    root_id = catalog.add_root(root)
    a = catalog.upsert_pending(root_id, root / "a.jpg", 10, 1, "same")
    catalog.upsert_pending(root_id, root / "b.jpg", 11, 1, "same")
    b = catalog.upsert_pending(root_id, root / "c.jpg", 10, 1, "same")
    assert [p.id for p in catalog.find_by_hash("same", 10)] == [a, b]
    assert catalog.find_by_hash("other", 10) == []


def test_remove_photos_ignores_unknown_ids(catalog: Catalog, root: Path) -> None:
    ids = [add_photo(catalog, root, f"{i}.jpg", seed=i) for i in range(3)]
    catalog.remove_photos([ids[0], 12345])
    assert catalog.count_indexed(MODEL) == 2


def test_ids_are_never_reused(catalog: Catalog, root: Path) -> None:
    last = add_photo(catalog, root, "a.jpg", seed=1)
    catalog.remove_photos([last])
    assert add_photo(catalog, root, "b.jpg", seed=2) > last  # a stale index label stays stale


def test_add_root_is_idempotent_and_requires_absolute_path(catalog: Catalog, root: Path) -> None:
    assert catalog.add_root(root) == catalog.add_root(root)
    assert catalog.roots() == [Root(catalog.add_root(root), root, True)]
    with pytest.raises(BugError):
        catalog.add_root(Path("relative/folder"))


# ---- mark-and-sweep -----------------------------------------------------------------------------


def test_sweep_deletes_only_unseen(catalog: Catalog, root: Path) -> None:
    keep, gone, changed = (
        add_photo(catalog, root, f"{n}.jpg", seed=i) for i, n in enumerate("abc")
    )
    root_id = catalog.add_root(root)
    catalog.begin_sweep(root_id)
    catalog.mark_seen(keep)
    catalog.upsert_pending(root_id, root / "c.jpg", 1, 2, None)  # changed file: seen too
    new = catalog.upsert_pending(root_id, root / "new.jpg", 1, 2, None)
    assert catalog.sweep(root_id) == [gone]
    assert catalog.photo_by_id(gone) is None and catalog.vector(gone) is None
    assert {p.id for p in catalog.photos_under(root)} == {keep, changed, new}
    assert catalog.sweep(root_id) == []  # nothing flagged any more


def test_sweep_of_offline_root_is_refused(catalog: Catalog, root: Path) -> None:
    add_photo(catalog, root, "a.jpg", seed=1)
    root_id = catalog.add_root(root)
    catalog.set_root_online(root_id, False)
    catalog.begin_sweep(root_id)
    with pytest.raises(BugError, match="offline"):
        catalog.sweep(root_id)
    assert len(catalog.photos_under(root)) == 1


# ---- offline roots, models, vectors ----------------------------------------------------------


def test_offline_root_leaves_search_but_keeps_rows(catalog: Catalog, root: Path) -> None:
    indexed = add_photo(catalog, root, "a.jpg", seed=1)
    pending = add_photo(catalog, root, "b.jpg")
    skipped = add_photo(catalog, root, "c.jpg")
    catalog.set_skipped(skipped, "broken")
    root_id = catalog.add_root(root)

    assert sorted(catalog.set_root_online(root_id, False)) == [indexed, pending, skipped]
    assert list(catalog.iter_vectors(MODEL)) == []
    assert catalog.count_indexed(MODEL) == 0
    assert catalog.vector(indexed) is not None
    assert catalog.stats()["offline"] == 3
    assert catalog.roots() == [Root(root_id, root, False)]
    assert catalog.set_root_online(root_id, False) == []  # already offline

    assert sorted(catalog.set_root_online(root_id, True)) == [indexed, pending, skipped]
    status = {i: catalog.photo_by_id(i).status for i in (indexed, pending, skipped)}  # type: ignore[union-attr]
    assert status == {indexed: "indexed", pending: "pending", skipped: "skipped"}
    assert catalog.count_indexed(MODEL) == 1


def test_set_model_change_resets_vectors(catalog: Catalog, root: Path) -> None:
    assert catalog.set_model(MODEL) is False  # first model: nothing to drop
    ids = [add_photo(catalog, root, f"{i}.jpg", seed=i) for i in range(3)]
    skipped = add_photo(catalog, root, "s.jpg")
    catalog.set_skipped(skipped, "broken")
    assert catalog.set_model(MODEL) is False
    assert catalog.count_indexed(MODEL) == 3

    assert catalog.set_model("model-b") is True
    assert catalog.get_meta("model_id") == "model-b"
    assert all(catalog.vector(i) is None for i in ids)
    assert sorted(p.id for p in catalog.pending(10)) == ids
    assert catalog.photo_by_id(skipped).status == "skipped"  # type: ignore[union-attr]
    catalog.set_indexed(ids[0], "model-b", unit(9, dim=8), b"")  # the new model may change D
    assert catalog.count_indexed("model-b") == 1 and catalog.count_indexed(MODEL) == 0


@pytest.mark.parametrize("batch", [1, 3, 4096])
def test_iter_vectors_yields_all_in_id_order(
    catalog: Catalog, fill: Callable[..., list[int]], batch: int
) -> None:
    ids = fill(10)
    blocks = list(catalog.iter_vectors(MODEL, batch=batch))
    assert all(len(block_ids) <= batch for block_ids, _ in blocks)
    got_ids = np.concatenate([b[0] for b in blocks])
    got = np.concatenate([b[1] for b in blocks])
    assert got_ids.dtype == np.int64 and got.dtype == np.float32 and got.flags.c_contiguous
    assert got_ids.tolist() == ids
    for photo_id, row in zip(got_ids, got, strict=True):
        np.testing.assert_array_equal(row, catalog.vector(int(photo_id))[0])  # type: ignore[index]


def test_iter_vectors_subset_and_other_model(
    catalog: Catalog, fill: Callable[..., list[int]]
) -> None:
    ids = fill(600)
    wanted = [*ids[::2], 10**9]  # more than one chunk; an unknown id is left out
    got = np.concatenate([b[0] for b in catalog.iter_vectors(MODEL, ids=wanted)])
    assert got.tolist() == ids[::2]
    assert list(catalog.iter_vectors("model-b")) == []
    assert list(catalog.iter_vectors(MODEL, ids=[])) == []


def test_vector_digests_match_stored_vectors(
    catalog: Catalog, fill: Callable[..., list[int]]
) -> None:
    ids = fill(5)
    got_ids, crcs = catalog.vector_digests(MODEL)
    assert got_ids.tolist() == ids
    for photo_id, crc in zip(got_ids, crcs, strict=True):
        assert zlib.crc32(catalog.vector(int(photo_id))[0].tobytes()) == crc  # type: ignore[index]


def test_meta_round_trip(catalog: Catalog) -> None:
    assert catalog.get_meta("missing") is None
    catalog.set_meta("k", "v1")
    catalog.set_meta("k", "v2")
    assert catalog.get_meta("k") == "v2"
