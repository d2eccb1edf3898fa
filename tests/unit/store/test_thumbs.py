"""The catalog's thumbnails: stored, read back, dropped, gone with their photo; schema v8."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import BugError
from lookalike.store.catalog import Catalog
from lookalike.store.thumbs import put_thumbs, thumbs_of
from lookalike.types import Thumb


def _photo(catalog: Catalog, root: int, name: str) -> int:
    return catalog.upsert_pending(root, Path(f"/photos/{name}"), 10, 1, None)


def test_thumbnails_round_trip_and_leave_with_their_photo(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        root = catalog.add_root(Path("/photos"))
        a, b = _photo(catalog, root, "a.jpg"), _photo(catalog, root, "b.jpg")
        pixels = np.arange(32 * 32, dtype=np.uint32).reshape(32, 32).astype(np.uint8)
        put_thumbs(catalog, {a: Thumb(pixels, 1024, 768), b: Thumb(pixels.T.copy(), 768, 1024),
                             999: Thumb(pixels, 1, 1)})  # no photo 999: nothing stored
        got = thumbs_of(catalog, [a, b, 999])
        assert sorted(got) == [a, b]
        assert np.array_equal(got[a].pixels, pixels)
        assert (got[a].width, got[a].height) == (1024, 768)
        put_thumbs(catalog, {b: None})  # a photo embedded again without one: dropped
        assert sorted(thumbs_of(catalog, [a, b])) == [a]
        catalog.remove_photos([a])
        assert thumbs_of(catalog, [a]) == {}
        with pytest.raises(BugError):
            put_thumbs(catalog, {b: Thumb(np.zeros((4, 5), np.uint8), 5, 4)})


def test_a_version_7_catalog_gets_an_empty_thumbs_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        root = catalog.add_root(Path("/photos"))
        photo = _photo(catalog, root, "a.jpg")
    with sqlite3.connect(path) as conn:  # as the previous version left it
        conn.execute("DROP TABLE thumbs")
        conn.execute("PRAGMA user_version = 7")
    with Catalog.open(path) as catalog:
        assert catalog.photo_by_id(photo) is not None and thumbs_of(catalog, [photo]) == {}
        put_thumbs(catalog, {photo: Thumb(np.zeros((32, 32), np.uint8), 4, 3)})
        assert list(thumbs_of(catalog, [photo])) == [photo]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 8
