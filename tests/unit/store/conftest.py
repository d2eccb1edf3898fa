"""Fixtures for the store tests: real SQLite files and real hnswlib indexes under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from lookalike.store.catalog import Catalog

MODEL = "model-a"
DIM = 16

UnitVectors = Callable[..., npt.NDArray[np.float32]]


def _unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def unit_vectors() -> UnitVectors:
    """``unit_vectors(n, dim=16, seed=0)`` → (n, dim) float32 random unit rows."""
    return _unit_vectors


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalog file in tmp_path, closed afterwards."""
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An absolute photo folder (it need not exist for the catalog)."""
    return tmp_path / "photos"


@pytest.fixture
def fill(catalog: Catalog, root: Path) -> Callable[..., list[int]]:
    """``fill(n, seed=0, start=0)`` adds n indexed photos under ``root`` and returns their ids;
    photo i gets row i of ``unit_vectors(n, seed=seed)``."""

    def fill_(n: int, seed: int = 0, start: int = 0) -> list[int]:
        root_id = catalog.add_root(root)
        vectors = _unit_vectors(n, seed=seed)
        ids = []
        with catalog.transaction():
            for i in range(n):
                path = root / f"img{start + i:05d}.jpg"
                photo_id = catalog.upsert_pending(root_id, path, 1000 + i, 10**18 + i, f"h{i}")
                catalog.set_indexed(photo_id, MODEL, vectors[i], b"")
                ids.append(photo_id)
        return ids

    return fill_
