"""Case 8: a missing or emptied catalog never silently starts an empty library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.faults.store_helpers import indexed_library, lookalike


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_catalog_keeps_the_index_aside_and_rescans_its_folders(
    tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    home, root, photos = indexed_library(tmp_path)
    catalog = home / "catalog.sqlite"
    for leftover in home.glob("catalog.sqlite-*"):
        leftover.unlink()
    if how == "deleted":
        catalog.unlink()
    else:
        catalog.write_bytes(b"")
    capsys.readouterr()
    assert lookalike("--library", home, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    text = caplog.text
    assert "was missing or empty, but its index held 12 photos" in text
    assert "its 1 folders were taken from the backup list" in text
    [aside] = home.glob("index.hnsw.orphaned-*[0-9]")  # kept, not thrown away
    assert aside.stat().st_size > 0 and aside.with_name(aside.name + ".json").exists()
    assert [r["path"] for r in status["roots"]] == [str(root.resolve())]
    assert lookalike("--library", home, "index", root) == 0
    capsys.readouterr()
    assert lookalike("--library", home, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["indexed"], status["index_size"]) == (len(photos), len(photos))
