"""Kill ``lookalike index`` with SIGKILL at random moments; the library must always recover.

The indexer runs in a subprocess through the real CLI (``lookalike.app.run``) with the
FakeEmbedder injected by a small bootstrap (product code has no test hooks). The index is saved
every 0.2 s instead of every 30 s so that kills also land in the middle of index saves. Each
fake embedding takes 40 ms and batches hold 8 photos, so every run commits something within a
second of starting while the whole job (~12 s) outlasts most of the 20 random kills, whose delays
count from the measured start-up time (seconds on a loaded machine, where fixed delays of 0.5-2 s
killed every run before its first commit).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fakes import DIM, FAKE_MODEL_ID, FakeEmbedder, write_photo

from lookalike.library import Library, SearchOptions
from lookalike.store.hnsw import VectorIndex

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

REPO = Path(__file__).resolve().parents[2]
PHOTOS = 300
UNREADABLE = ("broken.jpg", "empty.png", "text.tif")
KILLS = 20

BOOTSTRAP = f"""
import sys
sys.path[:0] = [{str(REPO / "desktop")!r}, {str(REPO)!r}]
import lookalike.library.facade as facade
from lookalike.app import run
from tests.fakes import FakeEmbedder
facade.SAVE_INTERVAL_S = 0.2
sync = facade.Library.sync
facade.Library.sync = lambda self, cancel=None, batch=32: sync(self, cancel, batch=8)
sys.exit(run(sys.argv[1:], make_embedder=lambda settings: FakeEmbedder(delay_s=0.04)))
"""


def make_photos(folder: Path) -> list[Path]:
    paths = [write_photo(folder / f"d{i % 7}" / f"p{i:04d}.jpg", i, size=(64, 48))
             for i in range(PHOTOS)]
    (folder / "d0" / UNREADABLE[0]).write_bytes(b"\xff\xd8\xff garbage")
    (folder / "d1" / UNREADABLE[1]).write_bytes(b"")
    (folder / "d2" / UNREADABLE[2]).write_text("not a tiff")
    return paths


def index_command(home: Path, photos: Path) -> list[str]:
    return [sys.executable, "-c", BOOTSTRAP, "--library", str(home), "index", str(photos)]


def run_and_kill(command: list[str], delay_s: float) -> int | None:
    """Start the indexer, SIGKILL it after ``delay_s``; returns its exit code if it ended first."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def count_indexed(home: Path) -> int:
    """Photos indexed so far (0 before the catalog exists)."""
    if not (home / "catalog.sqlite").exists():
        return 0
    with sqlite3.connect(home / "catalog.sqlite", timeout=10) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'photos'").fetchone() is None:
            return 0  # killed before the schema's (atomic) first transaction committed
        row = conn.execute("SELECT count(*) FROM photos WHERE status = 'indexed'").fetchone()
    return int(row[0])


def startup_s(tmp_path: Path) -> float:
    """Seconds the bootstrap takes to start and open an empty library: on a loaded machine
    this alone can exceed the kill delays, so they are counted from it."""
    started = time.monotonic()
    empty = [sys.executable, "-c", BOOTSTRAP, "--library", str(tmp_path / "probe"), "status"]
    subprocess.run(empty, capture_output=True, timeout=120, check=True)
    return time.monotonic() - started


def test_index_survives_random_kills(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    paths = make_photos(photos)
    command = index_command(home, photos)
    rng = random.Random(20240607)
    killed, progress = 0, [0]
    start_s = startup_s(tmp_path)
    for _ in range(KILLS):
        if run_and_kill(command, start_s + rng.uniform(0.0, 1.5)) is None:
            killed += 1
        progress.append(count_indexed(home))
    assert progress == sorted(progress), "a kill lost committed work"
    assert sum(0 < n < PHOTOS for n in progress) >= 3, "kills should land mid-embedding"
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert killed >= KILLS // 2, "most runs should have been killed mid-way"

    catalog = sqlite3.connect(home / "catalog.sqlite")
    try:
        assert catalog.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = catalog.execute("SELECT id, path, status FROM photos").fetchall()
        vectors = catalog.execute("SELECT count(*) FROM vectors").fetchone()[0]
    finally:
        catalog.close()
    by_path = {Path(os.fsdecode(path)): (pid, status) for pid, path, status in rows}  # BLOBs
    assert len(by_path) == len(rows) == PHOTOS + len(UNREADABLE)  # every file exactly once
    assert {p.resolve() for p in paths} <= set(by_path)
    assert {status for p, (_, status) in by_path.items() if p.name in UNREADABLE} == {"skipped"}
    indexed = {pid for p, (pid, status) in by_path.items() if status == "indexed"}
    assert len(indexed) == vectors == PHOTOS

    index = VectorIndex.load(home / "index.hnsw", FAKE_MODEL_ID, DIM)
    assert index.labels() == indexed

    library = Library.open(home, FakeEmbedder())
    try:
        query = write_photo(tmp_path / "query.png", 123, size=(64, 48), scale=1.5)
        assert library.search(query, SearchOptions(top=1)).matches[0].path == paths[123].resolve()
    finally:
        library.close()
