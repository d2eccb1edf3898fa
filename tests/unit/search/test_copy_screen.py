"""The thumbnail screen of whole-frame copies: variants, aspects, the map for the pixel test."""

from __future__ import annotations

import numpy as np
import pytest
from tests.duplicate_photos import scene

from lookalike.decode.thumb import grey_thumb
from lookalike.search import copy_screen
from lookalike.search.copy_align import dihedral


def _thumbs(*images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    made = [grey_thumb(np.asarray(im, np.uint8)) for im in images]
    sigs = copy_screen.signatures(np.stack([t.pixels for t in made]))
    return sigs, np.asarray([(t.width, t.height) for t in made], np.int64)


@pytest.mark.parametrize("variant", range(8))
def test_a_turned_or_mirrored_copy_passes_with_its_variant(variant: int) -> None:
    original = np.asarray(scene(3, (400, 300)))
    copy = np.asarray(dihedral(original, variant))[::2, ::2]  # turned and half size
    sigs, sizes = _thumbs(original, copy, np.asarray(scene(4, (400, 300))))
    score, best = copy_screen.screen(sigs, sizes, np.asarray([0, 0]), np.asarray([1, 2]))
    assert score[0] >= copy_screen.SCREEN_NCC and best[0] == variant
    assert score[1] < copy_screen.SCREEN_NCC  # another scene
    # the map carries the variant's frame onto the copy's whole frame (long-side units)
    affine = copy_screen.frame_map(variant, (400, 300), (int(sizes[1, 0]), int(sizes[1, 1])))
    assert affine == pytest.approx(np.asarray([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))


def test_frames_of_another_aspect_never_pass() -> None:
    original = np.asarray(scene(3, (400, 300)))
    squeezed = np.asarray(scene(3, (400, 300)).resize((400, 200)))  # same squeezed thumbnail
    sigs, sizes = _thumbs(original, squeezed)
    score, _ = copy_screen.screen(sigs, sizes, np.asarray([0]), np.asarray([1]))
    assert score[0] == -1.0


def test_the_map_of_a_wider_frame_scales_each_axis() -> None:
    # a (400 x 300) photo onto a (300 x 400) copy turned a quarter: the variant is 300 x 400
    assert copy_screen.frame_map(1, (400, 300), (300, 400)) == pytest.approx(
        np.asarray([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    # onto a 320 x 240 upright copy: same frame, the same long-side units
    assert copy_screen.frame_map(0, (1024, 768), (320, 240)) == pytest.approx(
        np.asarray([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))


def test_a_flat_thumbnail_scores_nothing() -> None:
    sigs, sizes = _thumbs(np.full((30, 40, 3), 128, np.uint8), np.full((30, 40, 3), 128, np.uint8))
    score, _ = copy_screen.screen(sigs, sizes, np.asarray([0]), np.asarray([1]))
    assert score[0] == 0.0
