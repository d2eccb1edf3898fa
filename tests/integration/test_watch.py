"""Library.watch end to end: real watchdog events, the FakeEmbedder, catalog == disk after."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike.library import Library, Progress, SearchOptions
from lookalike.scan.watcher import WatchHandle

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    # watchdog (inotify) warns when a folder that was moved out comes back (same inode, same
    # watch descriptor); under pytest's "error" filter that warning would kill its thread.
    pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning"),
]


class Watched:
    def __init__(self, tmp_path: Path) -> None:
        self.root = (tmp_path / "photos").resolve()
        self.paths = write_library(self.root, 20)
        self.embedder = FakeEmbedder()
        self.library = Library.open(tmp_path / "home", self.embedder)
        self.library.add_root(self.root)
        list(self.library.sync())
        self.progress: list[Progress] = []
        self.handle: WatchHandle = self.library.watch(self.progress.append, debounce_s=0.2)

    def settle(self) -> None:
        assert self.handle.wait_idle(timeout_s=60), "watcher did not settle"

    def assert_matches_disk(self) -> None:
        on_disk = {p for p in self.root.rglob("*") if p.is_file() and p.suffix == ".jpg"}
        catalog = {path: status for _, path, status in self.library.photos_under(self.root)}
        assert set(catalog) == on_disk
        assert set(catalog.values()) <= {"indexed"}
        status = self.library.status()
        assert status.index_size == status.indexed == len(on_disk)
        assert status.pending == 0


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    w = Watched(tmp_path)
    w.embedder.reset()
    yield w
    w.library.close()


def test_edits_are_applied_and_moves_keep_vectors(watched: Watched) -> None:
    root, embedder = watched.root, watched.embedder
    new = write_photo(root / "album0" / "new.jpg", 500)
    write_photo(watched.paths[0], 501)  # modified in place
    renamed = watched.paths[1].with_name("renamed.jpg")
    watched.paths[1].rename(renamed)
    moved = root / "album2" / watched.paths[4].name
    watched.paths[4].rename(moved)
    watched.paths[7].unlink()
    watched.settle()
    watched.assert_matches_disk()
    assert sorted(embedder.embedded) == sorted([new, watched.paths[0]])
    assert watched.progress and watched.progress[-1].phase == "done"

    embedder.reset()
    shutil.move(root / "album1", root / "nested" / "album1")  # a folder moved inside the root
    watched.settle()
    watched.assert_matches_disk()
    assert embedder.calls == 0

    query = write_photo(root.parent / "query.png", 500, scale=0.5)
    assert watched.library.search(query, SearchOptions(top=1)).matches[0].path == new


def test_burst_of_files_and_folder_removal(watched: Watched, tmp_path: Path) -> None:
    root, embedder = watched.root, watched.embedder
    burst = write_library(root / "burst", 300, first_seed=1000)
    watched.settle()
    watched.assert_matches_disk()
    assert embedder.calls == len(burst)

    embedder.reset()
    shutil.move(root / "burst" / "album0", tmp_path / "outside")  # moved out of the root
    shutil.rmtree(root / "burst" / "album1")
    watched.settle()
    watched.assert_matches_disk()
    assert embedder.calls == 0

    shutil.move(tmp_path / "outside", root / "back")  # and in again: embedded as new files
    watched.settle()
    watched.assert_matches_disk()


def read_until(proc: subprocess.Popen[str], text: str) -> bool:
    """Read the process's stderr line by line until ``text`` shows up (False at EOF)."""
    assert proc.stderr is not None
    return any(text in line for line in proc.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_cli_watch_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    write_library(photos, 5)
    bootstrap = (
        "import sys\n"
        f"sys.path[:0] = [{str(REPO / 'desktop')!r}, {str(REPO)!r}]\n"
        "from lookalike.app import run\n"
        "from tests.fakes import FakeEmbedder\n"
        "sys.exit(run(sys.argv[1:], make_embedder=lambda settings: FakeEmbedder()))\n"
    )
    base = [sys.executable, "-c", bootstrap, "--library", str(home)]
    subprocess.run([*base, "index", str(photos)], check=True, capture_output=True, timeout=60)
    with subprocess.Popen([*base, "watch"], stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert read_until(proc, "watching 1 folder;")
            time.sleep(0.3)
            new = write_photo(photos / "new.jpg", 99)
            assert read_until(proc, f"added {new.resolve()}")
            assert read_until(proc, "1 photo updated")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
            assert read_until(proc, "stopped")
        finally:
            proc.kill()
    library = Library.open(home, FakeEmbedder())
    try:
        assert library.status().indexed == 6
        assert library.search(new, SearchOptions(top=1)).matches  # in the saved index
    finally:
        library.close()
