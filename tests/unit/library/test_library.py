"""Library with the FakeEmbedder: sync, moves, changes, offline roots, model changes, search."""

from __future__ import annotations

import io
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.fakes import FakeEmbedder, pattern, write_library, write_photo

from lookalike.errors import KnownError
from lookalike.library import Library, Progress, SearchOptions
from lookalike.scan.events import CREATED, DELETED, MODIFIED, MOVED, FileEvent

TOP1 = SearchOptions(top=1)


class Env:
    """A photo folder, a library home and an embedder; opens libraries and closes them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.photos = tmp_path / "photos"
        self.home = tmp_path / "home"
        self.embedder = FakeEmbedder()
        self.opened: list[Library] = []

    def open(self, embedder: FakeEmbedder | None = None, **kwargs: object) -> Library:
        library = Library.open(self.home, embedder or self.embedder, **kwargs)  # type: ignore[arg-type]
        self.opened.append(library)
        return library

    def sync(self, library: Library, **kwargs: object) -> list[Progress]:
        self.embedder.reset()
        return list(library.sync(**kwargs))  # type: ignore[arg-type]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    env = Env(tmp_path)
    yield env
    for library in env.opened:
        library.close()


@pytest.fixture
def synced(env: Env) -> tuple[Env, Library, list[Path]]:
    paths = write_library(env.photos, 12)
    library = env.open()
    library.add_root(env.photos)
    env.sync(library)
    return env, library, paths


def ids_by_path(library: Library, folder: Path) -> dict[Path, int]:
    return {path: pid for pid, path, _ in library.photos_under(folder)}


def test_sync_indexes_everything_and_search_finds_the_scene(env: Env) -> None:
    paths = write_library(env.photos, 12)
    library = env.open()
    library.add_root(env.photos)
    progress = env.sync(library, batch=5)
    phases = [p.phase for p in progress]
    assert phases[0] == "scanning" and phases[-1] == "done"
    assert phases.count("embedding") == 3  # 12 photos in batches of 5
    assert progress[-1].done == progress[-1].total == 12
    assert env.embedder.calls == 12
    status = library.status()
    assert (status.indexed, status.pending, status.index_size) == (12, 0, 12)
    assert status.roots[0].photos == 12 and status.roots[0].online
    query = write_photo(env.tmp / "query.png", 5, crop=(0.05, 0.05, 0.95, 0.95), scale=0.7)
    result = library.search(query, SearchOptions(top=3))
    assert result.matches[0].path == paths[5].resolve()
    assert [m.rank for m in result.matches] == [1, 2, 3]
    assert result.query.vector.shape == (env.embedder.dim,)


def test_second_sync_does_no_work(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, _ = synced
    progress = env.sync(library)
    assert env.embedder.calls == 0
    assert progress[-1].phase == "done" and progress[-1].total == 0


def test_search_by_library_photo_reuses_its_vector_and_excludes_it(
    synced: tuple[Env, Library, list[Path]],
) -> None:
    env, library, paths = synced
    env.embedder.reset()
    result = library.search(paths[3], SearchOptions(top=50))
    assert env.embedder.calls == 0
    assert len(result.matches) == 11
    assert paths[3].resolve() not in {m.path for m in result.matches}
    photo_id = ids_by_path(library, env.photos)[paths[3].resolve()]
    by_id = library.search_photo(photo_id, SearchOptions(top=50))
    assert [m.photo_id for m in by_id.matches] == [m.photo_id for m in result.matches]
    embedding = library.embedding(photo_id)
    assert embedding is not None and len(embedding.peaks) > 0
    assert library.embedding(10_000) is None
    with pytest.raises(KnownError):
        library.search_photo(10_000)


def test_search_with_bytes_array_and_crop(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, paths = synced
    buffer = io.BytesIO()
    pattern(7).save(buffer, format="PNG")
    assert library.search(buffer.getvalue(), TOP1).matches[0].path == paths[7].resolve()
    rgb = np.asarray(pattern(8))
    assert library.search(rgb, TOP1).matches[0].path == paths[8].resolve()
    big = env.tmp / "big.png"
    canvas = Image.new("RGB", (320, 240), "white")
    canvas.paste(pattern(2), (160, 120))  # the scene in the bottom-right quarter
    canvas.save(big)
    crop = (0.5, 0.5, 1.0, 1.0)
    assert library.search(big, TOP1, crop=crop).matches[0].path == paths[2].resolve()
    with pytest.raises(KnownError):
        library.search(big, crop=(0.5, 0.5, 0.5, 1.0))
    with pytest.raises(KnownError):
        library.search(np.zeros((4, 4), np.uint8))


def test_moves_and_renames_keep_vectors(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, paths = synced
    before = ids_by_path(library, env.photos)
    renamed = paths[2].with_name("renamed.jpg")
    paths[2].rename(renamed)
    moved = env.photos / "album2" / paths[1].name
    paths[1].rename(moved)
    shutil.move(env.photos / "album0", env.photos / "new" / "album0")
    env.sync(library)
    assert env.embedder.calls == 0
    after = ids_by_path(library, env.photos)
    assert after[renamed.resolve()] == before[paths[2].resolve()]
    assert after[moved.resolve()] == before[paths[1].resolve()]
    assert after[(env.photos / "new" / "album0" / paths[3].name).resolve()] == before[
        paths[3].resolve()]
    assert sorted(after.values()) == sorted(before.values())
    status = library.status()
    assert (status.indexed, status.index_size) == (12, 12)


def test_changed_files_are_redone_touched_ones_not(
    synced: tuple[Env, Library, list[Path]],
) -> None:
    env, library, paths = synced
    write_photo(paths[0], 100)  # new content, same path
    st = paths[1].stat()
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch only
    env.sync(library)
    assert env.embedder.embedded == [paths[0].resolve()]
    query = write_photo(env.tmp / "q.png", 100)
    assert library.search(query, TOP1).matches[0].path == paths[0].resolve()
    assert library.status().index_size == 12


def test_deleted_files_leave_catalog_and_index(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, paths = synced
    paths[4].unlink()
    shutil.rmtree(env.photos / "album1")
    env.sync(library)
    remaining = {p.resolve() for p in paths if p.exists()}
    assert set(ids_by_path(library, env.photos)) == remaining
    assert library.status().index_size == len(remaining)
    assert all(m.path in remaining for m in library.search(paths[0], SearchOptions(top=50)).matches)


def test_offline_root_keeps_photos_and_comes_back_for_free(
    synced: tuple[Env, Library, list[Path]],
) -> None:
    env, library, _ = synced
    away = env.tmp / "unplugged"
    env.photos.rename(away)
    env.sync(library)
    status = library.status()
    assert (status.offline, status.indexed, status.index_size) == (12, 0, 0)
    assert not status.roots[0].online and status.roots[0].photos == 12
    away.rename(env.photos)
    env.sync(library)
    assert env.embedder.calls == 0
    status = library.status()
    assert (status.offline, status.indexed, status.index_size) == (0, 12, 12)
    assert status.roots[0].online


def test_empty_mount_point_counts_as_offline(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, _ = synced
    env.photos.rename(env.tmp / "away")
    env.photos.mkdir()  # the empty folder a drive is mounted on
    env.sync(library)
    assert library.status().offline == 12


def test_remove_root(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, _ = synced
    library.remove_root(env.photos)
    status = library.status()
    assert (status.roots, status.indexed, status.index_size) == ([], 0, 0)
    assert env.photos.exists()
    with pytest.raises(KnownError):
        library.remove_root(env.photos)
    with pytest.raises(KnownError):
        library.add_root(env.tmp / "missing")


def test_model_change_redoes_everything(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, _ = synced
    assert library.model_changed is False
    library.close()
    assert env.open(FakeEmbedder()).model_changed is False  # the same model again
    other = FakeEmbedder(model_id="fake-2")
    library = env.open(other)
    assert library.model_changed is True  # the window and `index` say why all is redone
    status = library.status()  # the old vectors serve searches until the new ones are done
    assert (status.pending, status.indexed, status.index_size) == (0, 12, 12)
    assert status.model_id == "fake-1" and status.switch is not None
    list(library.sync())
    assert other.calls == 12
    status = library.status()
    assert (status.model_id, status.index_size, status.switch) == ("fake-2", 12, None)


@pytest.mark.parametrize("damage", ["missing", "garbage", "sidecar"])
def test_missing_or_corrupt_index_is_rebuilt(
    synced: tuple[Env, Library, list[Path]], damage: str
) -> None:
    env, library, paths = synced
    library.close()
    index = env.home / "index.hnsw"
    assert index.exists()
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(b"\0garbage" * 100)
    else:
        index.with_name("index.hnsw.json").write_text("{}")
    env.embedder.reset()
    heard: list[tuple[int, int]] = []
    library = env.open(progress=lambda done, total: heard.append((done, total)))
    assert library.status().index_size == 12
    assert library.search(paths[2], TOP1).matches
    assert env.embedder.calls == 0
    assert heard[0] == (0, 12) and heard[-1] == (12, 12)  # the rebuild was reported
    assert [d for d, _ in heard] == sorted(d for d, _ in heard)


def test_an_index_used_as_saved_reports_no_rebuild(
    synced: tuple[Env, Library, list[Path]]
) -> None:
    env, library, _ = synced
    library.close()
    heard: list[tuple[int, int]] = []
    library = env.open(progress=lambda done, total: heard.append((done, total)))
    assert library.status().index_size == 12
    assert heard == []


def test_index_lagging_the_catalog_is_patched(env: Env) -> None:
    write_library(env.photos, 6)
    library = env.open()
    library.add_root(env.photos)
    env.sync(library)
    saved = (env.home / "index.hnsw").read_bytes(), (env.home / "index.hnsw.json").read_bytes()
    write_library(env.photos, 4, first_seed=50)
    env.sync(library)
    library.close()
    (env.home / "index.hnsw").write_bytes(saved[0])  # as if killed before the index was saved
    (env.home / "index.hnsw.json").write_bytes(saved[1])
    library = env.open()
    assert library.status().index_size == 10


def test_unreadable_files_are_skipped_with_a_reason(env: Env) -> None:
    write_library(env.photos, 3)
    (env.photos / "notes.jpg").write_text("not a photo")
    (env.photos / "empty.png").write_bytes(b"")
    library = env.open()
    library.add_root(env.photos)
    progress = env.sync(library)
    assert progress[-1].skipped == 2
    assert progress[-1].last_skipped is not None
    status = library.status()
    assert {p.name for p, _ in status.skipped} == {"notes.jpg", "empty.png"}
    assert all(reason for _, reason in status.skipped)
    assert status.indexed == 3 and status.roots[0].skipped == 2
    env.sync(library)
    assert env.embedder.calls == 0  # skipped files are not retried while unchanged


def test_cancel_and_resume_handles_each_photo_once(env: Env) -> None:
    write_library(env.photos, 20)
    library = env.open()
    library.add_root(env.photos)
    cancel = threading.Event()
    calls = 0
    for progress in library.sync(cancel, batch=4):
        if progress.phase == "embedding" and progress.done >= 8:
            cancel.set()
    assert progress.phase == "cancelled"
    calls += env.embedder.calls
    assert 0 < library.status().pending < 20
    env.embedder.reset()
    list(library.sync(batch=4))
    calls += env.embedder.calls
    assert calls == 20
    assert library.status().indexed == 20


def test_nested_roots_do_not_duplicate_or_redo(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, _ = synced
    library.add_root(env.photos / "album1")  # inside an existing root
    env.sync(library)
    assert env.embedder.calls == 0
    status = library.status()
    assert status.indexed == 12
    assert sorted(r.photos for r in status.roots) == [4, 8]
    library.add_root(env.tmp)  # around the existing roots
    env.sync(library)
    assert env.embedder.calls == 0
    assert library.status().indexed == 12


def test_exclude_and_home_are_never_indexed(env: Env) -> None:
    write_library(env.photos, 3)
    write_photo(env.photos / "private" / "x.jpg", 77)
    env.home = env.photos / "lookalike-home"
    library = env.open(exclude=[env.photos / "private"])
    library.add_root(env.photos)
    env.sync(library)
    write_photo(env.home / "stray.jpg", 78)
    env.sync(library)
    assert library.status().indexed == 3


def test_apply_events_uses_the_same_write_path(synced: tuple[Env, Library, list[Path]]) -> None:
    env, library, paths = synced
    before = ids_by_path(library, env.photos)
    new = write_photo(env.photos / "album0" / "fresh.jpg", 200).resolve()
    dest = (env.photos / "album0" / "renamed.jpg").resolve()
    src = paths[5].resolve()
    src.rename(dest)
    gone = paths[6].resolve()
    gone.unlink()
    library.apply_events([FileEvent(CREATED, new), FileEvent(MOVED, src, dest),
                          FileEvent(DELETED, gone), FileEvent(MODIFIED, paths[7].resolve())])
    after = {p: (i, s) for i, p, s in library.photos_under(env.photos)}
    assert after[new][1] == "pending"
    assert after[dest] == (before[src], "indexed")
    assert src not in after and gone not in after
    env.sync(library)
    assert env.embedder.embedded == [new]


def test_concurrent_search_during_sync(env: Env) -> None:
    write_library(env.photos, 40)
    env.embedder.delay_s = 0.005
    library = env.open()
    library.add_root(env.photos)
    errors: list[BaseException] = []

    def run_sync() -> None:
        try:
            list(library.sync(batch=4))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run_sync)
    thread.start()
    query = write_photo(env.tmp / "q.png", 3)
    while thread.is_alive():
        library.search(query, SearchOptions(top=5))
        library.status()
    thread.join()
    assert not errors
    assert library.search(query, TOP1).matches[0].path.name == "img_0003.jpg"


def test_close_saves_and_is_idempotent(env: Env) -> None:
    write_library(env.photos, 2)
    library = env.open()
    library.add_root(env.photos)
    env.sync(library)
    library.close()
    library.close()
    assert (env.home / "index.hnsw").exists()
    assert (env.home / "catalog.sqlite").exists()


def test_file_vanishing_while_its_batch_runs_is_dropped(env: Env) -> None:
    paths = write_library(env.photos, 6)

    class Deleting(FakeEmbedder):
        def embed_file(self, path: Path) -> object:  # type: ignore[override]
            if path.name == paths[2].name and path.exists():
                path.unlink()  # deleted after the scan, before it is read
            return super().embed_file(path)

    library = env.open(Deleting())
    library.add_root(env.photos)
    progress = list(library.sync())
    assert progress[-1].phase == "done" and progress[-1].skipped == 0
    status = library.status()
    assert (status.indexed, status.pending, status.skipped) == (5, 0, [])
