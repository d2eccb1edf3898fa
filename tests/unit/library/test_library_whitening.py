"""Library.learn_whitening / forget_whitening on a real catalog and index (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_photo

from lookalike.errors import KnownError
from lookalike.library import Library, SearchOptions

TOP1 = SearchOptions(top=1)


def _scenes(folder: Path, n: int) -> list[tuple[Path, Path]]:
    """``n`` scenes, each an original and a cropped, smaller copy (its nearest neighbour)."""
    out = []
    for seed in range(n):
        a = write_photo(folder / f"s{seed:03d}_a.png", seed)
        b = write_photo(folder / f"s{seed:03d}_b.png", seed, crop=(0.05, 0.05, 0.95, 0.95),
                        scale=0.8)  # fmt: skip
        out.append((a, b))
    return out


def _sidecar(home: Path) -> dict[str, object]:
    return dict(json.loads((home / "index.hnsw.json").read_text()))


def test_learning_whitening_reindexes_and_survives_a_restart(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    scenes = _scenes(photos, 24)
    with Library.open(home, FakeEmbedder()) as lib:
        lib.add_root(photos)
        list(lib.sync())
        assert lib.status().whitening is None
        info = lib.learn_whitening()
        assert info.pairs >= 20 and info.photos == 48
        assert lib.status().whitening == info
        assert _sidecar(home)["whitening"] == info.digest  # the new index is on disk
        for original, copy in scenes[:5]:
            assert lib.search(copy, TOP1).matches[0].path == original.resolve()
        extra = write_photo(photos / "late.png", 999)  # indexed after learning: whitened too
        list(lib.sync())
        assert lib.search(extra, TOP1).matches[0].path != extra.resolve()
    with Library.open(home, FakeEmbedder()) as lib:  # loads the whitened index as saved
        assert lib.status().whitening == info
        assert lib.status().index_size == 49
        lib.forget_whitening()
        assert lib.status().whitening is None
        assert _sidecar(home)["whitening"] == ""
        assert lib.search(scenes[0][1], TOP1).matches[0].path == scenes[0][0].resolve()
    with Library.open(home, FakeEmbedder()) as lib:
        assert lib.status().whitening is None


def test_a_small_library_is_told_it_has_too_few_pairs(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    _scenes(photos, 4)
    with Library.open(tmp_path / "home", FakeEmbedder()) as lib:
        with pytest.raises(KnownError, match="no indexed photos"):
            lib.learn_whitening()
        lib.add_root(photos)
        list(lib.sync())
        with pytest.raises(KnownError, match="not enough similar photos"):
            lib.learn_whitening()
        assert lib.status().whitening is None


def test_catalog_whitening_without_a_matching_index_rebuilds_on_open(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    _scenes(photos, 24)
    with Library.open(home, FakeEmbedder()) as lib:
        lib.add_root(photos)
        list(lib.sync())
        lib.save()
        plain_sidecar = (home / "index.hnsw.json").read_bytes()
        plain_index = (home / "index.hnsw").read_bytes()
        info = lib.learn_whitening()
    # as if the app died after storing the whitening but before saving the new index
    (home / "index.hnsw.json").write_bytes(plain_sidecar)
    (home / "index.hnsw").write_bytes(plain_index)
    with Library.open(home, FakeEmbedder()) as lib:
        assert lib.status().whitening == info
        assert lib.status().index_size == 48
    assert _sidecar(home)["whitening"] == info.digest
