"""The second vector space of a model switch: its rows follow the photos' content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import BugError
from lookalike.store import next_space
from lookalike.store.catalog import Catalog
from lookalike.store.next_space import Target

OLD, NEW = "model-a", Target("model-b", 8, "fast")


def unit(seed: int, dim: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    root = tmp_path / "photos"
    for i in range(4):
        photo_id = cat.upsert_pending(cat.add_root(root), root / f"p{i}.jpg", 100, 1, f"h{i}")
        cat.set_indexed(photo_id, OLD, unit(i, 16), b"")
    next_space.begin(cat, NEW)
    for photo_id in (1, 2, 3):
        next_space.store(cat, photo_id, NEW, unit(10 + photo_id, 8), b"", None)
    return cat


def test_progress_and_todo(catalog: Catalog) -> None:
    assert next_space.target(catalog) == NEW
    assert next_space.progress(catalog) == (3, 4)
    assert [row.id for row in next_space.todo(catalog, 10)] == [4]
    with pytest.raises(BugError):
        next_space.store(catalog, 4, NEW, unit(0, 16), b"", None)  # the old model's size


def test_a_changed_removed_or_skipped_photo_loses_its_new_vector(catalog: Catalog,
                                                                 tmp_path: Path) -> None:
    catalog.upsert_pending(1, tmp_path / "photos" / "p0.jpg", 200, 2, "changed")  # photo 1
    catalog.remove_photos([2])
    catalog.set_skipped(3, "unreadable")
    assert next_space.progress(catalog) == (0, 2)  # photos 1 (pending) and 4 are left
    assert {row.id for row in next_space.todo(catalog, 10)} == {1, 4}


def test_swap_takes_the_new_space_and_drop_forgets_it(catalog: Catalog) -> None:
    next_space.store(catalog, 4, NEW, unit(14, 8), b"", None)
    next_space.swap(catalog, NEW)
    assert next_space.target(catalog) is None
    assert (catalog.get_meta("model_id"), catalog.get_meta("dim")) == ("model-b", "8")
    assert catalog.count_indexed("model-b") == 4 and catalog.count_indexed(OLD) == 0
    stored = catalog.vector(2)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], unit(12, 8))
    next_space.begin(catalog, Target("model-c", 8, None))
    next_space.drop(catalog)
    assert next_space.target(catalog) is None and catalog.count_indexed("model-b") == 4
