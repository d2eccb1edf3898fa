"""A library keeps its model: a one-off ``--preset`` searches with the library's own preset and
never touches its vectors; ``lookalike --preset P index`` is the deliberate switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike import app
from lookalike.library import Library


def _run(built: list[str], *argv: str | Path) -> int:
    def factory(settings: object) -> FakeEmbedder:
        preset = getattr(settings, "preset")  # noqa: B009
        built.append(preset)
        return FakeEmbedder(model_id=f"fake-{preset}")

    return app.run([str(a) for a in argv], make_embedder=factory)


def test_a_one_off_preset_searches_with_the_librarys_own_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 8)
    built: list[str] = []
    assert _run(built, "--library", home, "--preset", "balanced", "index", photos) == 0
    assert Library.stored_preset(home) == "balanced"
    capsys.readouterr()

    query = write_photo(tmp_path / "q.png", 4, scale=0.8)
    assert _run(built, "--library", home, "--preset", "best", "search", query, "--json") == 0
    out, err = capsys.readouterr()
    matches = json.loads(out)
    assert matches and matches[0]["path"] == str(paths[4].resolve())
    assert "uses the balanced preset" in err and "vectors are kept" in err
    assert built == ["balanced", "balanced"]  # the best model was never even loaded

    assert _run(built, "--library", home, "--preset", "best", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["indexed"], status["pending"]) == (8, 0)  # no vector lost, nothing pending
    assert Library.stored_preset(home) == "balanced"


@pytest.mark.parametrize("where", ["global", "index"])
def test_index_with_a_preset_is_the_deliberate_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    write_library(photos, 5)
    built: list[str] = []
    assert _run(built, "--library", home, "index", photos) == 0
    assert Library.stored_preset(home) == "balanced"  # the default, recorded
    capsys.readouterr()
    args = ["--preset", "best", "index"] if where == "global" else ["index", "--preset", "best"]
    assert _run(built, "--library", home, *args, "--json") == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["embedded"] == 5  # each photo once, with the new model
    assert (summary["switch"], summary["model_id"], summary["index_size"]) == (
        None, "fake-best", 5)  # switched: 5 new vectors, swapped, indexed
    assert "Switching to the best preset: 5 photos to embed again" in err
    assert "searches keep using the current model" in err
    assert Library.stored_preset(home) == "best"
    assert _run(built, "--library", home, "status", "--json") == 0  # settings say balanced
    assert json.loads(capsys.readouterr().out)["pending"] == 0
    assert built[-1] == "best"  # the library's own preset now


def test_status_shows_a_switch_and_the_own_preset_cancels_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 5)
    built: list[str] = []
    assert _run(built, "--library", home, "index", photos) == 0
    with Library.open(home, FakeEmbedder(model_id="fake-balanced"), preset="balanced",
                      embedder_for=lambda n: FakeEmbedder(model_id=f"fake-{n}")) as library:
        library.switch_preset("fast")  # started, not run: as after a kill before any batch
    capsys.readouterr()
    assert _run(built, "--library", home, "status") == 0
    out = capsys.readouterr().out
    assert "switching to the fast preset (model fake-fast): 0 of 5 photos embedded" in out
    assert "searches use model fake-balanced" in out
    assert _run(built, "--library", home, "--preset", "fast", "search", paths[0],
                "--json") == 0  # a one-off search: the old space, the switch left waiting
    assert json.loads(capsys.readouterr().out)
    assert _run(built, "--library", home, "index", "--preset", "balanced", "--json") == 0
    out, err = capsys.readouterr()
    assert "Cancelled the switch to the fast preset (0 new vectors dropped)" in err
    summary = json.loads(out)
    assert (summary["switch"], summary["model_id"], summary["index_size"]) == (
        None, "fake-balanced", 5)
    assert Library.stored_preset(home) == "balanced"


def test_explain_prints_regions_and_points_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = tmp_path / "lib", tmp_path / "photos"
    paths = write_library(photos, 4)
    built: list[str] = []
    assert _run(built, "--library", home, "index", photos) == 0
    query = write_photo(tmp_path / "q.png", 2, scale=0.8)
    capsys.readouterr()
    assert _run(built, "--library", home, "explain", query, paths[2], "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert found["path"] == str(paths[2].resolve())
    assert found["regions"] and found["regions"][0]["number"] == 1
    assert all(0 <= v <= 1 for r in found["regions"] for v in r["result_box"])
    assert found["inliers"] == 0 and found["is_match"] is False  # the fake has no locals
    assert found["query_points"] is None
    assert _run(built, "--library", home, "explain", query, tmp_path / "nope.jpg") == 1
    assert "not a library photo" in capsys.readouterr().err
