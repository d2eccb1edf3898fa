"""The million-photo benchmark at 1,000 photos: its bulk catalog is a library the app opens."""

from __future__ import annotations

import argparse
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from benchmarks import million
from benchmarks.query_speed import StandIn

from lookalike.library.facade import CATALOG_FILE, Library

pytestmark = pytest.mark.slow


def test_bulk_catalog_and_index_open_and_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(million, "CHUNK", 256)  # chunk 0 through the API, three in bulk
    args = argparse.Namespace(home=tmp_path, n=1000, seed=0, budget_s=1e9, queries=6)

    filled = million.fill_catalog(args)
    (tmp_path / "million-catalog.json").write_text(json.dumps(filled))
    assert filled["api"]["rows"] == 256 and filled["api"]["bulk_rows_equal"]
    assert filled["bulk"]["rows"] == 1000 - 256
    with closing(sqlite3.connect(tmp_path / CATALOG_FILE)) as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 1000
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # bulk load's

    built = million.build_index(args)
    assert built["complete"] and built["added"] == 1000
    (tmp_path / "million-index.json").write_text(json.dumps(built))

    out = million.search(args)
    assert out["set_pending"] == 0
    for opened in (out["first_open"], out["open"]):
        assert (opened["indexed"], opened["pending"], opened["index_size"]) == (1000, 0, 1000)
        assert opened["notes"] == []  # the index was used as saved: no rebuild, no repair
    for name in ("default", "plain"):
        assert out[name]["p95_ms"] >= out[name]["p50_ms"] > 0
        assert out[name]["same_place_at50"] > 0.5  # the place mates come first
    with closing(sqlite3.connect(tmp_path / CATALOG_FILE)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # the app's again


def test_an_index_cut_short_leaves_the_rest_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(million, "CHUNK", 128)
    args = argparse.Namespace(home=tmp_path, n=300, seed=1, budget_s=1e9, queries=3)
    million.fill_catalog(args)
    million.build_index(args)

    cut = million.searchable_only(tmp_path / CATALOG_FILE, 200)
    assert (cut["catalog_photos"], cut["searchable"], cut["set_pending"]) == (300, 200, 100)
    with Library.open(tmp_path, StandIn()) as library:
        status = library.status()
        assert (status.indexed, status.pending, status.index_size) == (200, 100, 200)
        found = library.search_photo(5)
        assert found.matches and all(m.photo_id <= 200 for m in found.matches)
