"""Spatial re-ranking: mutual matches, affine RANSAC, inlier boost and the re-ranked order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.embed.local import extract, projection
from lookalike.search.rerank import (
    DEFAULT_PARAMS,
    RerankParams,
    boost,
    count_inliers,
    mutual_matches,
    ransac_affine,
    rerank_matches,
    rerank_scores,
)
from lookalike.search.similar import Match


def _apply(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return np.concatenate([points, np.ones((len(points), 1))], axis=1) @ affine


def test_ransac_recovers_a_known_affine_map_among_outliers() -> None:
    rng = np.random.default_rng(1)
    angle = np.deg2rad(30)
    linear = 0.8 * np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    truth = np.vstack([linear, [0.2, -0.1]])  # (3, 2): [x y 1] @ truth
    src = rng.random((60, 2))
    dst = _apply(src, truth) + rng.normal(0, 0.003, (60, 2))
    outliers = rng.choice(60, 25, replace=False)
    dst[outliers] = rng.random((25, 2))  # 42% wrong matches
    affine, mask = ransac_affine(src, dst, tolerance=0.02, iterations=256)
    assert affine is not None
    np.testing.assert_allclose(affine, truth, atol=0.02)
    expected = np.ones(60, bool)
    expected[outliers] = False
    assert (mask & expected).sum() >= 33  # nearly every true correspondence
    assert (mask & ~expected).sum() <= 2  # and hardly any outlier (a few may land close)


def test_ransac_is_deterministic_and_handles_degenerate_input() -> None:
    rng = np.random.default_rng(2)
    src, dst = rng.random((30, 2)), rng.random((30, 2))
    a1, m1 = ransac_affine(src, dst, 0.05)
    a2, m2 = ransac_affine(src, dst, 0.05)
    np.testing.assert_array_equal(m1, m2)
    assert (a1 is None) == (a2 is None)
    assert ransac_affine(src[:2], dst[:2], 0.05)[0] is None  # fewer than 3 matches
    line = np.stack([np.linspace(0, 1, 10), np.zeros(10)], axis=1)  # collinear: no map
    affine, mask = ransac_affine(line, line, 0.05)
    assert affine is None and not mask.any()
    mirrored = src * np.array([-1.0, 1.0])  # a reflection is not accepted
    assert ransac_affine(src, mirrored, 0.01)[1].sum() < 5


def test_mutual_matches_keep_only_pairs_that_choose_each_other() -> None:
    q = np.eye(4, dtype=np.float32)[:3]
    c = np.eye(4, dtype=np.float32)[[2, 0, 3]]
    iq, ic = mutual_matches(q, c)
    assert iq.tolist() == [0, 2] and ic.tolist() == [1, 0]
    assert mutual_matches(q[:0], c)[0].size == 0
    assert mutual_matches(q, c, min_similarity=1.0)[0].size == 0


def _fmap(seed: int, h: int = 24, w: int = 32, c: int = 48) -> np.ndarray:
    """A synthetic (C, h, w) feature map: sparse non-negative random activations."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.standard_normal((c, h, w)) - 0.5, 0).astype(np.float32)


def test_rotated_and_cropped_locals_match_their_source_better_than_another_image() -> None:
    source = _fmap(0)
    rotated_crop = np.ascontiguousarray(np.rot90(source, 1, axes=(1, 2))[:, 2:30, 3:21])
    other = _fmap(1)
    src_l = extract(source, top=128, dim=32)
    same = count_inliers(src_l, extract(rotated_crop, top=128, dim=32))
    different = count_inliers(src_l, extract(other, top=128, dim=32))
    assert same >= 20
    assert different <= DEFAULT_PARAMS.baseline
    assert boost(same) > boost(different) == 0.0


def test_extract_keeps_the_strongest_cells_as_unit_codes_with_positions() -> None:
    fmap = _fmap(3, h=6, w=8)
    fmap[:, 0, :] = 0.0  # a dead row: never kept
    loc = extract(fmap, top=20, dim=16)
    assert loc.dtype == np.float16 and loc.shape == (20, 18)
    norms = np.linalg.norm(loc[:, 2:].astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-2)  # codes rounded to steps of 1/127
    assert (loc[:, 0] > 0).all() and (loc[:, 0] < 1).all()
    assert (loc[:, 1] >= 1.5 / 8 - 1e-3).all() and (loc[:, 1] < 6 / 8).all()  # y in long-side units
    assert extract(np.zeros((4, 3, 3), np.float32), top=5, dim=2).shape == (0, 4)


def test_projection_is_fixed_and_orthonormal() -> None:
    p = projection(64, 16)
    np.testing.assert_allclose(p.T @ p, np.eye(16), atol=1e-5)
    np.testing.assert_array_equal(p, projection(64, 16))
    with pytest.raises(ValueError):
        projection(8, 16)


def _match(pid: int, score: float, rank: int) -> Match:
    return Match(pid, Path(f"/p/{pid}.jpg"), score, rank)


def test_rerank_promotes_the_geometrically_consistent_candidate() -> None:
    source = _fmap(10)
    query = extract(source, top=128, dim=32)
    shifted = extract(np.ascontiguousarray(source[:, :, 4:]), top=128, dim=32)  # same scene
    strangers = {pid: extract(_fmap(20 + pid), top=128, dim=32) for pid in (1, 2)}
    matches = [_match(1, 0.9, 1), _match(2, 0.85, 2), _match(3, 0.8, 3), _match(4, 0.1, 4)]
    cands = {**strangers, 3: shifted}  # photo 4 has no locals: keeps its score
    out = rerank_matches(matches, query, cands, top=3)
    assert [m.photo_id for m in out] == [3, 1, 2]
    assert [m.rank for m in out] == [1, 2, 3]
    assert out[0].score > 0.8 and out[1].score == pytest.approx(0.9)
    unchanged = rerank_matches(matches, None, cands, top=4)  # query without locals
    assert [m.photo_id for m in unchanged] == [1, 2, 3, 4]


