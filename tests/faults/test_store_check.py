"""``lookalike check``: every integrity check, said in plain words, with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.faults.store_helpers import indexed_library, lookalike


def test_check_on_a_healthy_library_finds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, _root, photos = indexed_library(tmp_path)
    capsys.readouterr()
    assert lookalike("--library", home, "check", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["found"] == [] and report["repaired"] == []
    assert f"index: {len(photos)} photos; catalog: {len(photos)} searchable" in report["checked"]
    assert "catalog integrity check: no problems" in report["checked"]


def test_check_repairs_a_damaged_index_and_a_damaged_vector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    home, root, photos = indexed_library(tmp_path)
    (home / "index.hnsw").write_bytes(b"\0" * (home / "index.hnsw").stat().st_size)
    conn = sqlite3.connect(home / "catalog.sqlite")
    conn.execute("UPDATE vectors SET vector = zeroblob(length(vector)) WHERE photo_id = 1")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert lookalike("--library", home, "check") == 1
    out = capsys.readouterr().out
    assert "found: 1 photos' stored vectors failed their checksum" in out
    assert "found: the index index.hnsw was damaged: its checksum does not match" in out
    assert "repaired: those 1 photos were marked to be embedded again" in out
    assert lookalike("--library", home, "index", root) == 0
    assert lookalike("--library", home, "check") == 0
    assert f"{len(photos)} indexed" in capsys.readouterr().out


def test_check_without_a_library_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    assert lookalike("--library", tmp_path / "none", "check") == 1
    assert "holds no library" in capsys.readouterr().err
