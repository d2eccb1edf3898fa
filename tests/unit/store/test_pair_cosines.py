"""pair_cosines: exact cosines of photo pairs from the catalog, whatever the index holds."""

from __future__ import annotations

import numpy as np
from tests.unit.store.conftest import MODEL, _unit_vectors

from lookalike.store.hnsw import VectorIndex
from lookalike.store.vector_rows import pair_cosines


def test_pairs_get_the_exact_dot_products_and_nan_for_a_photo_gone(catalog, fill):
    ids = np.asarray(fill(30), np.int64)
    vectors = _unit_vectors(30)
    index = VectorIndex(16, MODEL)
    a, b = ids[:10], ids[10:20][::-1]
    got = pair_cosines(catalog, index, a, b)
    want = np.einsum("ij,ij->i", vectors[:10], vectors[10:20][::-1])
    np.testing.assert_allclose(got, want, atol=1e-6)
    catalog.remove_photos([int(ids[3])])  # no longer searchable
    again = pair_cosines(catalog, index, a, b)
    assert np.isnan(again[3]) and not np.isnan(np.delete(again, 3)).any()
