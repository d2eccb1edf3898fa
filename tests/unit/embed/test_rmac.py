"""The R-MAC region grid and reference pooling, without a model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lookalike.embed.rmac import l2n, mac, pool_regions, region_grid, rmac


@pytest.mark.parametrize(
    ("height", "width"), [(24, 32), (32, 24), (32, 32), (16, 21), (11, 40), (3, 4), (1, 1), (2, 9)]
)
def test_region_grid_boxes_are_inside_square_and_start_with_the_whole_map(height, width):
    boxes = region_grid(height, width, levels=3)
    assert boxes.dtype == np.int32 and boxes.shape[1] == 4
    assert tuple(boxes[0]) == (0, 0, width - 1, height - 1)
    x0, y0, x1, y1 = boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 < width).all() and (y1 < height).all()
    assert (x1 >= x0).all() and (y1 >= y0).all()
    sides_w, sides_h = x1[1:] - x0[1:] + 1, y1[1:] - y0[1:] + 1
    assert (sides_w == sides_h).all(), "every region below the whole map is square"
    assert len({tuple(b) for b in boxes}) == len(boxes), "no duplicate regions"


def test_region_grid_levels_match_the_rmac_layout_on_a_4_by_3_map():
    boxes = region_grid(24, 32, levels=3)
    sides = (boxes[1:, 2] - boxes[1:, 0] + 1).tolist()
    # level l has squares of side floor(2 * 24 / (l + 1)): 24, 16, 12
    assert sides.count(24) == 2 and sides.count(16) == 6 and sides.count(12) == 12
    # neighbouring level-3 squares overlap by roughly 40%
    xs = sorted({int(b[0]) for b in boxes[1:] if b[2] - b[0] + 1 == 12})
    overlaps = [(12 - (b - a)) / 12 for a, b in itertools.pairwise(xs)]
    assert all(0.3 <= o <= 0.6 for o in overlaps)


def test_region_grid_covers_the_whole_map_at_every_level():
    boxes = region_grid(21, 37, levels=3)
    for side in {int(b[2] - b[0] + 1) for b in boxes[1:]}:
        level = boxes[1:][(boxes[1:, 2] - boxes[1:, 0] + 1) == side]
        covered = np.zeros((21, 37), bool)
        for x0, y0, x1, y1 in level:
            covered[y0 : y1 + 1, x0 : x1 + 1] = True
        assert covered.all()


def test_pool_regions_is_the_max_inside_each_inclusive_box():
    rng = np.random.default_rng(1)
    fmap = rng.random((5, 6, 8), dtype=np.float32)
    boxes = np.array([[0, 0, 7, 5], [2, 1, 2, 1], [1, 2, 4, 5]], np.int32)
    pooled = pool_regions(fmap, boxes)
    assert pooled.shape == (3, 5)
    np.testing.assert_array_equal(pooled[0], fmap.max(axis=(1, 2)))
    np.testing.assert_array_equal(pooled[1], fmap[:, 1, 2])
    np.testing.assert_array_equal(pooled[2], fmap[:, 2:6, 1:5].max(axis=(1, 2)))
    np.testing.assert_array_equal(mac(fmap), pooled[0])


def test_rmac_is_unit_norm_and_whitening_changes_it():
    rng = np.random.default_rng(2)
    fmap = rng.random((16, 12, 16), dtype=np.float32)
    boxes = region_grid(12, 16)
    ident = rmac(fmap, boxes, np.zeros(16, np.float32), np.eye(16, dtype=np.float32))
    assert ident.shape == (16,)
    assert np.isclose(np.linalg.norm(ident), 1.0, atol=1e-5)
    proj = rng.normal(size=(8, 16)).astype(np.float32)
    whitened = rmac(fmap, boxes, fmap.mean(axis=(1, 2)), proj)
    assert whitened.shape == (8,) and np.isclose(np.linalg.norm(whitened), 1.0, atol=1e-5)


def test_l2n_normalises_rows():
    x = np.array([[3.0, 4.0], [0.0, 2.0]], np.float32)
    np.testing.assert_allclose(l2n(x), [[0.6, 0.8], [0.0, 1.0]], atol=1e-6)
