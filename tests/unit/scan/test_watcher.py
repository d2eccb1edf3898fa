"""scan.debounce, scan.watcher: debounced, coalesced, filtered batches of file events."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookalike.scan.debounce import Watcher
from lookalike.scan.events import CREATED, DELETED, MODIFIED, MOVED, FileEvent
from lookalike.scan.watcher import WatchHandle

SUFFIXES = frozenset({".jpg", ".png"})
DEBOUNCE_S = 0.15


class Collector:
    """Collects batches from the watcher thread."""

    def __init__(self) -> None:
        self.batches: list[list[FileEvent]] = []
        self.lock = threading.Lock()

    def __call__(self, events: list[FileEvent]) -> None:
        with self.lock:
            self.batches.append(list(events))

    @property
    def events(self) -> list[FileEvent]:
        with self.lock:
            return [e for batch in self.batches for e in batch]

    def wait_for(self, predicate: object, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            time.sleep(0.05)
        return False

    def expect(self, watcher: Watcher, events: list[FileEvent]) -> list[FileEvent]:
        """Wait until ``events`` all arrived (watchdog holds unpaired moves ~0.5 s), then
        settle; returns everything received."""
        self.wait_for(lambda: all(e in self.events for e in events))
        self.settle(watcher)
        return self.events

    def settle(self, watcher: Watcher, quiet_s: float = DEBOUNCE_S + 0.25) -> None:
        """Wait until no batch arrived for ``quiet_s`` and nothing is pending."""
        last = -1
        stable_since = time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            n = len(self.batches)
            if n != last or watcher.pending:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > quiet_s:
                return
            time.sleep(0.05)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def watch(root: Path) -> Iterator[tuple[Watcher, Collector]]:
    collector = Collector()
    watcher = Watcher([root], collector, DEBOUNCE_S, suffixes=SUFFIXES)
    watcher.start()
    time.sleep(0.1)
    yield watcher, collector
    watcher.stop()


def write(path: Path, data: bytes = b"data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_burst_is_coalesced_into_few_batches(watch: tuple[Watcher, Collector], root: Path) -> None:
    watcher, collector = watch
    paths = {write(root / f"d{i % 4}" / f"{i:03d}.jpg", b"x" * 100) for i in range(300)}
    collector.settle(watcher)
    file_events = [e for e in collector.events if not e.is_dir]
    assert {e.path for e in file_events} == paths
    assert len(file_events) == len(paths)  # one event per file: created+modified coalesced
    assert {e.kind for e in file_events} == {CREATED}
    assert len(collector.batches) <= 3


def test_file_written_in_chunks_gives_one_event(
    watch: tuple[Watcher, Collector], root: Path
) -> None:
    watcher, collector = watch
    path = root / "slow.jpg"
    with open(path, "wb") as f:
        for _ in range(5):
            f.write(b"x" * 1000)
            f.flush()
            time.sleep(DEBOUNCE_S / 3)
    collector.settle(watcher)
    assert collector.events == [FileEvent(CREATED, path)]


def test_modify_rename_delete(watch: tuple[Watcher, Collector], root: Path) -> None:
    watcher, collector = watch
    a = write(root / "a.jpg")
    collector.settle(watcher)
    collector.batches.clear()
    a.write_bytes(b"changed")
    assert collector.expect(watcher, [FileEvent(MODIFIED, a)]) == [FileEvent(MODIFIED, a)]
    collector.batches.clear()
    b = root / "sub" / "b.jpg"
    b.parent.mkdir()
    collector.settle(watcher)
    collector.batches.clear()
    a.rename(b)
    assert FileEvent(MOVED, a, b) in collector.expect(watcher, [FileEvent(MOVED, a, b)])
    collector.batches.clear()
    b.unlink()
    assert collector.expect(watcher, [FileEvent(DELETED, b)]) == [FileEvent(DELETED, b)]


def test_moves_across_the_root_boundary(
    watch: tuple[Watcher, Collector], root: Path, tmp_path: Path
) -> None:
    watcher, collector = watch
    outside = write(tmp_path / "outside.jpg")
    inside = root / "in.jpg"
    outside.rename(inside)
    assert collector.expect(watcher, [FileEvent(CREATED, inside)]) == [FileEvent(CREATED, inside)]
    collector.batches.clear()
    inside.rename(tmp_path / "out_again.jpg")
    assert collector.expect(watcher, [FileEvent(DELETED, inside)]) == [FileEvent(DELETED, inside)]


def test_folder_moved_out_and_deleted(
    watch: tuple[Watcher, Collector], root: Path, tmp_path: Path
) -> None:
    watcher, collector = watch
    for i in range(3):
        write(root / "album" / f"{i}.jpg")
        write(root / "other" / f"{i}.jpg")
    collector.settle(watcher)
    collector.batches.clear()
    (root / "album").rename(tmp_path / "album")
    shutil.rmtree(root / "other")
    expected = [FileEvent(DELETED, root / "album", None, True),
                FileEvent(DELETED, root / "other", None, True)]
    events = collector.expect(watcher, expected)
    assert all(e in events for e in expected)


def test_ignores_other_files_hidden_and_excluded(tmp_path: Path, root: Path) -> None:
    collector = Collector()
    watcher = Watcher([root], collector, DEBOUNCE_S, suffixes=SUFFIXES,
                      exclude=[root / "skip"])
    watcher.start()
    try:
        time.sleep(0.1)
        write(root / "notes.txt")
        write(root / ".hidden" / "a.jpg")
        write(root / "skip" / "b.jpg")
        write(root / "@eaDir" / "c.jpg")
        keep = write(root / "keep.png")
        # wait for the one wanted event first (a loaded machine reads inotify late), then
        # settle so that any unwanted event would have arrived too
        collector.wait_for(lambda: any(e.path == keep for e in collector.events))
        collector.settle(watcher)
    finally:
        watcher.stop()
    assert [e.path for e in collector.events if not e.is_dir] == [keep]


def test_file_still_growing_is_held_back(root: Path) -> None:
    collector = Collector()
    watcher = Watcher([root], collector, DEBOUNCE_S, suffixes=SUFFIXES)
    path = write(root / "growing.jpg", b"x")
    watcher._on_raw(CREATED, path, None, False)  # as if watchdog had reported it
    with open(path, "ab") as f:  # grows without a new event (e.g. a network share)
        f.write(b"more")
    batch = watcher._take_batch()
    assert watcher._stable(batch) == []
    assert watcher.pending == 1
    assert watcher._stable(watcher._take_batch()) == [FileEvent(CREATED, path)]


def test_watch_handle_processes_in_order_and_reports_idle(root: Path) -> None:
    seen: list[FileEvent] = []

    def process(events: list[FileEvent], stopping: threading.Event) -> None:
        time.sleep(0.2)  # slow consumer: batches queue up meanwhile
        seen.extend(events)

    handle = WatchHandle([root], process, DEBOUNCE_S, suffixes=SUFFIXES)
    handle.start()
    try:
        time.sleep(0.1)
        paths = [write(root / f"{i}.jpg") for i in range(20)]
        assert handle.wait_idle(timeout_s=10)
        assert {e.path for e in seen} == set(paths)
    finally:
        handle.stop()
    handle.stop()  # idempotent


def test_missing_root_is_skipped(tmp_path: Path) -> None:
    watcher = Watcher([tmp_path / "missing"], Collector(), DEBOUNCE_S)
    watcher.start()
    watcher.stop()
    assert not os.path.exists(tmp_path / "missing")


def test_coalescing_rules(root: Path) -> None:
    watcher = Watcher([root], Collector(), DEBOUNCE_S, suffixes=SUFFIXES)
    a, b, c, x, y = (root / f"{n}.jpg" for n in "abcxy")
    raw = watcher._on_raw
    raw(CREATED, a, None, False)
    raw(MOVED, a, b, False)  # created then moved: just created at the new place
    raw(MOVED, x, y, False)
    raw(MOVED, y, c, False)  # chained moves collapse
    raw(MODIFIED, root / "m.jpg", None, False)
    raw(DELETED, root / "m.jpg", None, False)
    raw(CREATED, root / "n.png", None, False)
    raw(MODIFIED, root / "n.png", None, False)
    raw(MOVED, root / "t.tmp", root / "final.jpg", False)  # saved via a temporary name
    raw(MOVED, root / "old.jpg", root / "old.bak", False)  # renamed to a non-photo name
    raw(MOVED, root / "d1", root / "d2", True)
    events = [p.event for p in watcher._take_batch()]
    assert events == [
        FileEvent(MOVED, x, c),
        FileEvent(MOVED, root / "d1", root / "d2", True),
        FileEvent(CREATED, b),
        FileEvent(DELETED, root / "m.jpg"),
        FileEvent(CREATED, root / "n.png"),
        FileEvent(CREATED, root / "final.jpg"),
        FileEvent(DELETED, root / "old.jpg"),
    ]
    assert watcher.pending == 0


def test_root_renamed_away_and_back_is_reported_and_watched_again(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    collector = Collector()
    watcher = Watcher([root], collector, DEBOUNCE_S, suffixes=SUFFIXES, root_check_s=0.1)
    watcher.start()
    try:
        root.rename(tmp_path / "away")
        assert collector.wait_for(lambda: FileEvent(DELETED, root, None, True) in collector.events)
        (tmp_path / "away").rename(root)
        assert collector.wait_for(lambda: FileEvent(CREATED, root, None, True) in collector.events)
        (root / "new.jpg").write_bytes(b"x")  # watched again under its name
        assert collector.wait_for(lambda: FileEvent(CREATED, root / "new.jpg") in collector.events)
    finally:
        watcher.stop()


def test_missing_root_is_watched_once_it_appears(tmp_path: Path) -> None:
    root = tmp_path / "later"
    collector = Collector()
    watcher = Watcher([root], collector, DEBOUNCE_S, suffixes=SUFFIXES, root_check_s=0.1)
    watcher.start()
    try:
        root.mkdir()
        assert collector.wait_for(lambda: FileEvent(CREATED, root, None, True) in collector.events)
        (root / "a.png").write_bytes(b"x")
        assert collector.wait_for(lambda: FileEvent(CREATED, root / "a.png") in collector.events)
    finally:
        watcher.stop()
