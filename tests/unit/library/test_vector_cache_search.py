"""Searches read whole vectors from the library's vector cache, never a stale or damaged slot
(real catalog, real hnswlib index, real cache file; fake embedder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import FakeEmbedder, write_library

from lookalike.library import Library
from lookalike.library.searching import IndexStore
from lookalike.search.pipeline import SearchOptions
from lookalike.store.vector_cache import CACHE_FILE, HEADER


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[tuple[Library, list[Path]]]:
    photos = tmp_path / "photos"
    paths = write_library(photos, 12)
    lib = Library.open(tmp_path / "home", FakeEmbedder())
    lib.add_root(photos)
    list(lib.sync())
    try:
        yield lib, paths
    finally:
        lib.close()


def _found(lib: Library, path: Path) -> list[tuple[int, float, str | None]]:
    return [(m.photo_id, m.score, m.verdict)
            for m in lib.search(path, SearchOptions(top=11, dba=2)).matches]  # fmt: skip


def test_searches_read_whole_vectors_from_the_cache_filled_by_indexing_or_by_them(
    indexed: tuple[Library, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lib, paths = indexed
    catalog = lib._writer.catalog
    read_from_catalog: list[int] = []
    original = catalog.iter_vectors

    def counted(model_id: str, batch: int = 4096, *, ids: list[int] | None = None):  # type: ignore[no-untyped-def]
        read_from_catalog.extend(ids or [])
        return original(model_id, batch, ids=ids)

    monkeypatch.setattr(catalog, "iter_vectors", counted)
    first = _found(lib, paths[3])
    assert read_from_catalog == []  # indexing kept every vector in the cache
    assert lib._writer.vectors is not None
    lib._writer.vectors.close()
    (lib.home / CACHE_FILE).unlink()  # lost (or an older library's first search)
    assert _found(lib, paths[3]) == first
    assert read_from_catalog  # read from the catalog, and kept
    read_from_catalog.clear()
    assert _found(lib, paths[3]) == first
    assert read_from_catalog == []


def test_a_slot_with_an_older_vector_is_read_from_the_catalog_and_rewritten(
    indexed: tuple[Library, list[Path]]
) -> None:
    lib, _ = indexed
    writer = lib._writer
    ids = sorted(writer.index.labels())
    with writer.lock:
        truth = np.stack([v for _, block in writer.catalog.iter_vectors(writer.index.model_id)
                          for v in block])  # fmt: skip
    cache = writer.vectors
    assert cache is not None
    digests = writer.index.digests_of(ids)
    assert cache.read(writer.index.model_id, writer.index.dim, ids, digests)[0] == ids  # indexed
    stale = np.roll(truth, 1, axis=0)  # each slot holds another photo's vector
    cache.write(writer.index.model_id, ids, stale)
    with writer.lock:
        got = IndexStore(writer).vectors(np.asarray(ids, np.int64))
    assert np.array_equal(got, truth)
    hits, held = cache.read(writer.index.model_id, writer.index.dim, ids, digests)
    assert hits == ids and np.array_equal(held, truth)  # the slots were written again


def test_a_damaged_cache_file_changes_no_result(indexed: tuple[Library, list[Path]]) -> None:
    lib, paths = indexed
    before = [_found(lib, p) for p in paths[:4]]
    cache_file = lib.home / CACHE_FILE
    assert lib._writer.vectors is not None
    lib._writer.vectors.close()
    size = cache_file.stat().st_size
    rng = np.random.default_rng(0)
    garbage = bytearray(cache_file.read_bytes())
    garbage[HEADER:] = rng.integers(0, 256, size - HEADER, dtype=np.uint8).tobytes()
    cache_file.write_bytes(bytes(garbage))  # the header kept: every slot is noise
    assert [_found(lib, p) for p in paths[:4]] == before
    cache_file.write_bytes(b"\0" * 100)  # no header at all
    assert [_found(lib, p) for p in paths[:4]] == before
