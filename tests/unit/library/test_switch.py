"""A deliberate model switch: new vectors in a second space while searches use the old one.

The new model is ``TurnedEmbedder``: a query embedded by the wrong model, or searched in the
wrong space, no longer finds its photo first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import FakeEmbedder, TurnedEmbedder, write_library, write_photo

from lookalike.errors import KnownError
from lookalike.library import Library, SearchOptions

TOP1 = SearchOptions(top=1, rerank=False)
PHOTOS = 12


def turned(name: str) -> FakeEmbedder:
    return TurnedEmbedder(model_id=f"fake-{name}") if name != "one" else FakeEmbedder("fake-one")


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[tuple[Library, list[Path], Path]]:
    paths = write_library(tmp_path / "photos", PHOTOS)
    library = Library.open(tmp_path / "home", FakeEmbedder("fake-one"), preset="one",
                           embedder_for=turned)  # fmt: skip
    library.add_root(tmp_path / "photos")
    list(library.sync())
    yield library, paths, tmp_path
    library.close()


def vector_counts(home: Path) -> tuple[int, int]:
    """(old vectors, new vectors) in the catalog file (the new table may not exist)."""
    with sqlite3.connect(home / "catalog.sqlite") as conn:
        old = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        new = conn.execute("SELECT count(*) FROM vectors_next").fetchone()[0] \
            if "vectors_next" in tables else 0  # fmt: skip
    return int(old), int(new)


def finds_each(library: Library, paths: list[Path], tmp_path: Path) -> None:
    """A scaled copy of photo i (a new image, embedded) finds photo i first; so does photo i."""
    for i in (0, 5, len(paths) - 1):
        copy = write_photo(tmp_path / f"q{i}.png", int(paths[i].stem[4:]), scale=0.8)
        assert library.search(copy, TOP1).matches[0].path == paths[i]
        photo_id = library.photo_id(paths[i])
        assert photo_id is not None
        assert library.search_photo(photo_id, SearchOptions(top=3)).matches


def test_switch_searches_the_old_space_until_the_swap(
    lib: tuple[Library, list[Path], Path],
) -> None:
    library, paths, tmp_path = lib
    home = library.home
    library.switch_preset("two")
    info = library.status().switch
    assert info is not None and (info.preset, info.done, info.total) == ("two", 0, PHOTOS)
    steps = 0
    for progress in library.sync(batch=3):
        if progress.phase != "switching":
            continue
        steps += 1
        assert vector_counts(home) == (PHOTOS, progress.done)  # no old vector lost
        status = library.status()
        assert (status.model_id, status.index_size, status.indexed) == ("fake-one", PHOTOS,
                                                                         PHOTOS)
        finds_each(library, paths, tmp_path)  # old model, old space
    assert steps == PHOTOS // 3
    status = library.status()
    assert (status.model_id, status.switch, status.index_size) == ("fake-two", None, PHOTOS)
    assert library.preset == "two" and Library.stored_preset(home) == "two"
    assert vector_counts(home) == (PHOTOS, 0)
    finds_each(library, paths, tmp_path)  # the new model's queries in the new space
    stored = library.embedding(library.photo_id(paths[3]) or -1)
    assert stored is not None
    np.testing.assert_allclose(stored.vector, turned("two").embed_file(paths[3]).vector)


def test_photos_added_or_changed_during_a_switch(lib: tuple[Library, list[Path], Path]) -> None:
    library, paths, _ = lib
    library.switch_preset("two")
    syncing = library.sync(batch=4)
    assert next(p for p in syncing if p.phase == "switching").done == 4
    syncing.close()  # as a kill or a quit between batches
    added = write_photo(paths[0].parent / "added.jpg", 500)
    write_photo(paths[1], 600)  # paths[1] already has its new vector: now stale
    progress = list(library.sync(batch=4))
    assert [p.phase for p in progress][-1] == "done"
    status = library.status()
    assert (status.model_id, status.indexed, status.index_size) == ("fake-two", 13, 13)
    new = turned("two")
    for path in (added, paths[1]):
        stored = library.embedding(library.photo_id(path) or -1)
        assert stored is not None
        np.testing.assert_allclose(stored.vector, new.embed_file(path).vector)


def test_cancel_drops_the_new_space(lib: tuple[Library, list[Path], Path]) -> None:
    library, paths, tmp_path = lib
    library.switch_preset("two")
    syncing = library.sync(batch=4)
    next(p for p in syncing if p.phase == "switching")
    syncing.close()
    assert vector_counts(library.home) == (PHOTOS, 4)
    library.switch_preset("one")  # the library's own preset
    assert library.status().switch is None
    assert vector_counts(library.home) == (PHOTOS, 0)
    list(library.sync())
    assert library.status().model_id == "fake-one"
    finds_each(library, paths, tmp_path)


def test_switch_resumes_after_reopening(lib: tuple[Library, list[Path], Path]) -> None:
    library, paths, tmp_path = lib
    library.switch_preset("two")
    syncing = library.sync(batch=5)
    next(p for p in syncing if p.phase == "switching")
    syncing.close()
    library.close()
    again = Library.open(tmp_path / "home", FakeEmbedder("fake-one"), preset="one",
                         embedder_for=turned)  # fmt: skip
    try:
        info = again.status().switch
        assert info is not None and (info.done, info.total) == (5, PHOTOS)
        finds_each(again, paths, tmp_path)
        assert info.preset is not None
        again.switch_preset(info.preset)  # as `index` and the window do
        list(again.sync(batch=5))
        assert again.status().model_id == "fake-two"
        finds_each(again, paths, tmp_path)
    finally:
        again.close()


def test_an_app_update_keeps_the_old_vectors_for_library_photos(
    lib: tuple[Library, list[Path], Path],
) -> None:
    library, paths, tmp_path = lib
    library.close()
    updated = Library.open(tmp_path / "home", TurnedEmbedder("fake-one-v2"), preset="one")
    try:
        assert updated.model_changed
        status = updated.status()
        assert (status.model_id, status.index_size) == ("fake-one", PHOTOS)
        assert status.switch is not None and status.switch.preset == "one"
        photo_id = updated.photo_id(paths[2])
        assert photo_id is not None and updated.search_photo(photo_id).matches
        assert updated.search(paths[2], TOP1).matches  # a library photo: its stored vector
        with pytest.raises(KnownError, match="model was updated"):
            updated.search(write_photo(tmp_path / "new.png", 2, scale=0.8), TOP1)
        list(updated.sync(batch=5))
        assert updated.status().model_id == "fake-one-v2" and not updated.model_changed
        finds_each(updated, paths, tmp_path)
    finally:
        updated.close()


def test_a_switch_whose_new_vectors_were_lost_starts_again(
    lib: tuple[Library, list[Path], Path],
) -> None:
    library, paths, tmp_path = lib
    library.switch_preset("two")
    syncing = library.sync(batch=4)
    next(p for p in syncing if p.phase == "switching")
    syncing.close()
    library.close()
    with sqlite3.connect(tmp_path / "home" / "catalog.sqlite") as conn:  # as salvage leaves it
        conn.execute("DROP TRIGGER vectors_next_old_dropped")
        conn.execute("DROP TRIGGER vectors_next_pending")
        conn.execute("DROP TABLE vectors_next")
    again = Library.open(tmp_path / "home", FakeEmbedder("fake-one"), preset="one",
                         embedder_for=turned)  # fmt: skip
    try:
        info = again.status().switch
        assert info is not None and (info.done, info.total) == (0, PHOTOS)
        again.switch_preset("two")
        list(again.sync())
        assert again.status().model_id == "fake-two"
        finds_each(again, paths, tmp_path)
    finally:
        again.close()
