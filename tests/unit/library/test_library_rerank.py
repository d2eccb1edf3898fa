"""Library search with spatial re-ranking and rotated queries (model-free: fake embedders)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike.embed.local import extract
from lookalike.library import Library
from lookalike.search.pipeline import SearchOptions
from lookalike.search.rerank import RerankParams
from lookalike.types import Embedding


def _fmap(seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return np.maximum(rng.standard_normal((32, 12, 16)) - 0.5, 0).astype(np.float32)


class LocalFake(FakeEmbedder):
    """FakeEmbedder plus local features: photos whose top-left pixel is pure red share one
    synthetic scene's locals (the same place), every other photo gets its own."""

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        base = super().embed_rgb(rgb)
        seed = 1 if tuple(rgb[0, 0]) == (255, 0, 0) else 1000 + int(rgb.sum()) % 997
        return Embedding(base.vector, base.peaks, extract(_fmap(seed), top=96, dim=16))


def _mark_red(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB")).copy()
    pixels[:16, :16] = (255, 0, 0)
    Image.fromarray(pixels).save(path.with_suffix(".png"))
    path.unlink()


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Library, list[Path]]]:
    photos = tmp_path / "photos"
    paths = write_library(photos, 8)
    _mark_red(paths[5])
    paths[5] = paths[5].with_suffix(".png")
    lib = Library.open(tmp_path / "home", LocalFake())
    lib.add_root(photos)
    list(lib.sync())
    yield lib, paths
    lib.close()


def test_locals_are_stored_and_reranking_promotes_the_verified_photo(
    library: tuple[Library, list[Path]], tmp_path: Path
) -> None:
    lib, paths = library
    query = write_photo(tmp_path / "q.jpg", 3)  # globally: photo 3 is the nearest
    _mark_red(query)
    query = query.with_suffix(".png")
    assert SearchOptions().rerank  # on by default: verification runs whenever locals exist
    plain = lib.search(query, SearchOptions(top=3, rerank=False))
    assert plain.matches[0].path == paths[3]
    strong = SearchOptions(top=3, rerank_params=RerankParams(weight=2.0))  # outweighs colour
    verified = lib.search(query, strong)
    assert verified.matches[0].path == paths[5]  # same "place" by its local features
    assert verified.query.locals is not None
    stored = lib.embedding(verified.matches[0].photo_id)
    assert stored is not None and stored.locals is not None and stored.locals.shape[1] == 18
    by_photo = lib.search_photo(verified.matches[0].photo_id, SearchOptions(top=2))
    assert all(m.path != paths[5] for m in by_photo.matches)


def test_rotated_query_finds_a_sideways_photo(library: tuple[Library, list[Path]]) -> None:
    lib, paths = library
    from PIL import Image

    with Image.open(paths[2]) as im:
        sideways = np.ascontiguousarray(np.rot90(np.asarray(im.convert("RGB"))))
    found = lib.search(sideways, SearchOptions(top=8, rotate=True))
    assert found.matches[0].path == paths[2]
    assert [m.rank for m in found.matches] == list(range(1, len(found.matches) + 1))
    assert len({m.photo_id for m in found.matches}) == len(found.matches)
    upright = lib.search(paths[2], SearchOptions(top=3, rotate=True))  # stored vector + turns
    assert all(m.path != paths[2] for m in upright.matches)


def test_dba_rescores_the_shortlist_with_each_photos_neighbours(tmp_path: Path) -> None:
    from lookalike.search.expand import dba_shortlist

    photos = tmp_path / "photos"
    paths = write_library(photos, 12)
    plain = Library.open(tmp_path / "home", FakeEmbedder())
    plain.add_root(photos)
    list(plain.sync())
    plain.close()
    lib = Library.open(tmp_path / "home", FakeEmbedder())
    try:
        found = lib.search(paths[3], SearchOptions(top=11, dba=2)).matches
        assert len(found) == 11
        ids = np.asarray([m.photo_id for m in found], np.int64)
        table = {pid: vec for pid, vec in _stored_vectors(lib).items()}
        query_id = (set(table) - set(ids.tolist())).pop()  # the query photo is never a match
        db_ids = np.asarray(sorted(table), np.int64)
        db = np.stack([table[int(i)] for i in db_ids])

        def neighbours(vs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            sims = vs @ db.T
            nn = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            return db_ids[nn], np.take_along_axis(sims, nn, axis=1)

        def fetch(x: np.ndarray) -> np.ndarray:
            return np.stack([table[int(i)] for i in x])

        expected = dba_shortlist(table[query_id], ids, fetch(ids), neighbours, fetch, 2, 3.0)
        assert [m.score for m in found] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
        assert [m.rank for m in found] == list(range(1, len(found) + 1))
        assert all(np.isfinite(m.score) for m in found)
    finally:
        lib.close()


def _stored_vectors(lib: Library) -> dict[int, np.ndarray]:
    out = {}
    for pid in range(1, 100):
        emb = lib.embedding(pid)
        if emb is not None:
            out[pid] = emb.vector
    return out


def test_query_expansion_searches_with_the_query_plus_its_nearest_photos(tmp_path: Path) -> None:
    from lookalike.types import l2n

    photos = tmp_path / "photos"
    paths = write_library(photos, 10)
    with Library.open(tmp_path / "home", FakeEmbedder()) as lib:
        lib.add_root(photos)
        list(lib.sync())
        options = SearchOptions(top=9, dba=0, rerank=False)
        plain = lib.search(paths[2], options).matches
        expanded = lib.search(paths[2], replace(options, qe=1)).matches
        stored = _stored_vectors(lib)
        query = next(pid for pid in stored if pid not in {m.photo_id for m in plain})
        nearest = plain[0].photo_id
        weight = max(float(stored[query] @ stored[nearest]), 0.0) ** options.alpha
        q = l2n(stored[query] + weight * stored[nearest])
        assert [m.score for m in expanded] == pytest.approx(
            sorted((float(stored[m.photo_id] @ q) for m in expanded), reverse=True), abs=1e-5)
        assert {m.photo_id for m in expanded} == {m.photo_id for m in plain}


def test_explain_gives_regions_points_and_whether_it_is_a_match(
    library: tuple[Library, list[Path]], tmp_path: Path
) -> None:
    from lookalike.errors import KnownError
    from lookalike.search.rerank import CHANCE_INLIERS

    lib, paths = library
    query = write_photo(tmp_path / "q.jpg", 3)
    _mark_red(query)
    embedding = lib.query_embedding(query.with_suffix(".png"))
    same_place, other = lib.photo_id(paths[5]), lib.photo_id(paths[1])
    assert same_place is not None and other is not None
    match = lib.explain(embedding, same_place)
    assert match.path == paths[5] and match.photo_id == same_place
    assert match.is_match and match.inliers > CHANCE_INLIERS
    assert match.query_points is not None and match.result_points is not None
    assert len(match.query_points) == len(match.result_points) == match.inliers
    assert [r.number for r in match.regions] == list(range(1, len(match.regions) + 1))
    unrelated = lib.explain(embedding, other)
    assert not unrelated.is_match and unrelated.inliers <= CHANCE_INLIERS
    with pytest.raises(KnownError, match="not indexed"):
        lib.explain(embedding, 10_000)
