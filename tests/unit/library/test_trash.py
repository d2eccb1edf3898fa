"""Moving library photos to a real freedesktop.org trash under a temporary HOME, and back."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.duplicate_photos import temporary_trash
from tests.fakes import FakeEmbedder, write_photo

from lookalike.library import Library
from lookalike.library.trash import move_to_trash, restore

pytestmark = pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                                reason="the freedesktop.org trash is Linux's")  # fmt: skip


@pytest.fixture
def trash_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with temporary_trash(tmp_path / "user", monkeypatch) as trash:
        yield trash


def test_move_to_trash_writes_the_entry_and_restore_moves_it_back(
    tmp_path: Path, trash_home: Path
) -> None:
    photo = write_photo(tmp_path / "photos" / "a photo #1.jpg", 1)
    data = photo.read_bytes()
    result = move_to_trash([photo])
    assert not photo.exists() and result.failed == ()
    (item,) = result.moved
    assert item.in_trash is not None and item.in_trash.parent == trash_home / "files"
    assert item.in_trash.read_bytes() == data
    assert item.info is not None and item.info.parent == trash_home / "info"
    assert f"Path={photo}".replace(" ", "%20").replace("#", "%23") in item.info.read_text()
    restored, failed = restore(result.moved)
    assert restored == [photo] and failed == []
    assert photo.read_bytes() == data and not item.info.exists()


def test_restore_never_overwrites_a_new_file(tmp_path: Path, trash_home: Path) -> None:
    photo = write_photo(tmp_path / "p.jpg", 2)
    result = move_to_trash([photo])
    write_photo(photo, 3)
    restored, failed = restore(result.moved)
    assert restored == [] and failed == [(photo, "another file is there now")]
    assert result.moved[0].in_trash is not None and result.moved[0].in_trash.exists()


def test_library_trash_follows_the_catalog_and_undo_brings_the_photo_back(
    tmp_path: Path, trash_home: Path
) -> None:
    root = tmp_path / "photos"
    keep = write_photo(root / "keep.jpg", 1)
    gone = write_photo(root / "gone.jpg", 2)
    ref = write_photo(root / "reference" / "ref.jpg", 3)
    with Library.open(tmp_path / "lib", FakeEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(root)
        list(library.sync())
        library.duplicates().store.set_reference_folders([root / "reference"])
        result = library.trash([gone, ref, tmp_path / "elsewhere.jpg"])
        assert [t.original for t in result.moved] == [gone]
        assert dict(result.failed) == {ref: "in a reference folder",
                                       tmp_path / "elsewhere.jpg": "not a photo of this library"}
        assert ref.exists() and keep.exists() and not gone.exists()
        assert {p for _, p, _ in library.photos_under(root)} == {keep, ref}
        assert library.status().index_size == 2  # the index followed at once

        restored, failed = library.untrash(result.moved)
        assert restored == [gone] and failed == []
        assert {(p, s) for _, p, s in library.photos_under(root)} == {
            (keep, "indexed"), (ref, "indexed"), (gone, "indexed")}
        assert library.status().index_size == 3
