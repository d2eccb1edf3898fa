"""The command line's sharp edges: argument checks, ``remove``, empty folders, ``watch``'s
report of deletions and moves (FakeEmbedder, real library)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library

from lookalike import app
from lookalike.cli.output import plural
from lookalike.cli.watch_cmd import _watch_reporter, describe_changes
from lookalike.library import Library, Progress


def lookalike(*argv: str | Path) -> int:
    return app.run([str(a) for a in argv], make_embedder=lambda _settings: FakeEmbedder())


def test_a_file_as_library_is_a_usage_error_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0")
    assert lookalike("--library", a_file, "status") == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert a_file.read_text() == "root:x:0:0"


@pytest.mark.parametrize(("top", "says"), [("-3", "1 or more"), ("0", "1 or more"),
                                           ("ten", "whole number")])
def test_top_must_be_positive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], top: str, says: str
) -> None:
    assert lookalike("--library", tmp_path / "lib", "search", "q.jpg", "--top", top) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "lib").exists()  # nothing was opened


def test_negative_threads_and_dba_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert lookalike("--threads", "-1", "status") == 2
    assert lookalike("search", "q.jpg", "--dba", "-2") == 2
    assert capsys.readouterr().err.count("0 or more") == 2


def test_remove_forgets_a_folder_and_leaves_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 3)
    assert lookalike("--library", home, "index", photos) == 0
    assert lookalike("--library", home, "remove", photos) == 0
    assert f"removed {photos.resolve()}" in capsys.readouterr().out
    assert all(p.exists() for p in paths)
    assert lookalike("--library", home, "status") == 0
    assert "indexed 0" in capsys.readouterr().out
    assert lookalike("--library", home, "remove", photos) == 1  # not a library folder any more
    assert "is not a library folder" in capsys.readouterr().err


def test_index_on_an_empty_folder_adds_it_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert lookalike("--library", tmp_path / "lib", "index", empty) == 0
    err = capsys.readouterr().err
    assert f"no photos found in {empty}" in err and "lookalike remove" in err
    assert lookalike("--library", tmp_path / "lib", "status") == 0
    assert str(empty.resolve()) in capsys.readouterr().out


def test_describe_changes() -> None:
    a, b, c = Path("/p/a.jpg"), Path("/p/b.jpg"), Path("/p/c.jpg")
    lines = describe_changes({1: a, 2: b}, {1: c, 3: b})  # by path, then kind
    assert lines == ["moved /p/a.jpg -> /p/c.jpg", "added /p/b.jpg", "removed /p/b.jpg"]
    assert describe_changes({1: a}, {1: a}) == []


def test_watch_reports_deletions_and_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    paths = write_library(photos, 3)
    with Library.open(tmp_path / "lib", FakeEmbedder()) as library:
        library.add_root(photos)
        list(library.sync())
        report = _watch_reporter(library)
        paths[0].unlink()
        moved = paths[1].rename(photos / "renamed.jpg")
        list(library.sync())  # what the watcher does for these events, through one write path
        report(Progress("done", 0, 0))
    err = capsys.readouterr().err.splitlines()
    assert f"removed {paths[0].resolve()}" in err
    assert f"moved {paths[1].resolve()} -> {moved.resolve()}" in err
    assert not any("updated" in line for line in err)  # nothing was embedded


@pytest.mark.parametrize(("n", "text"), [(0, "0 photos"), (1, "1 photo"), (2, "2 photos"),
                                         (1234, "1,234 photos")])
def test_plural(n: int, text: str) -> None:
    assert plural(n, "photo") == text


def test_a_window_that_cannot_start_creates_no_library_folder(tmp_path: Path) -> None:
    """Qt stops the process when its platform plugin cannot load (as with a missing xcb
    library); that must happen before the default library folder is made."""
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "LOOKALIKE_HOME": str(tmp_path / "home"), "DISPLAY": ":99",
           "QT_QPA_PLATFORM": "no-such-platform", "PYTHONPATH": str(repo / "desktop"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "lookalike", "gui"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "no-such-platform" in done.stderr  # Qt's own message says which plugin failed
    assert not (tmp_path / "home").exists()


def test_a_folder_removed_and_added_back_is_not_embedded_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 4)
    assert lookalike("--library", home, "index", photos) == 0
    capsys.readouterr()
    assert lookalike("--library", home, "search", paths[2], "--top", "3", "--json") == 0
    before = json.loads(capsys.readouterr().out)
    assert lookalike("--library", home, "remove", photos) == 0
    write_library(photos, 1, first_seed=50, suffix=".png")  # one new photo meanwhile
    capsys.readouterr()
    assert lookalike("--library", home, "index", "--json", photos) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["embedded"], summary["indexed"]) == (1, 5)  # only the new one
    assert lookalike("--library", home, "search", paths[2], "--top", "4", "--json") == 0
    after = [m for m in json.loads(capsys.readouterr().out) if "img_0050" not in m["path"]]
    same = ("path", "score")  # the same vectors came back: same photos, same scores
    assert [[m[k] for k in same] for m in after] == [[m[k] for k in same] for m in before]
