"""Verification, its geometry and the verdicts on synthetic point sets (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.search.geometry import coverage, quarter_turn, ransac
from lookalike.search.verify import (
    Points,
    Verdict,
    dihedral_points,
    mutual_nn,
    undo_dihedral,
    verify,
    verify_variants,
)

SIZE = (800, 600)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def scene(rng: np.random.Generator, n: int = 400) -> Points:
    xy = (rng.random((n, 2)) * np.array(SIZE)).astype(np.float32)
    return Points(xy, unit(rng.normal(size=(n, 64))), SIZE)


def noisy(desc: np.ndarray, rng: np.random.Generator, sigma: float = 0.05) -> np.ndarray:
    return unit(desc + rng.normal(scale=sigma, size=desc.shape))


def copy_of(points: Points, rng: np.random.Generator, k: int, crop: float, scale: float) -> Points:
    """Points of a crop of the photo, turned by the dihedral transform k, then scaled."""
    w, h = points.size
    x0, y0 = w * (1 - crop) / 2, h * (1 - crop) / 2
    keep = (
        (points.xy[:, 0] > x0)
        & (points.xy[:, 0] < w - x0)
        & (points.xy[:, 1] > y0)
        & (points.xy[:, 1] < h - y0)
    )
    cw, ch = w - 2 * x0, h - 2 * y0
    xy = dihedral_points(points.xy[keep] - np.array([x0, y0], np.float32), (cw, ch), k)
    xy = xy * scale + rng.normal(scale=0.5, size=xy.shape)
    size = (
        (round(ch * scale), round(cw * scale)) if k % 2 else (round(cw * scale), round(ch * scale))
    )
    return Points(xy.astype(np.float32), noisy(points.descriptors[keep], rng), size)


def test_mutual_nn_keeps_only_mutual_pairs_above_the_floor() -> None:
    q = unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    c = unit(np.array([[1.0, 0.05], [-1.0, 0.2]]))
    iq, ic = mutual_nn(q, c, 0.5)
    assert iq.tolist() == [0] and ic.tolist() == [0]
    assert len(mutual_nn(q, c, 0.9999)[0]) == 0


@pytest.mark.parametrize("k", range(8))
def test_dihedral_points_match_numpy_turns_and_undo(k: int) -> None:
    w, h = 7, 4
    image = np.zeros((h, w), int)
    image[1, 5] = 1
    turned = image[:, ::-1] if k >= 4 else image
    turned = np.rot90(turned, k % 4)
    ty, tx = np.argwhere(turned == 1)[0]
    centre = np.array([[5.5, 1.5]], np.float32)  # the pixel's centre, pixel-edge coordinates
    moved = dihedral_points(centre, (w, h), k)
    np.testing.assert_allclose(moved[0], [tx + 0.5, ty + 0.5])
    np.testing.assert_allclose(undo_dihedral(moved, (w, h), k), centre, atol=1e-5)


def test_affine_ransac_recovers_the_map_among_outliers() -> None:
    rng = np.random.default_rng(1)
    src = rng.random((200, 2))
    truth = np.array([[0.9, 0.2], [-0.1, 1.1], [0.05, -0.02]])
    dst = np.concatenate([src, np.ones((200, 1))], axis=1) @ truth
    dst[:80] = rng.random((80, 2))  # 40% outliers
    model, mask = ransac(src, dst, 0.01, 256, 0, similarity=False)
    assert model is not None
    np.testing.assert_allclose(model, truth, atol=1e-6)
    assert mask[80:].all() and mask[:80].sum() < 5


def test_quarter_turn_of_similarity_maps() -> None:
    angle = np.deg2rad(271.0)
    a, b = 0.5 * np.cos(angle), 0.5 * np.sin(angle)
    turn, error = quarter_turn(np.array([[a, b], [-b, a], [0.0, 0.0]]))
    assert turn == 3 and error == pytest.approx(1.0)


def test_coverage_counts_the_cells_holding_inliers() -> None:
    src = np.array([[x, y] for x in np.linspace(0, 1, 8) for y in np.linspace(0, 1, 8)])
    left = src[:, 0] < 0.5
    assert coverage(src, src, left) == pytest.approx(0.5)
    assert coverage(src, src, np.zeros(len(src), bool)) == 0.0


@pytest.mark.parametrize("k", range(8))
def test_turned_mirrored_cropped_downscaled_copy_is_the_same_photo(k: int) -> None:
    rng = np.random.default_rng(k)
    photo = scene(rng)
    copy = copy_of(photo, rng, k, crop=0.7, scale=0.4)
    evidence = verify(photo, copy)
    assert evidence.verdict is Verdict.SAME_PHOTO
    assert evidence.mirrored == (k >= 4)
    assert evidence.photo_ratio > 0.9 and evidence.coverage > 0.9


def test_a_second_shot_with_perspective_is_the_same_place_not_the_same_photo() -> None:
    rng = np.random.default_rng(5)
    photo = scene(rng)
    # a homography: a step sideways and a turn of the camera
    homography = np.array([[1.0, 0.05, 30.0], [0.02, 0.95, 10.0], [2.5e-4, 1e-4, 1.0]])
    hom = np.concatenate([photo.xy, np.ones((len(photo.xy), 1), np.float32)], axis=1)
    warped = hom @ homography.T
    xy = (warped[:, :2] / warped[:, 2:]).astype(np.float32)
    shot = Points(xy, noisy(photo.descriptors, rng, 0.08), SIZE)
    evidence = verify(photo, shot)
    assert evidence.verdict is Verdict.SAME_PLACE
    assert evidence.inliers > 30


def test_unrelated_photos_are_only_similar() -> None:
    rng = np.random.default_rng(7)
    evidence = verify(scene(rng), scene(rng))
    assert evidence.verdict is Verdict.SIMILAR
    assert evidence.inliers < 16


def test_variants_keep_the_strongest_evidence() -> None:
    rng = np.random.default_rng(3)
    photo = scene(rng)
    copy = copy_of(photo, rng, 0, crop=0.8, scale=0.5)
    unrelated = scene(rng)
    evidence = verify_variants([unrelated, photo], copy)
    assert evidence.verdict is Verdict.SAME_PHOTO and evidence.variant == 1
    with pytest.raises(ValueError):
        verify_variants([], copy)