def test_rerank_only_touches_the_first_depth_matches() -> None:
    source = _fmap(11)
    query = extract(source, top=128, dim=32)
    same = extract(source, top=128, dim=32)
    matches = [_match(1, 0.9, 1), _match(2, 0.5, 2)]
    out = rerank_matches(matches, query, {2: same}, top=2, params=RerankParams(depth=1))
    assert [m.photo_id for m in out] == [1, 2]  # photo 2 lies beyond the depth


def test_boost_is_zero_up_to_the_baseline_and_saturates() -> None:
    p = RerankParams(weight=0.5, cap=10, baseline=6)
    assert boost(6, p) == 0.0
    assert boost(11, p) == pytest.approx(0.25)
    assert boost(16, p) == boost(500, p) == pytest.approx(0.5)
    np.testing.assert_allclose(rerank_scores([0.3, 0.2], None, [None, None], p), [0.3, 0.2])


def test_batched_scores_equal_one_candidate_at_a_time() -> None:
    from lookalike.search.rerank import boost, count_inliers, rerank_scores

    rng = np.random.default_rng(7)
    fmaps = [np.maximum(rng.standard_normal((32, 12, 16)) - 0.5, 0).astype(np.float32)
             for _ in range(4)]  # fmt: skip
    query = extract(fmaps[0], top=96, dim=16)
    cands = [extract(f, top=96, dim=16) for f in fmaps] + [None]
    cands[2] = extract(fmaps[0][:, 1:, 2:], top=96, dim=16)  # a crop of the query's scene
    cands.append(extract(fmaps[0][:, 2:, :12], top=64, dim=16))  # fewer cells: another block
    cands.append(extract(fmaps[0][:, :, :], top=96, dim=8))  # codes of another size: skipped
    got = rerank_scores([0.5] * len(cands), query, cands)
    want = [0.5 + (boost(count_inliers(query, c)) if c is not None else 0.0) for c in cands]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got[2] > 0.5 and got[4] == 0.5 and got[5] > 0.5 and got[6] == 0.5


def test_batched_mutual_matches_break_ties_like_argmax() -> None:
    from lookalike.search.rerank import boost, count_inliers, rerank_scores

    rng = np.random.default_rng(3)
    fmap = np.maximum(rng.standard_normal((32, 12, 16)) - 0.5, 0).astype(np.float32)
    query = extract(fmap, top=96, dim=16)
    twins = query.copy()
    twins[1::2, 2:] = twins[0::2, 2:]  # pairs of cells with the same code: tied cosines
    for cand in (query, twins):
        got = rerank_scores([0.0], twins, [cand])
        assert got[0] == pytest.approx(boost(count_inliers(twins, cand)), abs=1e-6)


def test_ransac_triples_are_distinct_and_cover_every_index() -> None:
    from lookalike.search.affine import random_triples as _triples

    picks = _triples(np.random.default_rng(0), 5, 4000)
    assert picks.shape == (4000, 3) and picks.min() == 0 and picks.max() == 4
    assert (np.sort(picks, axis=1)[:, 1:] != np.sort(picks, axis=1)[:, :-1]).all()
    counts = np.bincount(picks.ravel(), minlength=5)
    assert counts.min() > 0.9 * counts.mean()  # each index about equally often
    assert len({tuple(t) for t in picks}) == 60  # all 5·4·3 ordered triples occur


def test_first_argmax_is_numpys_argmax_along_the_first_axis() -> None:
    from lookalike.search.rerank import _first_argmax

    rng = np.random.default_rng(5)
    sims = [rng.standard_normal((40, 3, 17)).astype(np.float32),
            rng.integers(-3, 4, (64, 5, 9)).astype(np.float32),  # many ties: the first wins
            np.zeros((7, 2, 3), np.float32), rng.standard_normal((1, 4, 4)).astype(np.float32)]
    for sim in sims:
        assert np.array_equal(_first_argmax(sim), sim.argmax(axis=0))


def _naive_mutual(sim: np.ndarray, min_similarity: float) -> tuple[np.ndarray, np.ndarray]:
    """Mutual nearest neighbours of a (Kq, g, K) block, cell by cell (first index on ties)."""
    kq, g, _ = sim.shape
    mutual, fwd = np.zeros((kq, g), bool), np.zeros((kq, g), np.intp)
    for i in range(kq):
        for c in range(g):
            j = int(np.argmax(sim[i, c]))
            fwd[i, c] = j
            mutual[i, c] = int(np.argmax(sim[:, c, j])) == i and sim[i, c, j] > min_similarity
    return mutual, fwd


@pytest.mark.parametrize("ties", [False, True])
def test_mutual_block_is_the_cell_by_cell_definition(ties: bool) -> None:
    from lookalike.search.rerank import _mutual_block

    rng = np.random.default_rng(11)
    for _ in range(20):
        shape = tuple(rng.integers(1, 12, 3))
        sim = (rng.integers(-2, 3, shape) / 2 if ties else rng.standard_normal(shape))
        for floor in (-1.0, 0.0):
            got, want = _mutual_block(sim.astype(np.float32), floor), _naive_mutual(sim, floor)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
