"""Case 4: damage inside a stored vector of ``index.hnsw`` is caught and the index rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.faults.store_helpers import indexed_library, lookalike


def _smash_a_vector(index: Path) -> None:
    """Overwrite 1 KB inside the first element's vector with NaN bytes (size unchanged)."""
    head = index.read_bytes()[:96]
    offset_data = int.from_bytes(head[40:48], "little")  # hnswlib's offsetData_
    offset_level0 = int.from_bytes(head[0:8], "little")
    start = 96 + offset_level0 + offset_data  # the first element's vector
    with open(index, "r+b") as f:
        f.seek(start)
        f.write(b"\xff" * 1024)


def test_a_damaged_vector_in_the_index_is_detected_and_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    home, _root, photos = indexed_library(tmp_path)
    index = home / "index.hnsw"
    size = index.stat().st_size
    _smash_a_vector(index)
    assert index.stat().st_size == size
    capsys.readouterr()
    assert lookalike("--library", home, "search", photos[0], "--json") == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "NaN" not in err
    # said on stderr (the CLI logs warnings there; pytest captures the log records instead)
    assert "rebuilt: damaged: its checksum does not match" in caplog.text
    assert len(json.loads(out)) == len(photos) - 1  # every other photo still found
    assert lookalike("--library", home, "check") == 0  # the saved index is whole again
