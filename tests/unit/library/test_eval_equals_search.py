"""``lookalike eval`` ranks a bench exactly as ``Library.search`` ranks the same photos: both run
``search.pipeline.search``, on the library's hnswlib index and catalog or on the bench's vectors
held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import write_library, write_photo
from tests.unit.library.test_library_rerank import LocalFake, _mark_red

from lookalike.cli import eval_cmd
from lookalike.errors import KnownError
from lookalike.library import Library, SearchOptions
from lookalike.search.rerank import RerankParams
from lookalike.types import Embedding

OPTIONS = {
    "default": SearchOptions(),
    "plain": SearchOptions(dba=0, rerank=False),
    "dba1+rerank": SearchOptions(dba=1, dba_depth=5, rerank_params=RerankParams(depth=6)),
    "qe2+dba": SearchOptions(qe=2, rerank=False),
    "strong-rerank": SearchOptions(dba=0, rerank_params=RerankParams(weight=2.0)),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, list[Path]]]:
    tmp = tmp_path_factory.mktemp("eval_equals_search")
    photos = tmp / "photos"
    paths = write_library(photos, 14)
    for i in (3, 9, 12):  # three photos of one "place" (shared local features)
        _mark_red(paths[i])
        paths[i] = paths[i].with_suffix(".png")
    paths.append(write_photo(photos / "near.jpg", 5, crop=(0.05, 0.05, 0.95, 0.95), scale=0.8))
    library = Library.open(tmp / "home", LocalFake())
    library.add_root(photos)
    list(library.sync())
    yield library, [p.resolve() for p in paths]
    library.close()


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_eval_ranks_every_query_as_the_library_does(
    indexed: tuple[Library, list[Path]], name: str
) -> None:
    library, paths = indexed
    options = replace(OPTIONS[name], top=len(paths))
    rows = assert_eval_ranks_as_library(library, paths, options)
    assert rows == len(paths) * (len(paths) - 1)  # every photo ranked for every query


def assert_eval_ranks_as_library(library: Library, paths: list[Path], options: SearchOptions,
                                 projected_dim: int | None = None) -> int:  # fmt: skip
    """Rank ``paths`` with eval's own path (a bench store of their embeddings, the query
    pixels as the CLI passes them) and with ``library.search_photo``; assert the same paths
    and scores for every query (with ``projected_dim``, both stores project to it). Returns how
    many results were compared."""
    embedder = LocalFake()
    embeddings: list[Embedding | None] = [emb if isinstance(emb, Embedding) else None
                                          for _, emb in embedder.embed_files(paths)]  # fmt: skip
    vectors = np.stack([e.vector for e in embeddings if e is not None])
    store = eval_cmd.bench_store(vectors, embeddings, paths=paths)
    index = library._writer.index
    assert (store.projection is None) == (index.projection is None)  # the same two-stage path
    if projected_dim is not None:
        assert store.projection is not None and store.projection.dim == projected_dim
        assert index.index_dim == projected_dim
    queries = [[e] if e else [] for e in embeddings]
    # the query pixels as the CLI passes them: the same-photo verdict (pixel test) also orders
    ranked = eval_cmd.bench_rankings(store, queries, options,
                                     eval_cmd.query_images(paths, queries, embedder))
    rows = 0
    for i, path in enumerate(paths):
        photo_id = library.photo_id(path)
        assert photo_id is not None
        by_library = library.search_photo(photo_id, options).matches
        assert [m.path for m in ranked[i]] == [m.path for m in by_library], path.name
        assert [m.score for m in ranked[i]] == pytest.approx([m.score for m in by_library],
                                                             abs=1e-5)  # fmt: skip
        rows += len(by_library)
    return rows


def test_rerank_changes_the_order_so_the_comparison_can_fail(
    indexed: tuple[Library, list[Path]],
) -> None:
    library, paths = indexed
    photo_id = library.photo_id(paths[3])
    assert photo_id is not None
    plain = library.search_photo(photo_id, OPTIONS["plain"]).matches
    verified = library.search_photo(photo_id, OPTIONS["strong-rerank"]).matches
    assert [m.path for m in plain] != [m.path for m in verified]
    assert {m.path for m in verified[:2]} == {paths[9], paths[12]}  # the same "place"


def test_whitening_too_few_pairs_is_a_clear_error(indexed: tuple[Library, list[Path]]) -> None:
    _, paths = indexed
    embeddings: list[Embedding | None] = [e for _, e in LocalFake().embed_files(paths)]  # type: ignore[misc]
    vectors = np.stack([e.vector for e in embeddings if e is not None])
    with pytest.raises(KnownError, match="too small"):
        eval_cmd.bench_store(vectors, embeddings, whiten=True)
