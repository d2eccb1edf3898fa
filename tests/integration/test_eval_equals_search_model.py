"""With the real model: ``lookalike eval``'s path ranks a set of photos exactly as a library
indexed from them does (the same embeddings, the same pipeline, every query)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.integration.test_rerank_model import _scene

from lookalike import paths
from lookalike.cli import eval_cmd
from lookalike.embed.model import Embedder
from lookalike.library import Library, SearchOptions
from lookalike.types import Embedding

pytestmark = pytest.mark.integration


def test_eval_path_and_library_rank_every_query_alike(tmp_path: Path) -> None:
    embedder = Embedder(paths.models_dir() / "rmac_lite0.onnx", scales=(512,), threads=1,
                        local_features=True)  # fmt: skip
    root = tmp_path / "Pictures"
    root.mkdir()
    files = []
    for seed in range(5):
        scene = _scene(seed)
        for view, (y, x) in enumerate(((0, 0), (60, 80))):  # two views of each scene
            files.append(root / f"scene{seed}_{view}.png")
            Image.fromarray(np.ascontiguousarray(scene[y : y + 400, x : x + 540])).save(files[-1])
    with Library.open(tmp_path / "home", embedder) as library:
        library.add_root(root)
        assert list(library.sync())[-1].phase == "done"
        embeddings: list[Embedding | None] = [e if isinstance(e, Embedding) else None
                                              for _, e in embedder.embed_files(files)]  # fmt: skip
        vectors = np.stack([e.vector for e in embeddings if e is not None])
        store = eval_cmd.bench_store(vectors, embeddings, paths=[f.resolve() for f in files])
        for options in (SearchOptions(), SearchOptions(dba=0, rerank=False)):
            options = replace(options, top=len(files))
            queries = [[e] if e else [] for e in embeddings]
            images = eval_cmd.query_images([f.resolve() for f in files], queries, embedder)
            ranked = eval_cmd.bench_rankings(store, queries, options, images)
            for i, path in enumerate(files):
                photo_id = library.photo_id(path)
                assert photo_id is not None
                found = library.search_photo(photo_id, options).matches
                assert [m.path for m in ranked[i]] == [m.path for m in found], path.name
                assert [m.verdict for m in ranked[i]] == [m.verdict for m in found], path.name
                assert len(found) == len(files) - 1
            assert all(ranked[i][0].path.name[:6] == files[i].name[:6]  # the other view first
                       for i in range(len(files)))  # fmt: skip
