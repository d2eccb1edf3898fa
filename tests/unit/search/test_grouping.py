"""Duplicate grouping: candidate pairs, star linkage (no chaining), incremental edges, keep rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.search import grouping
from lookalike.search.grouping import Edges, Group, build_groups, groups_touching, replace_edges
from lookalike.search.keep_choice import PhotoFacts, choose_keep, explain_group
from lookalike.search.pair_check import PairEvidence, check_locals


def copy(cos: float = 0.97) -> PairEvidence:
    return PairEvidence("copy", cos, 100, 0.9, 1.0, 1.0)


def burst(cos: float = 0.95) -> PairEvidence:
    return PairEvidence("burst", cos, 60, 0.5, 0.8, 0.8)


def test_candidate_pairs_are_unique_above_the_prefilter_and_never_self() -> None:
    ids = np.asarray([1, 2, 3], np.int64)
    nbrs = np.asarray([[1, 2, 3], [2, 1, -1], [3, 1, 2]], np.int64)
    cos = np.asarray([[1.0, 0.95, 0.5], [1.0, 0.95, 0.0], [1.0, 0.5, 0.81]], np.float32)
    pairs = grouping.candidate_pairs(ids, nbrs, cos, prefilter=0.8)
    assert pairs == {(1, 2): pytest.approx(0.95), (2, 3): pytest.approx(0.81)}


def test_a_chain_of_weak_links_does_not_merge_unrelated_photos() -> None:
    # 1-2-3-4-5-6: each links only to its neighbours; 1 and 6 must not end up together
    edges: Edges = {(i, i + 1): copy() for i in range(1, 6)}
    groups = build_groups(edges)
    assert all(not ({1, 6} <= set(g.members)) for g in groups)
    assert all(len(g.members) <= 3 for g in groups)


def test_a_clique_with_one_bridge_stays_two_groups() -> None:
    # two tight groups {1,2,3} and {4,5,6} joined by one edge 3-4
    edges: Edges = {}
    for a, b in [(1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6), (3, 4)]:
        edges[(a, b)] = copy()
    groups = sorted(build_groups(edges), key=lambda g: g.members)
    assert [set(g.members) for g in groups] == [{1, 2, 3}, {4, 5, 6}]


def test_star_joins_through_the_representative() -> None:
    edges: Edges = {(1, k): copy() for k in (2, 3, 4, 5)}
    assert build_groups(edges) == [Group("copy", 1, (1, 2, 3, 4, 5))]


def test_kinds_are_grouped_apart() -> None:
    edges: Edges = {(1, 2): copy(), (2, 3): burst(), (3, 4): burst(), (2, 4): burst()}
    groups = build_groups(edges)
    assert {(g.kind, frozenset(g.members)) for g in groups} == {
        ("copy", frozenset({1, 2})), ("burst", frozenset({2, 3, 4}))}
    assert [g.kind for g in build_groups(edges, ("burst",))] == ["burst"]


def test_incremental_add_and_remove_touch_only_their_component() -> None:
    edges: Edges = {(1, 2): copy(), (10, 11): copy()}
    # photo 3 arrives as a copy of 1
    edges = replace_edges(edges, 3, {(1, 3): copy(), (3, 10): PairEvidence(None, 0.5)})
    touched = groups_touching(edges, [3])
    assert touched == [Group("copy", 1, (1, 2, 3))]
    assert sorted(map(set, (g.members for g in build_groups(edges))), key=min) == [
        {1, 2, 3}, {10, 11}]
    # photo 1 (the hub) is removed: 2 and 3 were linked only through it
    edges = replace_edges(edges, 1, {})
    assert groups_touching(edges, [2, 3]) == []
    assert build_groups(edges) == [Group("copy", 10, (10, 11))]


def facts(id_: int, w: int, h: int, size: int, exif: bool = False, mtime: int = 0,
          fmt: str = "JPEG") -> PhotoFacts:  # fmt: skip
    return PhotoFacts(id_, Path(f"/p/{id_}.jpg"), size, w, h, fmt, exif, mtime)


def test_keep_rule_order_and_reasons() -> None:
    big = facts(1, 4000, 3000, 3_000_000)
    small = facts(2, 1000, 750, 400_000)
    assert choose_keep([small, big]) == (big, "largest (4000×3000)")
    crushed = facts(3, 4000, 3000, 900_000)
    assert choose_keep([crushed, big]) == (big, "least compressed")
    with_exif = facts(4, 4000, 3000, 3_000_000, exif=True, mtime=5)
    assert choose_keep([big, with_exif]) == (with_exif, "has the camera's original EXIF")
    older = facts(5, 4000, 3000, 3_000_000, mtime=-1)
    assert choose_keep([big, older]) == (older, "oldest file")


def test_differences_in_words() -> None:
    keep = facts(1, 4000, 3000, 3_000_000, exif=True)
    crop = facts(2, 2400, 1800, 500_000)
    turned = facts(3, 3000, 4000, 3_000_000, exif=True)
    edges: Edges = {
        (1, 2): PairEvidence("copy", 0.95, 80, 0.8, 0.36, 1.0),  # 2 covers a part of 1
        (1, 3): PairEvidence("copy", 0.9, 80, 0.8, 1.0, 1.0, turns=1),
    }
    kept, _, diffs = explain_group([crop, keep, turned], edges)
    assert kept is keep
    assert diffs[2] == ["smaller", "cropped", "recompressed", "no camera EXIF"]
    assert diffs[3] == ["rotated"]


def _grid(offset: float = 0.0, n: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.linspace(0.04, 0.96, n), np.linspace(0.04, 0.71, n))
    codes = rng.normal(size=(n * n, 16))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    xy = np.stack([xs.ravel() + offset, ys.ravel()], axis=1)
    return np.concatenate([xy, codes], axis=1).astype(np.float16)


def test_default_check_calls_an_exact_copy_a_copy_and_unrelated_nothing() -> None:
    a = _grid()
    assert check_locals(a, a.copy(), 0.99).kind == "copy"
    assert check_locals(a, _grid(seed=1), 0.5).kind is None
    assert check_locals(a, None, 0.99).kind is None
    # the right half of a, stretched to a full frame: a crop
    half = a[a[:, 0].astype(np.float32) > 0.5].copy()
    half[:, 0] = (half[:, 0].astype(np.float32) - 0.5) * 2
    half[:, 1] = half[:, 1].astype(np.float32) * 2
    found = check_locals(a, half, 0.9)
    assert found.kind == "copy" and found.coverage_a < 0.6 < found.coverage_b


def test_copies_linked_only_through_the_original_are_one_group() -> None:
    # 1 the original, 2 its recoloured copy; 3-5 turned/mirrored copies (the screen links them
    # to 1, 2 and each other); 6-8 crops (the cells link them to 1, 2 and each other): star
    # linkage alone splits the two cliques, whose links go through two photos on each side
    edges: Edges = {(1, 2): copy()}
    for clique in ((3, 4, 5), (6, 7, 8)):
        for i, a in enumerate(clique):
            edges[(1, a)], edges[(2, a)] = copy(), copy()
            edges.update({(a, b): copy() for b in clique[i + 1 :]})
    assert [set(g.members) for g in build_groups(edges)] == [set(range(1, 9))]


def test_a_photo_left_alone_joins_the_group_it_links_twice() -> None:
    # 1-4 a clique; 5 links 2 and 3 (not the representative, not more than half)
    edges: Edges = {(a, b): copy() for a in range(1, 5) for b in range(a + 1, 5)}
    edges[(2, 5)], edges[(3, 5)] = copy(), copy()
    assert [set(g.members) for g in build_groups(edges)] == [{1, 2, 3, 4, 5}]
    # bursts are not joined so: a take linked to two takes of a longer burst is not pulled in
    bursts = {k: burst() for k in edges}
    assert all(5 not in g.members or len(g.members) <= 3 for g in build_groups(bursts))
