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
