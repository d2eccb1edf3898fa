"""SIGKILL ``lookalike index`` again and again while the library changes (issue 12).

Each round changes the disk (new, deleted, rewritten and renamed photos), starts the real CLI
in a subprocess (FakeEmbedder injected by a bootstrap; the index saved every 0.2 s), SIGKILLs
it a few random milliseconds after it enters the round's target phase (open-and-repair, scan,
embed, save in turn), then reopens the library in-process (which repairs the index from the
catalog) and checks, after every kill:

- nothing duplicated: one row per path, index labels = indexed photos, counts equal;
- nothing lost: every photo indexed before the round whose file was left alone is still indexed;
- nothing stale: every indexed photo whose file still has the catalogued size and mtime has the
  vector of its current content.

The bootstrap records which phase each kill hit (import, open-and-repair, scan, embed, save)
through wrappers around the product's functions; no product code knows about the test. The
default run kills 4 times; ``scripts/fault_runs.sh`` kills 60 times.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_photo
from tests.faults.phases import wait_for_phase

from lookalike.library import Library

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("LOOKALIKE_KILLS", "4"))
START_PHOTOS = int(os.environ.get("LOOKALIKE_KILL_PHOTOS", "150"))
CHECKED = 40
"""Vectors compared with their file's content after each kill: the photos touched in the
round plus this many others, drawn at random (all of them after the final run)."""

BOOTSTRAP = f"""
import os, sys
sys.path[:0] = [{str(REPO / "desktop")!r}, {str(REPO)!r}]
import lookalike.library.facade as facade
import lookalike.library.indexing as indexing
import lookalike.library.writer as writer
from lookalike.app import run
from tests.fakes import FakeEmbedder
phase_fd = os.open(os.environ["PHASE_FILE"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
def mark(name):
    os.write(phase_fd, (name + "\\n").encode())
def wrap(owner, attr, name, generator=False):
    real = getattr(owner, attr)
    def plain(*a, **k):
        mark(name)
        try:
            return real(*a, **k)
        finally:
            mark("other")
    def gen(*a, **k):
        mark(name)
        yield from real(*a, **k)
        mark("other")
    setattr(owner, attr, gen if generator else plain)
wrap(writer.CatalogWriter, "scan_root", "scan", generator=True)
wrap(indexing.Indexer, "_embed_rows", "embed")
wrap(facade.Library, "save", "save")
real_open = facade.Library.open.__func__
def open_(cls, *a, **k):
    mark("open")
    try:
        return real_open(cls, *a, **k)
    finally:
        mark("other")
facade.Library.open = classmethod(open_)
facade.SAVE_INTERVAL_S = 0.2
sync = facade.Library.sync
facade.Library.sync = lambda self, cancel=None, batch=32: sync(self, cancel, batch=8)
mark("import")
sys.exit(run(sys.argv[1:], make_embedder=lambda settings: FakeEmbedder(delay_s=0.015)))
"""


class Disk:
    """The photo folder and the seed each photo's content was made from."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng, self.next_seed = root, rng, 0
        self.seeds: dict[Path, int] = {}
        for _ in range(START_PHOTOS):
            self.add()

    def add(self) -> None:
        path = self.root / f"d{self.next_seed % 9}" / f"p{self.next_seed:05d}.jpg"
        write_photo(path, self.next_seed, size=(64, 48))
        self.seeds[path] = self.next_seed
        self.next_seed += 1

    def change(self) -> set[Path]:
        """Add, delete, rewrite and rename some photos; returns the paths touched."""
        touched: set[Path] = set()
        for _ in range(30):
            self.add()
        for path in self.rng.sample(sorted(self.seeds), 12):
            action = self.rng.choice(("delete", "rewrite", "rename"))
            touched.add(path)
            seed = self.seeds.pop(path)
            if action == "delete":
                path.unlink()
            elif action == "rewrite":
                write_photo(path, self.next_seed, size=(64, 48))
                st = path.stat()
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
                self.seeds[path] = self.next_seed
                self.next_seed += 1
            else:
                dest = path.with_name("r" + path.name)
                path.rename(dest)
                self.seeds[dest] = seed
                touched.add(dest)
        return touched


def run_and_kill(home: Path, root: Path, phase_file: Path, target: str, jitter_s: float
                 ) -> str | None:
    """Start ``lookalike index`` and SIGKILL it ``jitter_s`` after it enters phase ``target``.

    Returns:
        The phase it was in when killed, or None if it finished first.
    """
    phase_file.write_text("")
    command = [sys.executable, "-c", BOOTSTRAP, "--library", str(home), "index", str(root)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PHASE_FILE": str(phase_file)})
    wait_for_phase(proc, phase_file, target, jitter_s)
    if proc.poll() is not None:
        return None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    phases = phase_file.read_text().split()
    return phases[-1] if phases else "import"


def indexed_paths(home: Path) -> set[Path]:
    with sqlite3.connect(home / "catalog.sqlite", timeout=10) as conn:
        rows = conn.execute("SELECT path FROM photos WHERE status = 'indexed'").fetchall()
    return {Path(r[0]) for r in rows}


def check(home: Path, disk: Disk, before: set[Path], touched: set[Path],
          sample: int | None = CHECKED) -> set[Path]:
    """Reopen the library and check the invariants.

    Returns:
        The indexed paths whose files are as catalogued: the next round may not lose them.
    """
    fake = FakeEmbedder()
    library = Library.open(home, fake)
    try:
        catalog = sqlite3.connect(home / "catalog.sqlite", timeout=10)
        try:
            assert catalog.execute("PRAGMA quick_check").fetchall() == [("ok",)]
            rows = [(r[0], os.fsdecode(r[1]), *r[2:]) for r in catalog.execute(
                "SELECT id, path, size_bytes, mtime_ns, status FROM photos")]  # v5: bytes paths
        finally:
            catalog.close()
        assert len({r[1] for r in rows}) == len(rows), "duplicated path"
        indexed = {r[0]: r for r in rows if r[4] == "indexed"}
        status = library.status()
        assert status.index_size == status.indexed == len(indexed), "index count != catalog"
        now = {Path(r[1]) for r in indexed.values()}
        lost = {p for p in before - touched if p in disk.seeds} - now
        assert not lost, f"lost: {sorted(lost)[:5]}"
        fresh = {Path(r[1]) for r in indexed.values() if _same_stat(Path(r[1]), r[2], r[3])}
        others = [i for i, r in indexed.items() if Path(r[1]) not in touched]
        if sample is not None:
            others = disk.rng.sample(others, min(sample, len(others)))
        chosen = others + [i for i, r in indexed.items() if Path(r[1]) in touched]
        for photo_id in chosen:
            _, path, size, mtime, _ = indexed[photo_id]
            if not _same_stat(Path(path), size, mtime):
                continue  # changed since the last scan: the next scan redoes it
            stored = library.embedding(photo_id)
            assert stored is not None
            assert float(stored.vector @ fake.embed_file(Path(path)).vector) > 0.999, \
                f"stale vector: {path}"
        return fresh
    finally:
        library.close()


def _same_stat(path: Path, size: int, mtime_ns: int) -> bool:
    """Whether the file is still as catalogued (not changed since the last scan)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (size, mtime_ns)


def test_kill_loop_loses_duplicates_and_staleness_nothing(tmp_path: Path) -> None:
    root, home = (tmp_path / "photos").resolve(), tmp_path / "home"
    rng = random.Random(20261201)
    disk = Disk(root, rng)
    phases: collections.Counter[str] = collections.Counter()
    before: set[Path] = set()
    for i in range(KILLS):
        touched = disk.change()
        target = ("open", "scan", "embed", "save")[i % 4]
        phase = run_and_kill(home, root, tmp_path / "phase", target, rng.uniform(0.0, 0.03))
        phases[phase or "finished"] += 1
        if (home / "catalog.sqlite").exists():
            before = check(home, disk, before, touched)
    print(f"kills by phase: {dict(phases)}")
    command = [sys.executable, "-c", BOOTSTRAP, "--library", str(home), "index", str(root)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PHASE_FILE": str(tmp_path / "phase")})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    final = check(home, disk, before, set(), sample=None)
    assert final == set(disk.seeds), "catalog != disk after a full run"
    if KILLS >= 50:
        assert min(phases[p] for p in ("open", "scan", "embed", "save")) >= 8, phases
