"""Verdicts end to end in a Library with the real model: an edited copy comes back
``same_photo``, another shot of the scene ``same_place``, an unrelated photo ``similar``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from tests.integration.test_rerank_model import _scene

from lookalike import paths
from lookalike.embed.model import Embedder
from lookalike.library import Library, SearchOptions

pytestmark = pytest.mark.integration


def _other_shot(rgb: np.ndarray) -> Image.Image:
    """The scene from a step away: a perspective warp (corners moved by 4-9%), other light."""
    img = Image.fromarray(rgb)
    w, h = img.size
    quad = (0.06 * w, 0.04 * h, 0.03 * w, 0.96 * h, 0.91 * w, 0.93 * h, 0.97 * w, 0.09 * h)
    warped = img.transform(img.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)
    return ImageEnhance.Brightness(warped).enhance(0.85)


def _photo(seed: int) -> np.ndarray:
    """The synthetic scene with a photo's fine texture (grain, surfaces): the pixel copy test
    measures block shifts, which flat shapes only fix at their corners."""
    rng = np.random.default_rng(seed + 100)
    grain = Image.fromarray(rng.integers(0, 255, (120, 160), np.uint8)).resize((640, 480))
    texture = (np.asarray(grain, np.float32) - 128) * 0.25
    return np.clip(_scene(seed) + texture[:, :, None], 0, 255).astype(np.uint8)


def test_copy_shot_and_unrelated_photo_get_their_verdicts(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    original = _photo(1)
    copy = ImageEnhance.Color(Image.fromarray(original)).enhance(1.3)  # recoloured, recompressed
    copy.save(root / "copy.jpg", quality=70)
    _other_shot(original).save(root / "other_shot.png")
    # a crop of 55 % of the area, resized: its cells fall on another grid, only the pixels
    # tell it from another shot
    Image.fromarray(original).crop((40, 30, 520, 430)).resize((360, 300)).save(
        root / "crop.jpg", quality=85)
    Image.fromarray(original[:, ::-1]).save(root / "mirrored.png")
    for seed in (2, 3, 4):
        Image.fromarray(_scene(seed)).save(root / f"unrelated{seed}.png")
    query = tmp_path / "query.png"
    Image.fromarray(original).save(query)
    embedder = Embedder(paths.models_dir() / "rmac_lite2.onnx", scales=(512,), threads=1,
                        local_features=True)  # fmt: skip
    lib = Library.open(tmp_path / "home", embedder)
    try:
        lib.add_root(root)
        list(lib.sync())
        found = lib.search(query, SearchOptions(top=7))
        verdicts = {m.path.name: m.verdict for m in found.matches}
        assert verdicts["copy.jpg"] == "same_photo"
        assert verdicts["crop.jpg"] == "same_photo"
        assert verdicts["mirrored.png"] == "same_photo"
        assert verdicts["other_shot.png"] == "same_place"
        assert {verdicts[f"unrelated{s}.png"] for s in (2, 3, 4)} == {"similar"}
        best = found.matches[0]
        explained = lib.explain(found.query, best.photo_id, SearchOptions(), best.verdict)
        assert (explained.verdict, explained.is_match) == (best.verdict, True)
        assert explained.query_points is not None and len(explained.query_points) > 10
        unrelated = next(m for m in found.matches if m.verdict == "similar")
        assert not lib.explain(found.query, unrelated.photo_id).is_match
    finally:
        lib.close()
