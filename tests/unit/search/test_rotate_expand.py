"""Query turns and their merge; alpha query expansion and database-side augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookalike.decode.query import turns
from lookalike.search.expand import alpha_dba, alpha_expand, dba_shortlist
from lookalike.search.rotate import merge_max
from lookalike.search.similar import Match


def test_turns_are_the_upright_image_then_quarter_turns_and_mirrors() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    four = turns(rgb)
    assert len(four) == 4 and four[0] is rgb
    assert [t.shape for t in four] == [(2, 3, 3), (3, 2, 3), (2, 3, 3), (3, 2, 3)]
    np.testing.assert_array_equal(four[2], rgb[::-1, ::-1])
    eight = turns(rgb, mirror=True)
    assert len(eight) == 8 and all(t.flags.c_contiguous for t in eight)
    np.testing.assert_array_equal(eight[4], rgb[:, ::-1])


def test_merge_max_keeps_each_photos_best_score() -> None:
    def m(pid: int, score: float, rank: int) -> Match:
        return Match(pid, Path(f"/{pid}"), score, rank)

    upright = [m(1, 0.9, 1), m(2, 0.5, 2)]
    turned = [m(3, 0.95, 1), m(2, 0.7, 2), m(1, 0.2, 3)]
    out = merge_max([upright, turned], top=2)
    assert [(x.photo_id, x.score, x.rank) for x in out] == [(3, 0.95, 1), (1, 0.9, 2)]


def _units(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_alpha_expand_adds_the_k_nearest_weighted_by_similarity() -> None:
    db = _units(20, 32, 0)
    q = db[:1] + 0.8 * db[1:2]
    q /= np.linalg.norm(q)
    out = alpha_expand(q, db, k=2, alpha=1.0)
    sim = (q @ db.T)[0]
    nn = np.argsort(-sim)[:2]
    assert set(nn.tolist()) == {0, 1}
    expected = q[0] + sim[nn] @ db[nn]
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), atol=1e-5)
    np.testing.assert_array_equal(alpha_expand(q, db, k=0, alpha=3.0), q)


def test_dba_never_counts_a_vector_as_its_own_neighbour() -> None:
    db = _units(5, 4, 1)
    np.testing.assert_allclose(alpha_dba(db, k=0, alpha=3.0), db)
    one = alpha_dba(db, k=1, alpha=0.0)  # alpha 0: plain sum with the nearest other vector
    sim = db @ db.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    expected = db + db[nearest]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(one, expected, atol=1e-5)


def _exact(database: np.ndarray):  # type: ignore[no-untyped-def]
    def neighbours(vs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = vs @ database.T
        nn = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return nn.astype(np.int64), np.take_along_axis(sims, nn, axis=1)

    return neighbours


def test_dba_shortlist_scores_equal_whole_database_dba_rows() -> None:
    db = _units(40, 8, seed=3)
    q = _units(1, 8, seed=4)[0]
    ids = np.array([5, 0, 17, 39], np.int64)
    scores = dba_shortlist(q, ids, db[ids], _exact(db), lambda x: db[x], k=3, alpha=3.0)
    expected = alpha_dba(db, k=3, alpha=3.0)[ids] @ q
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    plain = dba_shortlist(q, ids, db[ids], _exact(db), lambda x: db[x], k=0, alpha=3.0)
    np.testing.assert_allclose(plain, db[ids] @ q, atol=1e-6)


def test_dba_shortlist_lifts_a_photo_whose_neighbour_matches_the_query() -> None:
    # b looks unlike the query but is the nearest photo of c, which is the query's twin:
    # averaging b with c raises b above the unrelated a.
    q = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    c = np.array([0.95, 0.312, 0.0, 0.0], np.float32)
    b = np.array([0.3, 0.954, 0.0, 0.0], np.float32)
    a = np.array([0.35, 0.0, 0.937, 0.0], np.float32)
    db = np.stack([a, b, c]) / np.linalg.norm(np.stack([a, b, c]), axis=1, keepdims=True)
    ids = np.array([0, 1], np.int64)
    before = db[ids] @ q
    after = dba_shortlist(q, ids, db[ids], _exact(db), lambda x: db[x], k=1, alpha=1.0)
    assert before[0] > before[1] and after[1] > after[0]


def test_dba_shortlist_fetches_only_neighbours_outside_the_shortlist() -> None:
    db = _units(60, 8, seed=5)
    q = _units(1, 8, seed=6)[0]
    twin = int(_exact(db)(db[7:8], 2)[0][0, 1])  # the nearest other photo of photo 7
    ids = np.array([7, 3, 50, twin, 44, 12], np.int64)
    assert len(set(ids.tolist())) == len(ids)
    asked: list[int] = []

    def fetch(x: np.ndarray) -> np.ndarray:
        asked.extend(x.tolist())
        return db[x]

    scores = dba_shortlist(q, ids, db[ids], _exact(db), fetch, k=4, alpha=3.0)
    np.testing.assert_allclose(scores, alpha_dba(db, k=4, alpha=3.0)[ids] @ q, atol=1e-5)
    nn = _exact(db)(db[ids], 5)[0]
    chosen = {int(j) for row, own in zip(nn, ids, strict=True) for j in row if j != own}
    assert set(asked) == chosen - set(ids.tolist())
    assert chosen & set(ids.tolist())  # a shortlisted photo is another's neighbour here


def test_merge_keeps_a_copy_found_by_any_variant_and_ranks_copies_first() -> None:
    from dataclasses import replace as _replace

    a = Match(1, Path("a.jpg"), 0.9, 1, verdict="same_place")
    b = Match(2, Path("b.jpg"), 0.5, 2)
    turned = [_replace(b, score=0.4, verdict="same_photo"), _replace(a, score=0.95)]
    merged = merge_max([[a, b], turned], top=5)
    assert [(m.photo_id, m.verdict, m.score) for m in merged] == [
        (2, "same_photo", 0.5), (1, "same_place", 0.95)]
    assert [m.rank for m in merged] == [1, 2]
