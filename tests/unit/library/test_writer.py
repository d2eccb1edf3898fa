"""The one write path: CatalogWriter writes the catalog first, then the index it alone holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import FakeEmbedder, write_library

from lookalike.decode.image import IMAGE_SUFFIXES
from lookalike.errors import UnreadablePhoto
from lookalike.library.writer import CatalogWriter
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import VectorIndex
from lookalike.store.index_sync import build_from_catalog, diff
from lookalike.store.whitening import fit

MODEL = "fake-model"


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[CatalogWriter]:
    catalog = Catalog.open(tmp_path / "catalog.sqlite")
    catalog.set_model(MODEL)
    index = VectorIndex(FakeEmbedder().dim, MODEL)
    yield CatalogWriter(catalog, index, MODEL, IMAGE_SUFFIXES, [tmp_path / "home"])
    catalog.close()


def _sync(writer: CatalogWriter, folder: Path) -> int:
    """Add ``folder`` as a root, walk it and commit the fake embeddings; returns its root id."""
    writer.add_root(folder)
    root = next(r for r in writer.catalog.roots() if r.path == folder)
    list(writer.scan_root(root.id, root.path, threading.Event()))
    rows = writer.catalog.pending(100)
    embedder = FakeEmbedder()
    writer.commit([(row, outcome) for row, (_p, outcome)
                   in zip(rows, embedder.embed_files([r.path for r in rows]), strict=True)])
    return root.id


def test_roots_are_added_once_and_removing_one_drops_its_vectors(
    writer: CatalogWriter, tmp_path: Path
) -> None:
    photos = (tmp_path / "photos").resolve()
    write_library(photos, 6)
    assert writer.add_root(photos) and not writer.add_root(photos)
    _sync(writer, photos)
    assert writer.index.live_count == 6 == writer.catalog.stats()["indexed"]
    assert writer.remove_root(photos)
    assert writer.index.live_count == 0 and writer.catalog.roots() == []
    assert not writer.remove_root(photos)  # no longer a root: nothing done


def test_commit_writes_the_catalog_then_the_index_and_counts_what_it_could_not_read(
    writer: CatalogWriter, tmp_path: Path
) -> None:
    photos = (tmp_path / "photos").resolve()
    paths = write_library(photos, 4)
    (photos / "broken.jpg").write_text("nope")
    _sync(writer, photos)
    stats = writer.catalog.stats()
    assert (stats["indexed"], stats["skipped"], stats["pending"]) == (4, 1, 0)
    assert writer.index.labels() == {writer.catalog.get_photo(p.resolve()).id  # type: ignore[union-attr]
                                     for p in paths}  # fmt: skip
    assert not diff(writer.index, writer.catalog).size
    extra = write_library(tmp_path / "more", 1)[0].rename(photos / "new.jpg")
    root_id = writer.catalog.roots()[0].id
    list(writer.scan_root(root_id, photos, threading.Event()))
    (pending,) = writer.catalog.pending(10)
    assert pending.path == extra.resolve()
    stored, failed = writer.commit([(pending, FakeEmbedder().embed_file(extra))])
    assert (stored, failed) == (1, []) and writer.index.live_count == 5
    stored, failed = writer.commit([(pending, UnreadablePhoto(extra, "late"))])  # stale row
    assert (stored, failed) == (0, []) and writer.catalog.stats()["indexed"] == 5


def test_replace_index_swaps_in_a_whitened_index_brought_up_to_date(
    writer: CatalogWriter, tmp_path: Path
) -> None:
    photos = (tmp_path / "photos").resolve()
    write_library(photos, 30)
    _sync(writer, photos)
    ids, vectors = next(writer.catalog.iter_vectors(MODEL))
    pairs = np.asarray([(i, (i + 1) % len(ids)) for i in range(len(ids))], np.int64)
    white = fit(vectors, pairs, shrink=0.5)
    fresh = build_from_catalog(writer.catalog, MODEL, writer.index.dim, whitening=white)
    removed = int(ids[0])
    writer.catalog.remove_photos([removed])  # changed after the new index was built
    writer.set_whitening(white.to_bytes())
    index_file = tmp_path / "index.hnsw"
    writer.replace_index(fresh, index_file)
    assert writer.index is fresh and writer.index.whitening is white
    assert removed not in writer.index.labels()  # patched from the catalog before the swap
    assert index_file.exists() and writer.catalog.whitening(MODEL) == white.to_bytes()
    writer.set_whitening(None)
    assert writer.catalog.whitening(MODEL) is None
