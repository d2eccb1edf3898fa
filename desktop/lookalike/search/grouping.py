"""Nearest neighbours + a pair check → groups of copies and bursts, with the photo to keep.

Pure functions over plain data; :mod:`lookalike.library.duplicates` feeds them from the index
and the catalog and stores the edges.

1. :func:`candidate_pairs`: each photo's nearest neighbours (global cosine, from the index)
   give the pairs worth checking; only pairs at or above a cosine prefilter are kept (copies and
   bursts are near the top of the cosine scale, see :data:`PREFILTER`; down to
   :data:`CHANCE_COSINE` for the thumbnail screen of mirrored and turned copies).
2. :func:`check_pairs`: the pair check (:data:`lookalike.search.pair_check.PairCheck`) keeps
   the pairs it calls a copy or a burst: the edges. The library's default checks the stored
   local features and confirms each copy on the pixels
   (:func:`lookalike.search.pair_check.pixel_confirmed`), as a search's same-photo verdict
   does.
3. :func:`build_groups`: per kind, star linkage over the edges of each connected component: a
   photo joins a group only if it is linked to the group's representative or to more than half
   of its members, so one weak link cannot chain unrelated photos together; copy groups linked
   through two different photos on each side are then one (:func:`merge_copy_groups`).
4. Incremental: edges belong to pairs, so a new, changed or removed photo only replaces its own
   edges (:func:`replace_edges`), and only the components it touches are grouped again
   (:func:`groups_touching`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.search.pair_check import Kind, PairCheck, PairEvidence

PREFILTER = 0.75
"""Global cosine below which a pair is not checked. Measured with the default preset
(``benchmarks/duplicates_calibrate.py``): every copy the default check can verify has a cosine
of 0.81 or more (half size, quality 50, brighter, 60 % crops: 0.86-0.99; a 512 px quality-60
copy of a 1024 px photo: 0.81), unrelated photos 0.68 at the 99th percentile. 320 px copies at
quality 25 (0.63-0.71) are below it, and the stride-16 local features cannot verify them
anyway (7 inliers: chance). It is also the chance level of bench/dev's 46,143 unrelated pairs
at their 99th percentile (0.748, ``benchmarks/duplicates_chance.py``): in a library of 100k such
photos about 960 others reach it by chance, so there it bounds nothing and :data:`NEIGHBOURS`
bounds the pairs checked."""
CHANCE_COSINE = 0.50
"""Lowest global cosine of a candidate pair whose copy the cells cannot fit (mirrored, turned
and 320-px copies; copies bench: 27 % of copy pairs lie below :data:`PREFILTER`, 13 % below
0.65): such pairs go to the finder's thumbnail screen (``lookalike.library.copy_screening``)
or its file check (``DuplicateFinder.file_check``), never to the cells (every copy the cells
verify has 0.81 or more). Below every copy pair of the calibration copies bench (seed 1,
``benchmarks/verdict_calibrate.py``: copies min 0.55, turned p5 0.62; unrelated p95 0.52):
the screen costs microseconds a pair, so the floor is set by the copies, not by the cost.
Seed-0 copies bench with a file check that answers from the ground truth
(``benchmarks/duplicates_pairs.py --file-check oracle``): pair recall 0.856 from 12 neighbours
down to 0.62, 1.0 from 16 down to 0.50."""
FILE_CHECK_NEIGHBOURS = 16
"""Nearest neighbours asked per photo when the pairs the cells cannot fit are decided (the
screen or a file check): a copy group (the copies bench has nine copies of a photo plus three
other shots of its scene) must reach its turned copies, which rank below closer other shots;
12 neighbours lost 6 % of the copy pairs there (see :data:`CHANCE_COSINE`); from 8 at most
0.57 (exact neighbours)."""
PROJECTED_MARGIN = 0.10
"""How far below a cosine floor the index's estimated scores still make a candidate (its
vectors are projected to fewer dimensions, ``lookalike.store.projection``: on bench/dev pairs
at 0.65-0.85 the estimate is off by -0.03 on average, SD 0.035, so 0.10 is 2 SD past the
mean); the finder then keeps the pairs whose exact cosine, read from the catalog, reaches it."""
NEIGHBOURS = 8
"""Nearest neighbours asked per photo (a group larger than this is still found: its members
link through the representative)."""
SEARCH_EF = 12
"""Beam width of the nearest-neighbour queries (searches use the index's own, 32). A copy or a
burst is far closer to its photo than anything else is, and a narrow search loses neighbours
that are nearly tied at the edge of the k nearest, not those: on the synthetic library of
``benchmarks/duplicates_speed.py`` (5,100 photos, against exact neighbours) ef 12 misses 14 of
3,080 candidate pairs, all at cosine 0.79 or less (a copy the check can verify has 0.81 or
more, a burst 0.90). What a narrow search does lose now and then is a whole query, when the
graph leads it astray (100k photos: 3 of 2,000 planted copies, both photos' searches ending
at cosine 0.1): a photo that does not find itself is asked again at the index's ef
(``DuplicateFinder._knn``). CPU of the kNN pass at 100k: 144 s at ef 32, 92 s at ef 12, 88 s
at ef 9 (kept at 12: no real gain for more misses)."""

Pair = tuple[int, int]
"""(a, b) photo ids with a < b."""
Candidates = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]
"""(m,) smaller ids, (m,) larger ids, (m,) global cosines of candidate pairs."""
Edges = dict[Pair, PairEvidence]


@dataclass(frozen=True)
class Group:
    """Photos that are copies of one another, or takes of one burst.

    Attributes:
        kind: "copy" or "burst".
        representative: the photo the others were linked to (not the one to keep, see
            :func:`suggest_keep`).
        members: every photo id of the group, the representative first, then ascending.
    """

    kind: Kind
    representative: int
    members: tuple[int, ...]


def pair(a: int, b: int) -> Pair:
    """The pair key of two photo ids (smaller first)."""
    return (a, b) if a < b else (b, a)


def candidate_arrays(
    ids: npt.NDArray[np.int64],
    neighbours: npt.NDArray[np.int64],
    cosines: npt.NDArray[np.float32],
    prefilter: float = PREFILTER,
) -> Candidates:
    """The pairs worth checking, from a kNN result, as arrays.

    Args:
        ids: (n,) the query photos.
        neighbours: (n, k) their nearest photos (-1: none), as the index returns them.
        cosines: (n, k) cosine similarity of each neighbour.
        prefilter: pairs below this cosine are left out.

    Returns:
        (m,) smaller ids, (m,) larger ids and (m,) cosines (the larger of the two directions'
        when both found the pair): each unordered pair once, self-matches dropped, sorted by
        (a, b).
    """
    keep = (cosines >= prefilter) & (neighbours >= 0) & (neighbours != ids[:, None])
    rows, cols = np.nonzero(keep)
    one, two = ids[rows], neighbours[rows, cols]
    a, b = np.minimum(one, two), np.maximum(one, two)
    cos = cosines[rows, cols].astype(np.float32)
    order = np.lexsort((-cos, b, a))  # by pair, the largest cosine first
    a, b, cos = a[order], b[order], cos[order]
    first = np.ones(len(a), np.bool_)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], cos[first]


def pair_keys(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One int64 per pair (ids below 2**31), for set operations on pairs."""
    return np.asarray(a, np.int64) * (1 << 31) + np.asarray(b, np.int64)


def candidate_pairs(
    ids: npt.NDArray[np.int64],
    neighbours: npt.NDArray[np.int64],
    cosines: npt.NDArray[np.float32],
    prefilter: float = PREFILTER,
) -> dict[Pair, float]:
    """:func:`candidate_arrays` as pair → cosine."""
    a, b, cos = candidate_arrays(ids, neighbours, cosines, prefilter)
    return {(x, y): c for x, y, c in zip(a.tolist(), b.tolist(), cos.tolist(), strict=True)}


def check_pairs(pairs: Iterable[Pair], check: PairCheck) -> Edges:
    """Run the pair check on each pair; returns the ones it calls a copy or a burst."""
    edges: Edges = {}
    for a, b in pairs:
        found = check(a, b)
        if found.kind is not None:
            edges[(a, b)] = found
    return edges


def replace_edges(edges: Edges, photo_id: int, new: Mapping[Pair, PairEvidence]) -> Edges:
    """``edges`` without any edge of ``photo_id``, plus ``new`` (its edges now; empty when
    the photo was removed). Returns a new dict."""
    out = {p: e for p, e in edges.items() if photo_id not in p}
    out.update({p: e for p, e in new.items() if e.kind is not None})
    return out


def _adjacency(edges: Mapping[Pair, PairEvidence], kind: Kind) -> dict[int, dict[int, float]]:
    adj: dict[int, dict[int, float]] = {}
    for (a, b), e in edges.items():
        if e.kind == kind:
            adj.setdefault(a, {})[b] = e.strength()
            adj.setdefault(b, {})[a] = e.strength()
    return adj


def _components(adj: Mapping[int, Mapping[int, float]], seeds: Iterable[int]) -> list[list[int]]:
    """Connected components of the graph that contain ``seeds`` (each once, sorted)."""
    seen: set[int] = set()
    out = []
    for seed in sorted(set(seeds)):
        if seed in seen or seed not in adj:
            continue
        stack, comp = [seed], []
        seen.add(seed)
        while stack:
            node = stack.pop()
            comp.append(node)
            for nxt in adj[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        out.append(sorted(comp))
    return out


def star_linkage(nodes: Sequence[int], adj: Mapping[int, Mapping[int, float]]) -> list[list[int]]:
    """Split one component into groups that no weak link chains together.

    Photos are taken best-embedded first: the highest share of their partners linked among
    themselves (clustering coefficient: a bridge between two groups has a low one), then the
    most links, the stronger links, the smaller id. Each joins the existing group to whose
    representative it is linked or of whose members it links more than half (the one it links
    most of); otherwise it starts a group as its representative. Groups of one photo are
    dropped.

    Returns:
        Groups as lists of ids, representative first.
    """
    def clustering(n: int) -> float:
        partners = list(adj[n])
        if len(partners) < 2:
            return 0.0
        linked = sum(q in adj[p] for i, p in enumerate(partners) for q in partners[i + 1 :])
        return 2.0 * linked / (len(partners) * (len(partners) - 1))

    order = sorted(nodes, key=lambda n: (-clustering(n), -len(adj[n]), -sum(adj[n].values()), n))
    groups: list[list[int]] = []
    for node in order:
        links = adj[node]
        best, best_count = None, 0
        for group in groups:
            count = sum(m in links for m in group)
            if (group[0] in links or 2 * count > len(group)) and count > best_count:
                best, best_count = group, count
        if best is None:
            groups.append([node])
        else:
            best.append(node)
    return [g for g in groups if len(g) > 1]


def _one_photo_link(links: Sequence[Pair]) -> bool:
    """Whether every link passes through one photo (no two links without a common photo)."""
    return any(all(p in link for link in links) for p in links[0])


def merge_copy_groups(groups: list[list[int]], nodes: Sequence[int],
                      adj: Mapping[int, Mapping[int, float]]) -> list[list[int]]:  # fmt: skip
    """Join copy groups that are linked through two different photos on each side, and give
    the photos star linkage left alone a second chance.

    Star linkage splits a copy group whose copies the pair tests can only link through the
    source: crops (which the cells fit against the upright photo) and turned or mirrored
    copies (which the thumbnails screen as whole frames) both link to the original and its
    whole-frame copies, rarely to each other. Copies are one image, so two groups with two
    links that share no photo (a matching of two) are one group; one link, or several through
    a single photo, is the weak link star linkage is there to refuse. A photo star linkage
    left alone (it came before the group it belongs to had grown) then joins the group it has
    the most links to, if it links to two of its photos or to its representative.

    Args:
        groups: star linkage's groups (representative first).
        nodes: the component's photos.
        adj: the copy edges.

    Returns:
        The groups, joined; a joined group keeps the larger one's representative first.
    """
    out = [list(g) for g in groups]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                members = set(out[j])
                links = [(a, b) for a in out[i] for b in adj[a] if b in members]
                if len(links) >= 2 and not _one_photo_link(links):
                    first, second = sorted((out[i], out[j]), key=len, reverse=True)
                    out[i] = first + second
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    grouped = {p for g in out for p in g}
    for node in sorted(set(nodes) - grouped):
        counts = [sum(m in adj[node] for m in g) for g in out]
        best = max(range(len(out)), key=lambda k: counts[k], default=None)
        if best is not None and (counts[best] >= 2 or out[best][0] in adj[node]):
            out[best].append(node)
    return out


def groups_touching(edges: Mapping[Pair, PairEvidence], photos: Iterable[int],
                    kinds: Sequence[Kind] = ("copy", "burst")) -> list[Group]:  # fmt: skip
    """The groups of the connected components that hold any of ``photos``.

    After :func:`replace_edges` for one photo, these replace the groups that held it or its
    old partners; no other group can change.
    """
    wanted = list(photos)
    out = []
    for kind in kinds:
        adj = _adjacency(edges, kind)
        for comp in _components(adj, wanted):
            linked = star_linkage(comp, adj)
            for members in merge_copy_groups(linked, comp, adj) if kind == "copy" else linked:
                rest = tuple(sorted(members[1:]))
                out.append(Group(kind, members[0], (members[0], *rest)))
    return out


def build_groups(edges: Mapping[Pair, PairEvidence],
                 kinds: Sequence[Kind] = ("copy", "burst")) -> list[Group]:  # fmt: skip
    """Every group of the library, from all its edges (O(edges))."""
    every = {p for pair_ in edges for p in pair_}
    return groups_touching(edges, every, kinds)
