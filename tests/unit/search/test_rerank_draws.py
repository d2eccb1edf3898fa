"""RANSAC's draws are made once per match count and seed, and are the seeded generator's."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.search import affine, rerank


@pytest.mark.parametrize(("n", "seed"), [(3, 0), (17, 0), (256, 5)])
def test_drawn_triples_are_the_seeded_generators_and_read_only(n: int, seed: int) -> None:
    picks = affine.seeded_triples(n, 256, seed)
    fresh = affine.random_triples(np.random.default_rng(seed), n, 256)
    np.testing.assert_array_equal(picks, fresh)
    assert picks is affine.seeded_triples(n, 256, seed)
    with pytest.raises(ValueError):
        picks[0, 0] = 1


def test_ransac_is_deterministic_across_candidates() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 1, (40, 2)).astype(np.float32)
    dst = src * 0.9 + 0.05
    dst[::4] = rng.uniform(0, 1, (10, 2))  # a quarter are outliers
    first = rerank.ransac_affine(src, dst, 0.05)
    again = rerank.ransac_affine(src, dst, 0.05)
    assert first[0] is not None and again[0] is not None
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert int(first[1].sum()) == 30


def test_ransac_of_many_pairs_is_ransac_of_each() -> None:
    """One batch of pairs of different sizes (a few too small to fit) gives each pair the map
    and mask it gets alone, bit for bit."""
    rng = np.random.default_rng(4)
    pairs = []
    for n in (0, 2, 3, 9, 40, 40, 117):
        src = rng.uniform(0, 1, (n, 2)).astype(np.float32)
        dst = (src @ np.array([[0.9, 0.1], [-0.1, 0.9]]) + 0.05).astype(np.float32)
        dst[::3] = rng.uniform(0, 1, dst[::3].shape)
        pairs.append((src, dst))
    for (src, dst), (fit, mask) in zip(pairs, rerank.ransac_affines(pairs, 0.05), strict=True):
        alone, alone_mask = rerank.ransac_affine(src, dst, 0.05)
        assert (fit is None) == (alone is None) and np.array_equal(mask, alone_mask)
        if fit is not None:
            assert np.array_equal(fit, alone)


def test_triple_maps_carry_each_triple_onto_its_image() -> None:
    rng = np.random.default_rng(6)
    src, dst = rng.uniform(0, 1, (50, 3, 2)), rng.uniform(0, 1, (50, 3, 2))
    src[7] = [[0, 0], [1, 1], [2, 2]]  # collinear: no map
    maps, ok = affine.affine_from_triples(src, dst)
    assert not ok[7] and not maps[7, :2].any() and ok.sum() == 49
    homog = np.concatenate([src, np.ones((50, 3, 1))], axis=2)
    np.testing.assert_allclose((homog @ maps)[ok], dst[ok], atol=1e-9)
    coef, same = affine.triple_maps(*(np.ascontiguousarray(a[:, :, c].T)
                                      for a in (src, dst) for c in (0, 1)))
    assert np.array_equal(same, ok) and np.array_equal(coef.T.reshape(-1, 3, 2), maps)
