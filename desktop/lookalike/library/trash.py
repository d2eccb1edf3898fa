"""Photos → the operating system's trash, and back. Nothing is ever deleted permanently.

Moving uses ``send2trash``, which puts files in the trash the way the desktop does on Linux
(the freedesktop.org trash: ``$XDG_DATA_HOME/Trash`` or a ``.Trash-UID`` folder at the top of
another volume), macOS and Windows.

Undo:
- **Linux (freedesktop.org trash):** after the move, the ``.trashinfo`` file written for the
  photo is found (its ``Path=`` is the original path), so undo moves the file back from
  ``Trash/files`` and deletes its ``.trashinfo``, exactly what "Restore" in a file manager does.
- **macOS and Windows:** the system trash keeps the file and knows where it came from, but
  offers no programmatic restore that send2trash supports; undo then says to use "Put Back"
  (Finder) or "Restore" (Recycle Bin), and the photo returns to the library on the next sync or
  watch event once it is back.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trashed:
    """A photo moved to the trash.

    Attributes:
        original: where it was.
        in_trash: the file in the trash (None: unknown, e.g. on macOS/Windows).
        info: its ``.trashinfo`` file (freedesktop.org trash only).
    """

    original: Path
    in_trash: Path | None = None
    info: Path | None = None


@dataclass(frozen=True)
class TrashResult:
    """What :func:`move_to_trash` (or ``Library.trash``) did.

    Attributes:
        moved: photos now in the trash (undo with ``Library.untrash(result.moved)``).
        failed: (path, reason) of photos left where they are.
    """

    moved: tuple[Trashed, ...] = ()
    failed: tuple[tuple[Path, str], ...] = field(default_factory=tuple)


def freedesktop() -> bool:
    """Whether this platform uses the freedesktop.org trash (what send2trash does on it)."""
    return sys.platform not in ("darwin", "win32")


def _home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Trash"


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.is_mount() and path.parent != path:
        path = path.parent
    return path


def _trash_dirs(path: Path) -> list[tuple[Path, Path | None]]:
    """(trash folder, the top folder its relative ``Path=`` entries start from)."""
    top = _mount_point(path.parent)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [(_home_trash(), None), (top / ".Trash" / str(uid), top), (top / f".Trash-{uid}", top)]


def _find_info(path: Path, since_s: float) -> Trashed:
    """The trash entry written for ``path`` at or after ``since_s`` (freedesktop.org)."""
    for trash, top in _trash_dirs(path):
        info_dir = trash / "info"
        if not info_dir.is_dir():
            continue
        for info in sorted(info_dir.glob("*.trashinfo"), key=lambda p: -p.stat().st_mtime):
            if info.stat().st_mtime < since_s - 2:
                break
            for line in info.read_text("utf-8", "replace").splitlines():
                if not line.startswith("Path="):
                    continue
                where = Path(unquote(line[5:]))
                where = where if where.is_absolute() or top is None else top / where
                if where == path:
                    return Trashed(path, trash / "files" / info.name[: -len(".trashinfo")], info)
    return Trashed(path)


def move_to_trash(paths: Iterable[Path]) -> TrashResult:
    """Move files to the system trash, one by one; a failure leaves that file in place.

    Args:
        paths: absolute file paths.
    """
    from send2trash import send2trash  # one import for every platform's trash

    moved, failed = [], []
    for path in paths:
        started = time.time()
        try:
            send2trash(str(path))
        except OSError as exc:
            failed.append((path, str(exc) or type(exc).__name__))
            continue
        entry = _find_info(path, started) if freedesktop() else Trashed(path)
        log.info("moved %s to the trash (%s)", path, entry.in_trash or "system trash")
        moved.append(entry)
    return TrashResult(tuple(moved), tuple(failed))


def restore(items: Sequence[Trashed]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Move trashed photos back where they were (freedesktop.org trash only).

    Returns:
        The restored paths, and (path, reason) of those that could not be: unknown place in
        the trash (macOS, Windows: restore them from the system trash), gone from the trash, or
        a new file at the original path (never overwritten).
    """
    restored, failed = [], []
    for item in items:
        if item.in_trash is None:
            failed.append((item.original, "restore it from the system trash"))
        elif not item.in_trash.exists():
            failed.append((item.original, "no longer in the trash"))
        elif item.original.exists():
            failed.append((item.original, "another file is there now"))
        else:
            item.original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(item.in_trash), str(item.original))
            if item.info is not None:
                item.info.unlink(missing_ok=True)
            restored.append(item.original)
    return restored, failed
