"""Spatial re-ranking and rotated queries with the real models, end to end in a Library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lookalike import paths
from lookalike.embed.local import LOCAL_DIM, MAX_LOCALS
from lookalike.embed.model import Embedder
from lookalike.library.facade import Library
from lookalike.search.pipeline import SearchOptions
from lookalike.search.rerank import count_inliers

pytestmark = pytest.mark.integration


def _scene(seed: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A colourful synthetic scene: rectangles and ellipses on a plain background."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(10, 140, 2))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        box = [x0, y0, x0 + w, y0 + h]
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    return np.asarray(img)


@pytest.fixture(scope="module")
def lite0() -> Embedder:
    return Embedder(
        paths.models_dir() / "rmac_lite0.onnx", scales=(512,), threads=1, local_features=True
    )


@pytest.fixture
def library(tmp_path: Path, lite0: Embedder) -> tuple[Library, dict[int, Path]]:
    root = tmp_path / "Pictures"
    root.mkdir()
    files = {}
    for seed in range(6):
        files[seed] = root / f"scene{seed}.png"
        Image.fromarray(_scene(seed)).save(files[seed])
    lib = Library.open(tmp_path / "home", lite0)
    lib.add_root(root)
    assert list(lib.sync())[-1].phase == "done"
    return lib, files


def test_embedder_returns_locals_from_the_same_run(lite0: Embedder) -> None:
    emb = lite0.embed_rgb(_scene(1))
    assert emb.locals is not None and emb.locals.dtype == np.float16
    assert 0 < len(emb.locals) <= MAX_LOCALS and emb.locals.shape[1] == 2 + LOCAL_DIM
    crop = lite0.embed_rgb(np.ascontiguousarray(_scene(1)[40:440, 60:600]))
    other = lite0.embed_rgb(_scene(2))
    assert crop.locals is not None and other.locals is not None
    assert count_inliers(emb.locals, crop.locals) > count_inliers(emb.locals, other.locals)


def test_lite2_local_features_come_from_the_finer_stride_16_map() -> None:
    lite2 = Embedder(
        paths.models_dir() / "rmac_lite2.onnx", scales=(512,), threads=1, local_features=True
    )
    assert (lite2.info.local_output, lite2.info.local_stride) == ("fine_features", 16)
    assert lite2.model_id.endswith(f"+L{MAX_LOCALS}x{LOCAL_DIM}s16")
    emb = lite2.embed_rgb(_scene(1))  # 512x384 input: 16x12 head cells, 32x24 fine cells
    assert emb.locals is not None and len(emb.locals) == MAX_LOCALS > 16 * 12
    # cell centres sit on the 16-pixel grid: (i + 0.5) / 32 of the long side
    grid = emb.locals[:, :2].astype(np.float64) * 32 - 0.5
    assert np.allclose(grid, np.round(grid), atol=0.02)
    crop = lite2.embed_rgb(np.ascontiguousarray(_scene(1)[40:440, 60:600]))
    other = lite2.embed_rgb(_scene(2))
    assert crop.locals is not None and other.locals is not None
    assert count_inliers(emb.locals, crop.locals) > 2 * count_inliers(emb.locals, other.locals)


def test_reranking_keeps_the_right_scene_first(library: tuple[Library, dict[int, Path]]) -> None:
    lib, files = library
    try:
        for seed in (0, 3, 5):
            crop = np.ascontiguousarray(_scene(seed)[60:420, 80:560])
            plain = lib.search(crop, SearchOptions(top=3, rerank=False))
            verified = lib.search(crop, SearchOptions(top=3))  # re-ranking on by default
            assert plain.matches[0].path == files[seed]
            assert verified.matches[0].path == files[seed]
            assert verified.matches[0].score > plain.matches[0].score  # inliers added
            by_photo = lib.search(files[seed], SearchOptions(top=3))  # stored locals
            assert by_photo.query.locals is not None
            assert all(m.path != files[seed] for m in by_photo.matches)
    finally:
        lib.close()


def test_rotated_query_finds_the_upright_photo(library: tuple[Library, dict[int, Path]]) -> None:
    lib, files = library
    try:
        sideways = np.ascontiguousarray(np.rot90(_scene(4)))
        found = lib.search(sideways, SearchOptions(top=3, rotate=True))
        assert found.matches[0].path == files[4]
        assert found.matches[0].score > 0.9
    finally:
        lib.close()


def test_a_pasted_copy_of_a_library_photo_gets_its_stored_vector(
    library: tuple[Library, dict[int, Path]],
) -> None:
    lib, files = library
    try:
        pasted = lib.search(files[2].read_bytes(), SearchOptions(top=1))  # as Ctrl+V
        assert pasted.matches[0].path == files[2]
        stored = lib.embedding(pasted.matches[0].photo_id)
        assert stored is not None
        assert float(pasted.query.vector @ stored.vector) > 0.9999  # decoded as indexing does
    finally:
        lib.close()
