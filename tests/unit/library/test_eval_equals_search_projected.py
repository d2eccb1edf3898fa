"""The same comparison as ``test_eval_equals_search``, with the library's index and the bench's
store both projecting (the fake model's 256 dimensions to 64): eval and the library still rank
every query alike, through the same shortlist-and-rescore step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.fakes import write_library
from tests.unit.library.test_eval_equals_search import assert_eval_ranks_as_library
from tests.unit.library.test_library_rerank import LocalFake

from lookalike.library import Library, SearchOptions
from lookalike.store import projection


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
    assert assert_eval_ranks_as_library(library, paths, options, projected_dim=64) > 0
