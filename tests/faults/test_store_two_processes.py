"""Cases 9 and 10: one process owns a library at a time; the schema is made once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.fakes import write_library

from lookalike.store.catalog import Catalog

REPO = Path(__file__).resolve().parents[2]
CLI = ("import sys; from lookalike import app; from tests.fakes import FakeEmbedder; "
       "sys.exit(app.run(sys.argv[1:], make_embedder=lambda s: FakeEmbedder(delay_s=0.01)))")
HOLD = ("import sys; from pathlib import Path; from lookalike.library import Library; "
        "from tests.fakes import FakeEmbedder; lib = Library.open(Path(sys.argv[1]), "
        "FakeEmbedder()); print('open', flush=True); sys.stdin.read(); lib.close()")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "desktop"), str(REPO)])
    return env


def _cli(*argv: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, *map(str, argv)], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_process_is_refused_while_the_window_has_the_library(tmp_path: Path) -> None:
    root, home = tmp_path / "photos", tmp_path / "lib"
    write_library(root, 4)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], cwd=REPO, env=_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        other = _cli("--library", home, "index", root)
        _, err = other.communicate(timeout=120)
        assert other.returncode == 1 and "Traceback" not in err
        assert f"is open in another Lookalike (pid {holder.pid})" in err
    finally:
        holder.communicate("", timeout=120)  # closing stdin closes the library
    done = _cli("--library", home, "index", root)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert "4 indexed" in out


@pytest.mark.parametrize("trial", range(3))
def test_two_index_runs_on_a_new_library_never_break_it(tmp_path: Path, trial: int) -> None:
    root, home = tmp_path / "photos", tmp_path / "lib"
    write_library(root, 10)
    runs = [_cli("--library", home, "index", root) for _ in range(2)]
    results = [(run.wait(timeout=120), run.communicate()) for run in runs]
    for code, (_, err) in results:
        assert "Traceback" not in err and "already exists" not in err
        assert code == 0 or (code == 1 and "open in another Lookalike" in err), err
    assert any(code == 0 for code, _ in results)
    again = _cli("--library", home, "index", root)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and "10 indexed" in out, err


def test_two_connections_creating_one_catalog_at_once_both_succeed(tmp_path: Path) -> None:
    for trial in range(10):
        path = tmp_path / f"c{trial}.sqlite"
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def open_it(path: Path = path, errors: list[BaseException] = errors,
                    start: threading.Barrier = start) -> None:
            start.wait()
            try:
                Catalog.open(path).close()
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
