"""Disk faults a walk meets (issue 12): link loops, pipes, devices, broken links, locked folders,
and same-size edits. Each runs a real Library (SQLite, hnswlib) with the FakeEmbedder."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike.library import Library, SearchOptions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Library, Path, list[Path]]]:
    root = (tmp_path / "photos").resolve()
    paths = write_library(root, 6)
    lib = Library.open(tmp_path / "home", FakeEmbedder())
    lib.add_root(root)
    list(lib.sync())
    yield lib, root, paths
    lib.close()


def catalogued(lib: Library, root: Path) -> dict[Path, str]:
    return {path: status for _id, path, status in lib.photos_under(root)}


def test_self_link_does_not_stop_deletions(
    library: tuple[Library, Path, list[Path]], caplog: pytest.LogCaptureFixture
) -> None:
    """Case 7: ``ln -s selfloop.jpg ROOT/selfloop.jpg`` kept deleted photos in results."""
    lib, root, paths = library
    (root / "selfloop.jpg").symlink_to("selfloop.jpg")
    paths[0].unlink()
    with caplog.at_level(logging.WARNING):
        list(lib.sync())
        list(lib.sync())
    assert "not read completely" not in caplog.text
    assert paths[0] not in catalogued(lib, root)
    assert all(m.path != paths[0] for m in lib.search(paths[1], SearchOptions(top=10)).matches)
    assert (root / "selfloop.jpg", "link loop: the link leads back to itself") in \
        lib.status().skipped


def test_special_entries_are_listed_as_skipped_with_a_reason(
    library: tuple[Library, Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lib, root, paths = library
    os.mkfifo(root / "pipe.jpg")
    (root / "null.jpg").symlink_to("/dev/null")
    (root / "gone.jpg").symlink_to(root / "nowhere.jpg")
    locked = root / "locked"
    write_photo(locked / "in_locked.jpg", 99)
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # root ignores file modes: refuse like chmod 0 would
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(str(path))

    monkeypatch.setattr("lookalike.scan.walker.os.scandir", scandir)
    list(lib.sync())
    skipped = dict(lib.status().skipped)
    assert skipped == {
        root / "pipe.jpg": "not a photo file but a named pipe",
        root / "null.jpg": "not a photo file but a device",
        root / "gone.jpg": f"link points to nothing ({root / 'nowhere.jpg'})",
        locked: "folder cannot be read: Permission denied",
    }
    assert set(catalogued(lib, root)) >= set(paths)  # the rest of the library is unharmed
    monkeypatch.undo()
    (root / "pipe.jpg").unlink()
    list(lib.sync())  # readable again, pipe gone: they leave the skipped list
    assert set(dict(lib.status().skipped)) == {root / "null.jpg", root / "gone.jpg"}
    assert catalogued(lib, root)[locked / "in_locked.jpg"] == "indexed"


def test_same_size_edit_in_the_middle_is_embedded_again(
    library: tuple[Library, Path, list[Path]],
) -> None:
    """Case 11: a same-size edit of a photo's middle kept the old vector."""
    lib, root, _paths = library
    target, other = root / "edited.bmp", root / "other.bmp"
    write_photo(target, 1, size=(600, 400))  # uncompressed: any middle bytes stay a valid photo
    write_photo(other, 2, size=(600, 400))
    list(lib.sync())
    data = bytearray(target.read_bytes())
    head, tail = 64 * 1024, len(data) - 64 * 1024
    assert tail - head > 400_000
    data[head:tail] = other.read_bytes()[head:tail]  # same size, same first and last 64 KiB
    before = target.stat()
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    list(lib.sync())
    [photo_id] = [i for i, p, _ in lib.photos_under(root) if p == target]
    stored = lib.embedding(photo_id)
    assert stored is not None
    now = FakeEmbedder().embed_file(target).vector
    assert float(stored.vector @ now) > 0.999
