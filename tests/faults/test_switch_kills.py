"""SIGKILL ``lookalike index --preset P`` again and again during a model switch (issue 11).

A library of 60 photos is indexed with the ``balanced`` fake model; each round starts the real
CLI in a subprocess asking for the other preset (FakeEmbedder / TurnedEmbedder injected by a
bootstrap; 8 photos per batch), and SIGKILLs it a random moment after it enters the switch's
embedding loop or its swap. A round that finishes before the kill completes the switch; the
next round then switches back, so kills keep landing in switches. After every kill the library
is reopened in-process with its own preset's model (as a one-off ``search`` would), and:

- it is usable: every photo indexed, the index holds them all, a scaled copy of a photo
  (a new image, embedded by the library's own model) finds that photo first;
- nothing is mixed or lost: the catalog holds one vector per photo, and each checked one is
  the vector of the library's own model; the second space, if any, holds at most one each;
- the switch resumes: its done count never goes down across kills without a swap.

The default run kills 10 times; ``scripts/fault_runs.sh`` kills more (``LOOKALIKE_SWITCH_KILLS``).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import FakeEmbedder, TurnedEmbedder, write_library, write_photo
from tests.faults.phases import wait_for_phase

from lookalike import app
from lookalike.library import Library, SearchOptions

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("LOOKALIKE_SWITCH_KILLS", "10"))
PHOTOS = 60
OTHER = {"balanced": "fast", "fast": "balanced"}

BOOTSTRAP = f"""
import os, sys
sys.path[:0] = [{str(REPO / "desktop")!r}, {str(REPO)!r}]
import lookalike.library.facade as facade
import lookalike.library.switch as switch
from lookalike.app import run
from tests.fakes import FakeEmbedder, TurnedEmbedder
phase_fd = os.open(os.environ["PHASE_FILE"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
def mark(name):
    os.write(phase_fd, (name + "\\n").encode())
real_run, real_swap = switch.ModelSwitch.run, switch.ModelSwitch.swap
def run_(self, *a, **k):
    mark("switch")
    yield from real_run(self, *a, **k)
    mark("other")
def swap_(self, *a, **k):
    mark("swap")
    real_swap(self, *a, **k)
    mark("other")
switch.ModelSwitch.run, switch.ModelSwitch.swap = run_, swap_
sync = facade.Library.sync
facade.Library.sync = lambda self, cancel=None, batch=32: sync(self, cancel, batch=8)
def make(settings):
    kind = TurnedEmbedder if settings.preset == "fast" else FakeEmbedder
    return kind(model_id="fake-" + settings.preset, delay_s=0.01)
sys.exit(run(sys.argv[1:], make_embedder=make))
"""


def embedder_for(preset: str) -> FakeEmbedder:
    kind = TurnedEmbedder if preset == "fast" else FakeEmbedder
    return kind(model_id=f"fake-{preset}")


def run_and_kill(home: Path, phase_file: Path, preset: str, target: str, jitter_s: float
                 ) -> str | None:
    """Start ``lookalike index --preset preset`` and SIGKILL it ``jitter_s`` after it enters
    phase ``target``; returns the phase it was killed in, or None if it finished first."""
    phase_file.write_text("")
    command = [sys.executable, "-c", BOOTSTRAP, "--library", str(home), "index", "--preset",
               preset]  # fmt: skip
    errors = phase_file.with_suffix(".err")
    with errors.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PHASE_FILE": str(phase_file)})
    wait_for_phase(proc, phase_file, target, jitter_s)
    if proc.poll() is not None:
        assert proc.returncode == 0, errors.read_text()
        return None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    phases = phase_file.read_text().split()
    return phases[-1] if phases else "import"


def check(home: Path, paths: list[Path], tmp: Path, rng: random.Random) -> tuple[str, int]:
    """Reopen the library with its own model and check it (see the module docstring).

    Returns:
        The library's preset and how many photos the pending switch has done (0: none).
    """
    preset = Library.stored_preset(home)
    assert preset in OTHER
    own = embedder_for(preset)
    library = Library.open(home, own, preset=preset)
    try:
        status = library.status()
        assert (status.indexed, status.pending, status.index_size) == (PHOTOS, 0, PHOTOS)
        assert status.model_id == own.model_id
        for i in rng.sample(range(PHOTOS), 3):
            query = write_photo(tmp / f"q{i}.png", i, scale=0.8)
            assert library.search(query, SearchOptions(top=1)).matches[0].path == paths[i]
            stored = library.embedding(library.photo_id(paths[i]) or -1)
            assert stored is not None
            np.testing.assert_allclose(stored.vector, own.embed_file(paths[i]).vector)
        switching = status.switch
    finally:
        library.close()
    with sqlite3.connect(home / "catalog.sqlite", timeout=10) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == PHOTOS
        if switching is not None:
            assert switching.preset == OTHER[preset] and switching.total == PHOTOS
            new = conn.execute("SELECT count(*), count(DISTINCT photo_id) FROM vectors_next")
            assert new.fetchone() == (switching.done, switching.done)
    return preset, 0 if switching is None else switching.done


def test_kill_during_switch_leaves_a_usable_library(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("LOOKALIKE_SEED", "11")))
    home = tmp_path / "home"
    paths = write_library(tmp_path / "photos", PHOTOS)
    assert app.run(["--library", str(home), "index", str(tmp_path / "photos")],
                   make_embedder=lambda s: embedder_for(s.preset)) == 0  # fmt: skip
    preset, done = check(home, paths, tmp_path, rng)
    kills, swaps, phases = 0, 0, set()
    for _round in range(KILLS * 4):
        if kills >= KILLS:
            break
        target = rng.choice(["switch", "switch", "swap"])
        jitter = rng.uniform(0, 0.8) if target == "switch" else rng.uniform(0, 0.02)
        killed = run_and_kill(home, tmp_path / "phase", OTHER[preset], target, jitter)
        kills += killed is not None
        phases.add(killed)
        now, now_done = check(home, paths, tmp_path, rng)
        if now != preset:
            swaps += 1
        elif killed is not None:
            assert now_done >= done  # committed batches are kept: the switch resumes
        preset, done = now, now_done
    print(f"{kills} kills in {sorted(map(str, phases))}, {swaps} swaps")  # seen with -s
    assert kills >= KILLS
    assert "switch" in phases  # kills landed inside the switch's embedding loop
    # A last run without a kill completes the switch under way.
    before = preset
    assert run_and_kill(home, tmp_path / "phase", OTHER[preset], "never", 0) is None
    preset, done = check(home, paths, tmp_path, rng)
    assert (preset, done) == (OTHER[before], 0)
    assert swaps + 1 >= 2  # switched at least twice over the run
