"""``lookalike duplicates --json`` with the real default model on generated copies (resized,
cropped, turned a quarter, mirrored) and a burst."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from tests.duplicate_photos import make_library

from lookalike import app
from lookalike.embed.model import Embedder
from lookalike.library import Library
from lookalike.store.thumbs import thumbs_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.from_preset("balanced", threads=2)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
            ) -> tuple[Path, dict[str, Path]]:  # fmt: skip
    base = tmp_path_factory.mktemp("dups")
    photos = make_library(base / "photos")
    original = Image.open(photos["original"])
    for role, turn in (("turned", Image.Transpose.ROTATE_270),
                       ("mirror", Image.Transpose.FLIP_LEFT_RIGHT)):  # fmt: skip
        photos[role] = base / "photos" / "copies" / f"original_{role}.jpg"
        original.transpose(turn).save(photos[role], quality=85)
    with Library.open(base / "home", embedder) as library:
        library.add_root(base / "photos")
        assert list(library.sync())[-1].phase == "done"
        ids = [i for i, _, _ in library.photos_under(base / "photos")]
        assert len(thumbs_of(library._catalog, ids)) == len(photos)  # stored when embedded
    return base / "home", photos


def _run(home: Path, embedder: Embedder, *args: str, capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, str]:  # fmt: skip
    code = app.run(["--library", str(home), "duplicates", *args],
                   make_embedder=lambda _settings: embedder)
    return code, capsys.readouterr().out


def test_json_lists_the_copy_group_and_the_burst(
    indexed: tuple[Path, dict[str, Path]], embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = indexed
    code, out = _run(home, embedder, "--json", capsys=capsys)
    assert code == 0
    groups = json.loads(out)
    by_kind = {g["kind"]: g for g in groups}
    assert set(by_kind) == {"copy", "burst"}
    copy = by_kind["copy"]
    assert copy["keep"] == str(photos["original"])
    assert {p["path"] for p in copy["photos"]} == {str(photos[r]) for r in (
        "original", "small", "crop", "turned", "mirror")}  # fmt: skip
    turned = next(p for p in copy["photos"] if p["path"] == str(photos["turned"]))
    assert "rotated" in turned["reason"]
    small = next(p for p in copy["photos"] if p["path"] == str(photos["small"]))
    assert (small["width"], small["height"]) == (512, 384)
    assert small["bytes"] == photos["small"].stat().st_size
    assert "smaller" in small["reason"] and "recompressed" in small["reason"]
    assert copy["photos"][0]["reason"].startswith("largest")
    burst = by_kind["burst"]
    assert {p["path"] for p in burst["photos"]} == {str(photos["burst1"]), str(photos["burst2"])}
    every = {p["path"] for g in groups for p in g["photos"]}
    assert str(photos["other1"]) not in every and str(photos["other2"]) not in every

    code, out = _run(home, embedder, "--json", "--kind", "burst", capsys=capsys)
    assert [g["kind"] for g in json.loads(out)] == ["burst"]


def test_nothing_is_removed_without_trash_and_reference_photos_are_refused(
    indexed: tuple[Path, dict[str, Path]], embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = indexed
    _run(home, embedder, capsys=capsys)
    assert all(p.exists() for p in photos.values())
    code, _ = _run(home, embedder, "--reference", str(photos["small"].parent),
                   "--trash", str(photos["small"]), capsys=capsys)
    assert code == 1 and photos["small"].exists()
    code, out = _run(home, embedder, "--json", "--reference", capsys=capsys)
    assert code == 0 and json.loads(out)
