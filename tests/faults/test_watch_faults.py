"""Watcher faults (issue 12): a root renamed away and back, and folders moved out and in again.

Real watchdog (inotify), real SQLite and hnswlib, the FakeEmbedder. Conditions are polled (the
watcher checks its roots every 2 s), never slept on blindly.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike.library import Library, SearchOptions
from lookalike.scan.watcher import WatchHandle

pytestmark = pytest.mark.slow


class Watched:
    def __init__(self, tmp_path: Path) -> None:
        self.root = (tmp_path / "photos").resolve()
        self.paths = write_library(self.root, 12)
        self.library = Library.open(tmp_path / "home", FakeEmbedder())
        self.library.add_root(self.root)
        list(self.library.sync())
        self.handle: WatchHandle = self.library.watch(debounce_s=0.2)

    def catalog(self) -> dict[Path, str]:
        return {path: status for _, path, status in self.library.photos_under(self.root)}

    def online(self) -> bool:
        return all(r.online for r in self.library.roots())

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (condition() and self.handle.wait_idle(timeout_s=deadline - time.monotonic())
                    and condition()):  # still true once the watcher went quiet
                return True
            time.sleep(0.1)
        return False

    def matches_disk(self) -> bool:
        on_disk = {p for p in self.root.rglob("*.jpg") if p.is_file()}
        catalog = self.catalog()
        status = self.library.status()
        return (set(catalog) == on_disk and set(catalog.values()) <= {"indexed"}
                and status.index_size == status.indexed == len(on_disk))


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    w = Watched(tmp_path)
    yield w
    w.library.close()


def test_root_renamed_away_and_back_is_resynced_and_watched_again(
    watched: Watched, tmp_path: Path
) -> None:
    """Case 2: ``mv root root_away; cp p root_away/x.jpg; mv root_away root; cp q root/new.jpg``
    left the root offline and new files ignored until a restart."""
    root, away = watched.root, tmp_path / "root_away"
    root.rename(away)
    write_photo(away / "x.jpg", 900)  # changes while the root is away are caught up
    (away / watched.paths[3].relative_to(root)).unlink()
    assert watched.wait_for(lambda: not watched.online()), "the root never went offline"
    assert watched.library.status().index_size == 0  # offline photos leave search

    away.rename(root)
    assert watched.wait_for(watched.online), "the root never came back online"
    new = write_photo(root / "new.jpg", 901)  # and the root is watched again
    assert watched.wait_for(lambda: new in watched.catalog() and watched.matches_disk()), \
        f"catalog != disk: {sorted(watched.catalog())}"
    assert root / "x.jpg" in watched.catalog()
    assert watched.paths[3] not in watched.catalog()
    query = write_photo(tmp_path / "query.png", 901, scale=0.5)
    assert watched.library.search(query, SearchOptions(top=1)).matches[0].path == new


def test_folder_moved_out_and_back_prints_no_warning(watched: Watched, tmp_path: Path) -> None:
    """watchdog's "RuntimeWarning: Callback with id ... already exists" during churn (pytest
    turns warnings into errors: raised in watchdog's thread, it fails this test)."""
    root = watched.root
    for _ in range(3):
        shutil.move(root / "album0", tmp_path / "outside")
        assert watched.wait_for(watched.matches_disk)
        shutil.move(tmp_path / "outside", root / "album0")
        assert watched.wait_for(watched.matches_disk)
