"""The pixel alignment of copies on synthetic photos: a turned, mirrored, cropped or framed copy
is found with its variant and map (and the pixel test confirms it); a tripod-like second shot
(small rotation and perspective) and an unrelated picture are not confirmed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from tests.unit.search.test_copy_pixels import Rgb, _shot, _texture

from lookalike.search.copy_align import (
    AlignQuery,
    _fast_len,
    align,
    correlation,
    dihedral,
    resized,
)
from lookalike.search.copy_check import CopyPixels, QueryImage, copy_by_pixels
from lookalike.search.copy_pixels import SIDE, is_pixel_copy, pixel_check, to_gray


def _grey(image: Image.Image | Rgb) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    return to_gray(rgb, SIDE)


def _crop(rgb: Rgb, box: tuple[int, int, int, int], side: int) -> Image.Image:
    crop = Image.fromarray(rgb).crop(box)
    f = side / max(crop.size)
    return crop.resize((round(crop.width * f), round(crop.height * f)), Image.LANCZOS)


@pytest.mark.parametrize("variant", [1, 3, 4, 6])
def test_a_turned_or_mirrored_and_cropped_copy_is_found_and_confirmed(variant: int) -> None:
    rgb = _texture(11)
    copy = np.asarray(_crop(rgb, (150, 90, 700, 520), 500))  # 40 % of the area, resized
    turned = np.ascontiguousarray(dihedral(copy, variant))
    query = _grey(rgb)
    found = align(query, _grey(turned))
    assert found is not None
    v, affine = found
    assert v == variant  # the query's variant that the copy is
    lin = affine[:2] / np.sqrt(abs(np.linalg.det(affine[:2])))
    assert np.allclose(np.abs(lin), np.eye(2), atol=0.05)  # a scaled identity up to signs
    evidence = pixel_check(np.asarray(dihedral(query, v), np.float32), _grey(turned), affine)
    assert is_pixel_copy(evidence), evidence


def test_a_framed_copy_maps_at_its_scale_and_offset() -> None:
    rgb = _texture(12)
    framed = ImageOps.expand(Image.fromarray(rgb), border=60, fill=(250, 250, 250))
    found = align(_grey(rgb), _grey(framed))
    assert found is not None and found[0] == 0
    scale = 800 / 920  # the photo's long side in the framed copy's long sides
    assert found[1][0, 0] == pytest.approx(scale, rel=0.06)  # within a fine step
    assert found[1][2, 0] == pytest.approx(60 / 920, abs=0.02)
    assert is_pixel_copy(pixel_check(_grey(rgb), _grey(framed), found[1]))


def test_a_tripod_shot_and_an_unrelated_photo_are_not_confirmed() -> None:
    rgb = _texture(13)
    shot = _shot(rgb, 0.04).rotate(1.2, Image.Resampling.BICUBIC)
    for other in (np.asarray(shot), _texture(99)):
        found = align(_grey(rgb), _grey(other))
        if found is not None:  # a second shot correlates: the pixel test must say no
            evidence = pixel_check(np.asarray(dihedral(_grey(rgb), found[0]), np.float32),
                                   _grey(other), found[1])  # fmt: skip
            assert not is_pixel_copy(evidence), evidence


def test_correlation_is_exact_for_a_partial_overlap() -> None:
    rng = np.random.default_rng(0)
    big = rng.random((30, 40)).astype(np.float32) * 255
    part = big[5:25, 12:36]  # the candidate holds this crop: query pixel i lands on i - (5, 12)
    query = AlignQuery(part).stack(1.0, 24, (0,))
    from lookalike.search.copy_align import _Stack

    ncc = correlation(query, _Stack(big[None].copy()), _fast_len(30 + 20))
    iy, ix = np.unravel_index(int(np.argmax(ncc[0])), ncc[0].shape)
    assert (iy - (20 - 1), ix - (24 - 1)) == (5, 12)
    assert ncc[0, iy, ix] == pytest.approx(1.0, abs=1e-3)


def test_resized_keeps_the_mean_and_fast_lengths_are_smooth() -> None:
    image = np.random.default_rng(1).random((37, 51)).astype(np.float32)
    assert resized(image, (12, 17)).mean() == pytest.approx(image.mean(), rel=1e-4)
    assert [_fast_len(n) for n in (1, 7, 49, 97, 101)] == [1, 8, 50, 100, 108]


def test_the_search_and_the_file_helper_find_a_turned_crop(tmp_path: Path) -> None:
    rgb = _texture(14)
    Image.fromarray(rgb).save(tmp_path / "query.png")
    copy = _crop(rgb, (100, 50, 650, 500), 400).rotate(90, expand=True)  # no EXIF
    copy.save(tmp_path / "turned.jpg", quality=85)
    _shot(rgb, 0.05).save(tmp_path / "shot.jpg", quality=90)
    files = {1: tmp_path / "turned.jpg", 2: tmp_path / "shot.jpg", 3: tmp_path / "none.jpg"}
    pixels = CopyPixels(QueryImage(tmp_path / "query.png"), files.get)
    found = pixels.aligned_copy(1)
    assert found is not None and found[0] == 1  # a quarter turn counter-clockwise
    assert pixels.aligned_copy(2) is None and pixels.aligned_copy(3) is None
    assert is_pixel_copy(copy_by_pixels(tmp_path / "query.png", tmp_path / "turned.jpg"))
    assert not is_pixel_copy(copy_by_pixels(tmp_path / "query.png", tmp_path / "shot.jpg"))
    assert copy_by_pixels(tmp_path / "query.png", tmp_path / "none.jpg").blocks == 0


def test_a_search_stops_aligning_after_a_run_of_suspects_that_are_no_copy(
        tmp_path: Path) -> None:  # fmt: skip
    rgb = _texture(15)
    Image.fromarray(rgb).save(tmp_path / "query.png")
    Image.fromarray(rgb).rotate(90, expand=True).save(tmp_path / "turned.png")
    Image.fromarray(_texture(16)).save(tmp_path / "other.png")
    files = {1: tmp_path / "turned.png", 2: tmp_path / "other.png"}
    pixels = CopyPixels(QueryImage(tmp_path / "query.png"), files.get)
    assert pixels.aligned_copies([2, 2, 1], patience=3)[2] is not None
    assert pixels.aligned_copies([2, 2, 2, 2, 1], patience=3)[4] is None  # never reached
