"""The copies bench builder: copy groups, other shots as negatives, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from benchmarks.make_copies_bench import COPIES, OTHERS, main
from PIL import Image


def _write_sources(folder: Path) -> None:
    """Four photos with shapes; two of them a real pair of shots of one scene."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:300, 0:400] / 300.0
    names = ("a", "b", "motorcycle_left", "motorcycle_right")
    for name in names:
        base = rng.uniform(0, 1, 3)
        pixels = np.stack([base[c] * xx + (1 - base[c]) * yy for c in range(3)], axis=-1) * 180
        for _ in range(6):
            cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 1.2), rng.uniform(0.05, 0.15)
            pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(0, 255, 3)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{name}.png")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _build(source: Path, out: Path) -> dict[str, object]:
    assert main([str(out), "--source", str(source), "--distractor-sources", "1"]) == 0
    return json.loads((out / "groundtruth.json").read_text())


def test_groups_scenes_and_distractors(tmp_path: Path) -> None:
    _write_sources(tmp_path / "src")
    truth = _build(tmp_path / "src", tmp_path / "out")
    groups: dict[str, list[str]] = truth["groups"]  # type: ignore[assignment]
    scenes: dict[str, list[str]] = truth["scenes"]  # type: ignore[assignment]
    assert "motorcycle_left" in groups and "motorcycle_right" not in groups
    assert len(groups) == 2  # one of a, b is held out as a distractor
    for name, members in groups.items():
        assert len(members) == 1 + len(COPIES)
        expected = len(OTHERS) + (name == "motorcycle_left")
        assert len(scenes[name]) == expected
        assert set(scenes[name]) <= set(truth["distractors"])  # other shots are negatives
    folder = tmp_path / "out/images/motorcycle_left"
    orig, turned = (_pixels(folder / f"motorcycle_left_{e}.jpg") for e in ("orig", "rot90"))
    assert turned.shape[:2] == orig.shape[1::-1]
    assert np.abs(np.rot90(orig).astype(int) - turned).mean() < 6  # JPEG noise only
    assert max(_pixels(folder / "motorcycle_left_small.jpg").shape) == 320


def test_deterministic(tmp_path: Path) -> None:
    _write_sources(tmp_path / "src")
    _build(tmp_path / "src", tmp_path / "one")
    _build(tmp_path / "src", tmp_path / "two")
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert files
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
