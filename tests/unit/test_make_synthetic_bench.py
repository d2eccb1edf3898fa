"""The synthetic bench builder writes a complete, deterministic bench in the dev bench format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmarks.make_synthetic_bench import PROTOCOL, main
from PIL import Image

VIEWS = 3


def _write_sources(folder: Path) -> None:
    """Three smooth photos with shapes, one too small and one excluded by name."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:300, 0:400] / 300.0
    for k in range(3):
        base = rng.uniform(0, 1, 3)
        pixels = np.stack([base[c] * xx + (1 - base[c]) * yy for c in range(3)], axis=-1) * 180
        for _ in range(6):
            cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 1.2), rng.uniform(0.05, 0.15)
            pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(0, 255, 3)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"scene{k}.png")
    Image.new("RGB", (200, 150), "red").save(folder / "tiny.png")
    Image.new("L", (300, 300), 128).save(folder / "brick.png")


def _build(source: Path, out: Path, seed: int = 0) -> dict[str, object]:
    argv = [str(out), "--source", str(source), "--views", str(VIEWS), "--seed", str(seed)]
    argv += ["--distractor-sources", "1", "--tiles-per-source", "1"]
    assert main(argv) == 0
    return json.loads((out / "groundtruth.json").read_text())


def _paths(truth: dict[str, object]) -> list[str]:
    groups: dict[str, list[str]] = truth["groups"]  # type: ignore[assignment]
    distractors: list[str] = truth["distractors"]  # type: ignore[assignment]
    return [p for members in groups.values() for p in members] + distractors


def _pixel_sums(out: Path, truth: dict[str, object]) -> list[int]:
    sums = []
    for path in _paths(truth):
        with Image.open(out / path) as image:
            sums.append(int(np.asarray(image).sum()))
    return sums


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "photos"
    _write_sources(folder)
    return folder


@pytest.fixture(scope="module")
def built(source: Path) -> tuple[Path, dict[str, object]]:
    """One bench with seed 0, shared by the tests (building takes a few seconds)."""
    out = source.parent / "bench"
    return out, _build(source, out)


def test_writes_a_complete_bench(built: tuple[Path, dict[str, object]]) -> None:
    out, truth = built

    assert set(truth) == {"groups", "distractors", "protocol"}
    assert truth["protocol"] == PROTOCOL
    groups: dict[str, list[str]] = truth["groups"]  # type: ignore[assignment]
    distractors: list[str] = truth["distractors"]  # type: ignore[assignment]
    assert len(groups) == 2  # 3 usable scenes, 1 held out; tiny.png and brick.png skipped
    assert set(groups) <= {"scene0", "scene1", "scene2"}
    for name, members in groups.items():
        assert len(members) == VIEWS
        assert members == [f"images/{name}/{name}_{k:02d}.jpg" for k in range(1, VIEWS + 1)]
    assert len(distractors) == VIEWS + 1  # the held-out scene's views and one tile
    assert all(p.startswith("distractors/") for p in distractors)
    held = ({"scene0", "scene1", "scene2"} - set(groups)).pop()
    assert all(Path(p).name.startswith(held) for p in distractors)

    for path in _paths(truth):
        with Image.open(out / path) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert 600 <= max(image.size) <= 1200
            image.load()


def test_same_seed_same_bench(
    source: Path, built: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    out, first = built
    second = _build(source, tmp_path / "again")
    assert second == first
    for path in _paths(first):
        assert (tmp_path / "again" / path).read_bytes() == (out / path).read_bytes()

    other = _build(source, tmp_path / "seed1", seed=1)
    assert _pixel_sums(tmp_path / "seed1", other) != _pixel_sums(out, first)
