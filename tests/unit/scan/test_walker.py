"""scan.walker: which files a walk lists, and that it never aborts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lookalike.scan.walker import FileStat, Skipped, is_excluded, is_ignored_name, walk

SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(root: Path, **kwargs: object) -> set[str]:
    return {s.path.relative_to(root).as_posix() for s in walk(root, SUFFIXES, **kwargs)}  # type: ignore[arg-type]


def test_lists_photos_with_size_and_mtime(tmp_path: Path) -> None:
    photo = touch(tmp_path / "a" / "b" / "IMG_1.JPG", b"12345")
    os.utime(photo, ns=(1_000_000_000, 1_234_567_890_123))
    [stat] = list(walk(tmp_path, SUFFIXES))
    assert stat == FileStat(photo, 5, 1_234_567_890_123)


def test_skips_non_images_hidden_and_system_folders(tmp_path: Path) -> None:
    touch(tmp_path / "keep.png")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "noext")
    touch(tmp_path / ".hidden.jpg")
    for folder in (".git", ".Trash-1000", "$RECYCLE.BIN", "System Volume Information",
                   "@eaDir", ".thumbnails", "sub/.cache"):
        touch(tmp_path / folder / "x.jpg")
    touch(tmp_path / "sub" / "deep" / "y.jpeg")
    assert names(tmp_path) == {"keep.png", "sub/deep/y.jpeg"}


def test_zero_size_files_are_listed(tmp_path: Path) -> None:
    touch(tmp_path / "empty.jpg", b"")
    [stat] = list(walk(tmp_path, SUFFIXES))
    assert stat.size_bytes == 0


def test_exclude_skips_subtrees(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "1.jpg")
    touch(tmp_path / "data" / "thumbs" / "2.jpg")
    touch(tmp_path / "database.jpg")
    assert names(tmp_path, exclude=[tmp_path / "data"]) == {"a/1.jpg", "database.jpg"}


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_follows_symlinked_folders_but_not_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "a" / "1.jpg")
    outside = tmp_path / "outside"
    touch(outside / "2.jpg")
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "a" / "self").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    found = names(root)
    assert found == {"a/1.jpg", "link_out/2.jpg"}


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="root ignores permissions; POSIX modes only")
def test_unreadable_folder_is_reported_and_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "ok" / "1.jpg")
    locked = tmp_path / "locked"
    touch(locked / "2.jpg")
    locked.chmod(0)
    errors: list[tuple[Path, OSError]] = []
    try:
        found = names(tmp_path, on_error=lambda p, e: errors.append((p, e)))
    finally:
        locked.chmod(0o755)
    assert found == {"ok/1.jpg"}
    assert [p for p, _ in errors] == [locked]
    assert isinstance(errors[0][1], PermissionError)


def test_vanished_folder_does_not_abort(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "1.jpg")
    errors: list[Path] = []
    assert list(walk(tmp_path / "gone", SUFFIXES, on_error=lambda p, e: errors.append(p))) == []
    assert errors == [tmp_path / "gone"]


def test_file_vanishing_during_walk_is_skipped(tmp_path: Path) -> None:
    for i in range(5):
        touch(tmp_path / f"{i}.jpg")
    seen = []
    for stat in walk(tmp_path, SUFFIXES):
        seen.append(stat.path)
        for other in tmp_path.glob("*.jpg"):
            if other not in seen:
                other.unlink()  # deleted after scandir listed it
    assert len(seen) >= 1


@pytest.mark.parametrize(
    ("name", "ignored"),
    [(".git", True), ("@eaDir", True), ("$Recycle.Bin", True), ("Photos", False),
     ("lost+found", True), ("a.jpg", False)],
)
def test_is_ignored_name(name: str, ignored: bool) -> None:
    assert is_ignored_name(name) is ignored


def test_is_excluded(tmp_path: Path) -> None:
    root = tmp_path / "r"
    assert not is_excluded(root / "a" / "b.jpg", root)
    assert is_excluded(root / ".x" / "b.jpg", root)
    assert is_excluded(tmp_path / "elsewhere.jpg", root)
    assert is_excluded(root / "skip" / "b.jpg", root, [root / "skip"])


def test_permission_error_is_skipped_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "ok" / "1.jpg")
    touch(tmp_path / "locked" / "2.jpg")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr("lookalike.scan.walker.os.scandir", scandir)
    errors: list[Path] = []
    assert names(tmp_path, on_error=lambda p, e: errors.append(p)) == {"ok/1.jpg"}
    assert errors == [tmp_path / "locked"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")
def test_unusable_photo_names_are_skipped_with_a_reason_not_errors(tmp_path: Path) -> None:
    touch(tmp_path / "ok.jpg")
    (tmp_path / "selfloop.jpg").symlink_to("selfloop.jpg")
    (tmp_path / "dangling.jpg").symlink_to("missing.jpg")
    (tmp_path / "null.png").symlink_to("/dev/null")
    os.mkfifo(tmp_path / "pipe.jpg")
    os.mkfifo(tmp_path / "pipe.txt")  # not a photo name: not worth a line
    errors: list[Path] = []
    skipped: list[Skipped] = []
    found = names(tmp_path, on_error=lambda p, e: errors.append(p), on_skip=skipped.append)
    assert found == {"ok.jpg"}
    assert errors == []  # the folder itself was listed completely
    assert {s.path.name: s.reason for s in skipped} == {
        "selfloop.jpg": "link loop: the link leads back to itself",
        "dangling.jpg": "link points to nothing (missing.jpg)",
        "null.png": "not a photo file but a device",
        "pipe.jpg": "not a photo file but a named pipe",
    }


def test_unlistable_folder_is_an_error_and_a_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "locked" / "2.jpg")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)).name == "locked":
            raise OSError(5, "Input/output error", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr("lookalike.scan.walker.os.scandir", scandir)
    errors: list[Path] = []
    skipped: list[Skipped] = []
    assert names(tmp_path, on_error=lambda p, e: errors.append(p), on_skip=skipped.append) == set()
    assert errors == [tmp_path / "locked"]
    assert skipped == [Skipped(tmp_path / "locked", "folder cannot be read: Input/output error")]
