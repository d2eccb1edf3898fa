"""The library lock: shared inside one process, refused to another, freed on release."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lookalike.store.lock import LibraryLock

PROBE = ("import sys; from pathlib import Path; from lookalike.store.lock import LibraryLock; "
         "from lookalike.errors import LibraryBusy\n"
         "try:\n    LibraryLock.acquire(Path(sys.argv[1])).release()\n"
         "except LibraryBusy as e:\n    print(e); sys.exit(3)")


def _probe(home: Path) -> subprocess.CompletedProcess[str]:
    desktop = Path(__file__).resolve().parents[3] / "desktop"
    return subprocess.run([sys.executable, "-c", PROBE, str(home)], capture_output=True,
                          text=True, env={"PYTHONPATH": str(desktop)}, check=False, timeout=60)


def test_another_process_is_refused_until_the_last_hold_is_released(tmp_path: Path) -> None:
    first = LibraryLock.acquire(tmp_path)
    second = LibraryLock.acquire(tmp_path)  # the same process shares it
    refused = _probe(tmp_path)
    assert refused.returncode == 3 and "open in another Lookalike (pid " in refused.stdout
    first.release()
    first.release()  # idempotent
    assert _probe(tmp_path).returncode == 3
    second.release()
    assert _probe(tmp_path).returncode == 0


@pytest.mark.parametrize("cut", [1, 50, 500])
def test_a_short_index_file_is_recognised(tmp_path: Path, cut: int) -> None:
    import numpy as np

    from lookalike.store.hnsw import VectorIndex
    from lookalike.store.hnsw_files import hnsw_file_complete

    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    index = VectorIndex(16, "m")
    index.add(np.arange(300), x / np.linalg.norm(x, axis=1, keepdims=True))
    path = tmp_path / "i.hnsw"
    index.save(path)
    assert hnsw_file_complete(path)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    assert not hnsw_file_complete(path)


def test_release_runs_its_actions_while_the_lock_is_still_held(tmp_path: Path) -> None:
    lock = LibraryLock.acquire(tmp_path)
    seen: list[int] = []

    def action() -> None:
        seen.append(_probe(tmp_path).returncode)  # another process is still refused here
        raise OSError("a failing action is logged, the lock still released")

    lock.on_release(action)
    lock.release()
    lock.release()  # idempotent: the action ran once
    assert seen == [3]
    assert _probe(tmp_path).returncode == 0
