"""The pixel copy test on synthetic photos: a cropped, resized, recoloured copy passes; the same
scene seen from a step away (a perspective warp) and an unrelated picture fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageEnhance

from lookalike.search.copy_pixels import (
    COPY_SHIFT,
    SIDE,
    candidate_side,
    check_files,
    homography_scatter,
    is_pixel_copy,
    pixel_check,
    to_gray,
)

Rgb = npt.NDArray[np.uint8]


def _texture(seed: int, w: int = 800, h: int = 600) -> Rgb:
    """A photo-like texture: smooth blobs at several scales plus edges, (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w), np.float32)
    for cells in (6, 17, 45):
        small = rng.random((cells * h // w + 2, cells + 2)).astype(np.float32)
        layer = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        out += np.asarray(layer, np.float32)
    out = (out - out.min()) / (out.max() - out.min()) * 255
    rgb = np.stack([out, np.roll(out, 7, axis=1), 255 - out], axis=-1)
    return np.ascontiguousarray(rgb.astype(np.uint8))


def _crop_copy(rgb: Rgb, box: tuple[int, int, int, int], side: int) -> tuple[Image.Image,
                                                                                 np.ndarray]:
    """A crop of ``box`` resized to long side ``side``, and the map of its positions onto the
    original's (long-side units)."""
    x0, y0, x1, y1 = box
    crop = Image.fromarray(rgb).crop(box)
    f = side / max(crop.size)
    crop = crop.resize((round(crop.width * f), round(crop.height * f)), Image.LANCZOS)
    lo = max(rgb.shape[:2])
    s = max(x1 - x0, y1 - y0) / lo
    return crop, np.array([[s, 0.0], [0.0, s], [x0 / lo, y0 / lo]])


def _shot(rgb: Rgb, jitter: float) -> Image.Image:
    """The scene from a step away: corners moved by ``jitter`` of the side (perspective)."""
    img = Image.fromarray(rgb)
    w, h = img.size
    j = jitter
    quad = (j * w, 0.5 * j * h, 0.3 * j * w, (1 - j) * h, (1 - 0.5 * j) * w, (1 - 0.2 * j) * h,
            (1 - j) * w, j * h)  # fmt: skip
    return img.transform(img.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)


def _grey(img: Image.Image | Rgb, side: int = SIDE) -> np.ndarray:
    return to_gray(np.asarray(img, np.uint8), side)


def test_a_cropped_resized_recoloured_copy_passes_even_with_a_rough_map() -> None:
    original = _texture(0)
    copy, exact = _crop_copy(original, (120, 90, 620, 465), 300)
    copy = ImageEnhance.Brightness(copy).enhance(1.3)
    rough = exact.copy()
    rough[2] += 0.006  # the cells' map: off by a fraction of a cell
    query = _grey(copy)
    candidate = _grey(original, candidate_side(rough))
    evidence = pixel_check(query, candidate, rough)
    assert evidence.blocks >= 20
    assert evidence.shift < COPY_SHIFT and evidence.ncc > 0.9
    assert is_pixel_copy(evidence)


@pytest.mark.parametrize("jitter", [0.03, 0.06])
def test_another_shot_with_perspective_fails(jitter: float) -> None:
    original = _texture(1)
    shot = _shot(original, jitter)
    identity = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    evidence = pixel_check(_grey(shot), _grey(original), identity)
    assert evidence.shift > 0.5
    assert not is_pixel_copy(evidence)


def test_an_unrelated_picture_fails() -> None:
    identity = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    evidence = pixel_check(_grey(_texture(2)), _grey(_texture(3)), identity)
    assert not is_pixel_copy(evidence) and evidence.ncc < 0.5


def test_check_files_reads_both_files_and_refuses_unreadable_ones(tmp_path: Path) -> None:
    original = _texture(4)
    copy, exact = _crop_copy(original, (0, 0, 800, 600), 320)  # a small copy, same framing
    copy.save(tmp_path / "small.jpg", quality=30)
    Image.fromarray(original).save(tmp_path / "original.png")
    assert is_pixel_copy(check_files(tmp_path / "small.jpg", tmp_path / "original.png", exact))
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    assert check_files(tmp_path / "broken.jpg", tmp_path / "original.png", exact).blocks == 0


def test_homography_scatter_is_zero_for_points_a_homography_relates() -> None:
    rng = np.random.default_rng(0)
    src = rng.random((40, 2)) * 200
    h = np.array([[1.02, 0.01, 3.0], [-0.02, 0.98, -2.0], [1e-4, -5e-5, 1.0]])
    mapped = np.concatenate([src, np.ones((40, 1))], axis=1) @ h.T
    dst = mapped[:, :2] / mapped[:, 2:]
    assert homography_scatter(src, dst).max() < 1e-6
