"""scan.hashing.content_hash: a full-content hash that follows a file's content, not its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.scan.hashing import BLOCK_BYTES, content_hash


def test_same_content_same_hash_any_name(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(data)
    assert content_hash(tmp_path / "a.jpg") == content_hash(tmp_path / "b.jpg")
    assert len(content_hash(tmp_path / "a.jpg")) == 40


@pytest.mark.parametrize("offset", [0, 64 * 1024, BLOCK_BYTES - 1, BLOCK_BYTES,
                                    2 * BLOCK_BYTES + 7, 3 * BLOCK_BYTES - 1])
def test_a_change_anywhere_changes_the_hash(tmp_path: Path, offset: int) -> None:
    data = bytearray(3 * BLOCK_BYTES)
    (tmp_path / "a").write_bytes(bytes(data))
    data[offset] = 1
    (tmp_path / "b").write_bytes(bytes(data))
    assert content_hash(tmp_path / "a") != content_hash(tmp_path / "b")


def test_size_is_part_of_the_hash(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"\0" * 10)
    (tmp_path / "b").write_bytes(b"\0" * 11)
    assert content_hash(tmp_path / "a") != content_hash(tmp_path / "b")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert content_hash(tmp_path / "empty")
    with pytest.raises(OSError):
        content_hash(tmp_path / "missing")
