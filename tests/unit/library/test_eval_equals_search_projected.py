"""The same comparison as ``test_eval_equals_search``, with the library's index and the bench's
store both projecting (the fake model's 256 dimensions to 64): eval and the library still rank
every query alike, through the same shortlist-and-rescore step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import write_library
from tests.unit.library.test_library_rerank import LocalFake

from lookalike.cli import eval_cmd
from lookalike.library import Library, SearchOptions
from lookalike.store import projection
from lookalike.types import Embedding


@pytest.fixture(scope="module")
def projected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, list[Path]]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(projection, "INDEX_DIM", 64)
        tmp = tmp_path_factory.mktemp("eval_equals_search_projected")
        paths = write_library(tmp / "photos", 12)
        library = Library.open(tmp / "home", LocalFake())
        library.add_root(tmp / "photos")
        list(library.sync())
        yield library, [p.resolve() for p in paths]
        library.close()


@pytest.mark.parametrize("options", [SearchOptions(), SearchOptions(dba=0, rerank=False)])
def test_eval_ranks_as_the_projected_library(projected: tuple[Library, list[Path]],
                                             options: SearchOptions) -> None:  # fmt: skip
    library, paths = projected
    assert library._writer.index.index_dim == 64  # the index holds projected vectors
    options = replace(options, top=len(paths))
    embeddings: list[Embedding | None] = [e if isinstance(e, Embedding) else None
                                          for _, e in LocalFake().embed_files(paths)]  # fmt: skip
    vectors = np.stack([e.vector for e in embeddings if e is not None])
    store = eval_cmd.bench_store(vectors, embeddings, paths=paths)
    assert store.projection is not None and store.projection.dim == 64
    queries = [[e] if e else [] for e in embeddings]
    # the query pixels as the CLI passes them: the same-photo verdict also orders the results
    ranked = eval_cmd.bench_rankings(store, queries, options,
                                     eval_cmd.query_images(paths, queries, LocalFake()))
    for i, path in enumerate(paths):
        photo_id = library.photo_id(path)
        assert photo_id is not None
        by_library = library.search_photo(photo_id, options).matches
        assert [m.path for m in ranked[i]] == [m.path for m in by_library], path.name
        assert [m.score for m in ranked[i]] == pytest.approx([m.score for m in by_library],
                                                             abs=1e-5)  # fmt: skip
