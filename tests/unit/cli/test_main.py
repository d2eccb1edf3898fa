"""The command line, driven through ``lookalike.app.run`` with the FakeEmbedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike import app
from lookalike.cli.progress import CheckingNotice, ProgressPrinter, format_duration
from lookalike.library import Progress

REPO = Path(__file__).resolve().parents[3]


def lookalike(*argv: str | Path) -> int:
    return app.run([str(a) for a in argv], make_embedder=lambda _settings: FakeEmbedder())


@pytest.fixture
def indexed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, list[Path]]:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 8)
    (photos / "broken.jpg").write_text("nope")
    assert lookalike("--library", home, "index", photos) == 0
    capsys.readouterr()
    return home, photos, paths


def test_index_prints_summary_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    write_library(photos, 5)
    (photos / "broken.jpg").write_text("nope")
    assert lookalike("--library", tmp_path / "lib", "index", photos) == 0
    out, err = capsys.readouterr()
    assert "5 indexed" in out and "1 skipped" in out
    assert "skipped: " in out and "broken.jpg" in out
    assert "embedding" in err or "done" in err  # plain progress lines (not a TTY)


def test_index_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    write_library(photos, 3)
    assert lookalike("--library", tmp_path / "lib", "index", "--json", photos) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["embedded"] == 3 and summary["indexed"] == 3
    assert summary["cancelled"] is False
    assert summary["roots"][0]["path"] == str(photos.resolve())


def test_index_after_a_model_update_says_every_photo_is_embedded_again(
    indexed: tuple[Path, Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos, _ = indexed
    assert lookalike("--library", home, "index", photos) == 0
    assert "model was updated" not in capsys.readouterr().err  # same model: nothing redone
    code = app.run(["--library", str(home), "index", "--json", str(photos)],
                   make_embedder=lambda _settings: FakeEmbedder(model_id="fake-2"))  # fmt: skip
    assert code == 0
    out, err = capsys.readouterr()
    assert "model was updated" in err and "embedded again" in err
    assert json.loads(out)["embedded"] == 8  # the 8 photos (the unreadable file stays skipped)


def test_search_json_and_text(
    indexed: tuple[Path, Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, _, paths = indexed
    query = write_photo(tmp_path / "q.png", 4, scale=0.8)
    assert lookalike("--library", home, "search", query, "--top", "3", "--json") == 0
    matches = json.loads(capsys.readouterr().out)
    assert [set(m) for m in matches] == [{"path", "score", "rank", "inliers", "verdict",
                                          "verified"}] * 3
    assert matches[0]["inliers"] is None  # the fake embedder makes no local features
    assert {(m["verdict"], m["verified"]) for m in matches} == {("similar", False)}
    assert lookalike("--library", home, "search", query, "--verdict", "same_place", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing verified without local features
    assert matches[0]["path"] == str(paths[4].resolve())
    assert [m["rank"] for m in matches] == [1, 2, 3]
    assert lookalike("--library", home, "search", query, "--top", "2",
                     "--crop", "0,0,0.9,0.9") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "1"
    assert lines[0].split()[2] == str(paths[4].resolve())


def test_status_json(
    indexed: tuple[Path, Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos, _ = indexed
    assert lookalike("--library", home, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status) == {"roots", "indexed", "pending", "offline", "skipped", "index_size",
                           "index_file_bytes", "model_id", "whitening", "switch"}
    assert status["whitening"] is None and status["switch"] is None
    assert status["roots"] == [{"path": str(photos.resolve()), "photos": 8, "pending": 0,
                                "skipped": 1, "online": True}]
    assert (status["indexed"], status["index_size"], status["model_id"]) == (8, 8, "fake-1")
    assert status["skipped"][0]["path"].endswith("broken.jpg") and status["skipped"][0]["reason"]
    assert status["index_file_bytes"] > 0
    assert lookalike("--library", home, "status") == 0
    assert "online" in capsys.readouterr().out


def test_a_rebuilt_index_is_announced_on_stderr_and_json_stays_clean(
    indexed: tuple[Path, Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    home, _, _ = indexed
    (home / "index.hnsw").unlink()
    assert lookalike("--library", home, "status", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["index_size"] == 8
    assert "Rebuilding the search index from the catalog" in err
    assert "index rebuilt: 8 photos" in err
    assert lookalike("--library", home, "status", "--json") == 0  # saved: no rebuild now
    assert "Rebuilding" not in capsys.readouterr().err


def test_library_defaults_to_lookalike_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path / "home"))
    write_library(tmp_path / "p", 2)
    assert lookalike("index", tmp_path / "p") == 0
    assert (tmp_path / "home" / "catalog.sqlite").exists()


def test_known_errors_exit_1_without_traceback(
    indexed: tuple[Path, Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, _, _ = indexed
    assert lookalike("--library", home, "search", tmp_path / "missing.jpg") == 1
    err = capsys.readouterr().err
    assert err.startswith("lookalike: ") and "Traceback" not in err
    assert lookalike("--library", home, "index", tmp_path / "no-such-folder") == 1
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["search"], ["frobnicate"], ["search", "x.jpg", "--crop", "1,2"],
     ["search", "x.jpg", "--crop", "0.5,0,0.2,1"], ["--threads", "many", "status"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert lookalike(*argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_and_no_command_without_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lookalike("--help") == 0
    assert "index" in capsys.readouterr().out
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert lookalike() == 0
    assert "usage:" in capsys.readouterr().out


def test_gui_missing_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lookalike.gui.app", None)  # import fails
    assert lookalike("gui") == 1
    assert "window is not available" in capsys.readouterr().err


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from lookalike.app import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['--help'])\n"
        "heavy = ('onnxruntime', 'hnswlib', 'PySide6', 'numpy', 'PIL', 'watchdog', 'sqlite3')\n"
        "print(rc, sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "desktop")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=60).stdout
    assert out.strip() == "0 []"


def test_progress_printer_plain_and_tty() -> None:
    import io

    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False, interval_s=0)
    printer.update(Progress("scanning", 500, 0))
    printer.update(Progress("embedding", 5, 10, 2.5, 2.0, Path("/x/a.jpg"), 1))
    printer.update(Progress("done", 10, 10, 2.5, 0.0))
    lines = stream.getvalue().splitlines()
    assert lines == ["scanning: 500 files",
                     "embedding 5/10 (2.5 photos/s, ETA 0:02), 1 skipped",
                     "done: 10 photos embedded, 0 skipped"]
    tty = io.StringIO()
    printer = ProgressPrinter(tty, tty=True)
    printer.update(Progress("embedding", 1, 3, 1.0, 2.0, Path("/x/b.jpg")))
    printer.update(Progress("done", 3, 3))
    assert tty.getvalue().startswith("\rembedding 1/3") and "b.jpg" in tty.getvalue()
    assert tty.getvalue().endswith("\n")


def test_a_long_duplicates_update_is_shown_and_a_short_one_is_not() -> None:
    import io

    quiet = io.StringIO()
    CheckingNotice(quiet)(3, 3)  # a few new photos: done in one step
    assert quiet.getvalue() == ""
    stream = io.StringIO()
    notice = CheckingNotice(stream, interval_s=0)
    for done in (4096, 8192, 9000):
        notice(done, 9000)
    assert stream.getvalue().splitlines() == [
        "Looking for copies and bursts among 9,000 new or changed photos",
        "checked 4,096/9,000", "checked 8,192/9,000", "checked 9,000 photos"]


@pytest.mark.parametrize(("seconds", "text"), [(None, "?"), (5, "0:05"), (3725, "1:02:05")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_whiten_learns_and_undoes_and_status_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos, home = tmp_path / "photos", tmp_path / "lib"
    for seed in range(22):  # each scene twice: mutual nearest neighbours
        write_photo(photos / f"{seed}_a.png", seed)
        write_photo(photos / f"{seed}_b.png", seed, crop=(0.05, 0.05, 0.95, 0.95), scale=0.8)
    assert lookalike("--library", home, "index", photos) == 0
    capsys.readouterr()
    assert lookalike("--library", home, "whiten", "--json") == 0
    learned = json.loads(capsys.readouterr().out)["whitening"]
    assert learned["photos"] == 44 and learned["pairs"] >= 20
    assert lookalike("--library", home, "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["whitening"] == learned
    assert lookalike("--library", home, "search", photos / "3_b.png", "--top", "1", "--json",
                     "--dba", "0") == 0
    assert json.loads(capsys.readouterr().out)[0]["path"] == str((photos / "3_a.png").resolve())
    assert lookalike("--library", home, "whiten", "--off") == 0
    assert "dropped" in capsys.readouterr().out
    assert lookalike("--library", home, "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["whitening"] is None


def test_whiten_on_an_empty_library_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    assert lookalike("--library", tmp_path / "lib", "whiten") == 1
    assert "no indexed photos" in capsys.readouterr().err
