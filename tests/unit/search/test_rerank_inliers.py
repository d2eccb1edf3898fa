"""``inlier_pairs``: where the verified matches of spatial re-ranking lie in both photos."""

from __future__ import annotations

import numpy as np

from lookalike.embed.local import extract
from lookalike.search.rerank import DEFAULT_PARAMS, count_inliers, inlier_pairs

DIM = 32
TRUTH = np.array([[0.9, 0.15], [-0.1, 0.85], [0.05, 0.02]])
"""(3, 2) affine map ``[x y 1] @ TRUTH`` from the query onto the candidate (mild zoom, turn)."""


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = rng.standard_normal((n, DIM))
    return codes / np.linalg.norm(codes, axis=1, keepdims=True)


def _locals(xy: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, codes], axis=1).astype(np.float16)


def _apply(xy: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, np.ones((len(xy), 1))], axis=1) @ TRUTH


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query and candidate locals, and the query positions of the true correspondences.

    The query has 40 features that the candidate shows at affinely moved positions (their codes
    slightly noisy, the noise growing with the index), 12 "decoys" whose codes the candidate
    repeats at wrong places (mutual matches RANSAC must reject), and 10 features of its own;
    the candidate has 15 unrelated features as well.
    """
    rng = np.random.default_rng(seed)
    true_xy = rng.uniform(0.1, 0.9, (40, 2)) * [1.0, 0.75]  # landscape: y < h/w
    true_codes = _codes(rng, 40)
    noisy = true_codes + np.linspace(0.0, 0.3, 40)[:, None] * _codes(rng, 40)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    decoy_xy = rng.uniform(0.1, 0.9, (12, 2)) * [1.0, 0.75]
    decoy_codes = _codes(rng, 12)
    turn = rng.uniform(0, 2 * np.pi, 12)
    decoy_dst = _apply(decoy_xy) + 0.3 * np.stack([np.cos(turn), np.sin(turn)], axis=1)
    query = np.concatenate(
        [
            _locals(true_xy, true_codes),
            _locals(decoy_xy, decoy_codes),
            _locals(rng.uniform(0, 0.75, (10, 2)), _codes(rng, 10)),
        ]
    )
    candidate = np.concatenate(
        [
            _locals(rng.uniform(0, 0.75, (15, 2)), _codes(rng, 15)),
            _locals(_apply(true_xy), noisy),
            _locals(decoy_dst, decoy_codes),
        ]
    )
    return query, candidate, query[:40, :2].astype(np.float32)


def test_inlier_pairs_are_the_true_correspondences() -> None:
    query, candidate, true_xy = _scene()
    q_xy, c_xy = inlier_pairs(query, candidate)
    assert q_xy.dtype == c_xy.dtype == np.float32
    assert q_xy.shape == c_xy.shape == (40, 2)
    assert len(q_xy) == count_inliers(query, candidate)
    assert sorted(map(tuple, q_xy.tolist())) == sorted(map(tuple, true_xy.tolist()))
    np.testing.assert_allclose(c_xy, _apply(q_xy), atol=2e-3)  # float16 positions


def test_inlier_pairs_come_best_code_agreement_first() -> None:
    query, candidate, _ = _scene(seed=1)
    q_xy, c_xy = inlier_pairs(query, candidate)
    q, c = query.astype(np.float32), candidate.astype(np.float32)
    rows_q = [int(np.flatnonzero((q[:, :2] == xy).all(axis=1))[0]) for xy in q_xy]
    rows_c = [int(np.flatnonzero((c[:, :2] == xy).all(axis=1))[0]) for xy in c_xy]
    similarity = np.einsum("ij,ij->i", q[rows_q, 2:], c[rows_c, 2:])
    assert (np.diff(similarity) <= 0).all()
    # the candidate's codes get noisier with the index of the true feature: the order follows it
    assert max(rows_q[:5]) < 10 and min(rows_q[-5:]) >= 25


def test_inlier_pairs_agree_with_count_inliers_on_real_feature_maps() -> None:
    rng = np.random.default_rng(3)
    source = np.maximum(rng.standard_normal((48, 24, 32)) - 0.5, 0).astype(np.float32)
    crop = np.ascontiguousarray(source[:, 2:22, 5:29])
    other = np.maximum(rng.standard_normal((48, 24, 32)) - 0.5, 0).astype(np.float32)
    query = extract(source, dim=DIM)
    for cand in (extract(crop, dim=DIM), extract(other, dim=DIM)):
        q_xy, c_xy = inlier_pairs(query, cand)
        assert len(q_xy) == len(c_xy) == count_inliers(query, cand, DEFAULT_PARAMS)
    assert len(inlier_pairs(query, extract(crop, dim=DIM))[0]) >= 20


def test_inlier_pairs_without_matches_are_empty() -> None:
    query, candidate, _ = _scene()
    for q, c in ((query[:0], candidate), (query, candidate[:2]), (query, candidate[:, :10])):
        q_xy, c_xy = inlier_pairs(q, c)
        assert q_xy.shape == c_xy.shape == (0, 2)
