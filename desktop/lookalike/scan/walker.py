"""Walk a library root and list its photo files with their size and modification time.

The walker never decodes anything and never aborts. Files that vanish while it runs are passed
over; folders it may not read, and entries with a photo's name that are no readable regular file
(a dangling or looping link, a named pipe, a socket, a device) are reported to ``on_skip`` with
a reason the user can read. Only a folder that could not be listed makes a walk incomplete
(``on_error``): one bad entry never hides the rest of its folder. Which suffixes count as
photos is the caller's choice (the library passes ``lookalike.decode.image.IMAGE_SUFFIXES``),
because ``scan`` is the bottom layer and may not import ``decode``.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_FOLDERS = frozenset(
    {
        "$recycle.bin",
        "system volume information",
        "@eadir",  # Synology thumbnails
        ".thumbnails",
        "lost+found",
        "__macosx",
    }
)
"""Folder names (lower case) that never hold the user's photos."""

ErrorHandler = Callable[[Path, OSError], None]


@dataclass(frozen=True)
class Skipped:
    """A folder or photo-named entry the walker could not take, and why.

    Attributes:
        path: where it is (absolute, below the walked root).
        reason: a short sentence for the user, e.g. "link points to nothing".
    """

    path: Path
    reason: str


SkipHandler = Callable[[Skipped], None]


@dataclass(frozen=True)
class FileStat:
    """One photo file as the walker saw it.

    Attributes:
        path: absolute path, below the walked root (symlinked folders are not resolved).
        size_bytes: file size in bytes (0 for empty files; they are still listed).
        mtime_ns: modification time, nanoseconds since the Unix epoch.
    """

    path: Path
    size_bytes: int
    mtime_ns: int


def is_ignored_name(name: str) -> bool:
    """Whether a file or folder name is hidden or a system folder that the library skips.

    Args:
        name: one path component.

    Returns:
        True for dot-names (``.git``, ``.Trash-1000``, ``.DS_Store``) and the names in
        :data:`SYSTEM_FOLDERS`.
    """
    return name.startswith(".") or name.lower() in SYSTEM_FOLDERS


def is_excluded(path: Path, root: Path, exclude: Sequence[Path] = ()) -> bool:
    """Whether ``path`` (inside ``root``) is skipped by :func:`walk`.

    Args:
        path: a file or folder below ``root``.
        root: the library root holding it.
        exclude: folders whose whole subtree is skipped.

    Returns:
        True if any component below ``root`` is ignored (see :func:`is_ignored_name`) or the
        path lies in one of ``exclude``.
    """
    try:
        relative = path.relative_to(root)
    except ValueError:
        return True
    if any(is_ignored_name(part) for part in relative.parts):
        return True
    return any(path == folder or folder in path.parents for folder in exclude)


def walk(
    root: Path,
    suffixes: Collection[str],
    exclude: Sequence[Path] = (),
    on_error: ErrorHandler | None = None,
    on_skip: SkipHandler | None = None,
) -> Iterator[FileStat]:
    """List the photo files below ``root``, depth first, in no particular order.

    Hidden files and folders, system folders and the ``exclude`` subtrees are skipped.
    Symlinked folders are followed once: a folder already visited (same ``st_dev, st_ino``) is
    skipped, so link loops end. Zero-size files are listed (decoding rejects them with a reason).

    Args:
        root: folder to walk (absolute).
        suffixes: lower-case file suffixes that count as photos, e.g. ``{".jpg", ".png"}``.
        exclude: absolute folders whose whole subtree is skipped (e.g. Lookalike's own data).
        on_error: called with the path and the error for every folder that could not be listed
            (completely): the walk missed whatever it held. Logged either way; never stops the walk.
        on_skip: called with every unreadable folder and every entry with a photo suffix that
            is not a readable regular file (see :class:`Skipped`).

    Yields:
        One :class:`FileStat` per photo file.
    """
    excluded = frozenset(os.path.normcase(os.fspath(p)) for p in exclude)
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        if os.path.normcase(os.fspath(folder)) in excluded:
            continue
        key = _folder_key(folder, on_error, on_skip)
        if key is None or key in visited:
            if key is not None:
                log.debug("skipping %s: folder already visited (symlink loop?)", folder)
            continue
        visited.add(key)
        yield from _scan_folder(folder, suffixes, stack, on_error, on_skip)


def _folder_key(
    folder: Path, on_error: ErrorHandler | None, on_skip: SkipHandler | None
) -> tuple[int, int] | None:
    """The (st_dev, st_ino) identity of a folder, following links; None if it cannot be read."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        _folder_failed(folder, exc, on_error, on_skip)
        return None
    return (st.st_dev, st.st_ino)


def _scan_folder(
    folder: Path,
    suffixes: Collection[str],
    stack: list[Path],
    on_error: ErrorHandler | None,
    on_skip: SkipHandler | None,
) -> Iterator[FileStat]:
    """Yield the photos directly in ``folder`` and push its subfolders onto ``stack``."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_ignored_name(entry.name):
                    continue
                found = _visit_entry(entry, suffixes, stack)
                if isinstance(found, FileStat):
                    yield found
                elif found is not None:
                    log.info("skipping %s: %s", found.path, found.reason)
                    if on_skip is not None:
                        on_skip(found)
    except OSError as exc:  # PermissionError, folder vanished, I/O error
        _folder_failed(folder, exc, on_error, on_skip)


def _visit_entry(
    entry: os.DirEntry[str], suffixes: Collection[str], stack: list[Path]
) -> FileStat | Skipped | None:
    """Classify one directory entry: push folders, return photo files or why a photo-named
    entry is skipped, ignore the rest (other names, entries that vanished meanwhile)."""
    path = Path(entry.path)
    try:
        if entry.is_dir(follow_symlinks=True):
            stack.append(path)
            return None
        if os.path.splitext(entry.name)[1].lower() not in suffixes:
            return None
        st = entry.stat(follow_symlinks=True)
    except OSError as exc:  # vanished, dangling or looping link, no permission
        return _entry_failed(entry, exc)
    if not stat.S_ISREG(st.st_mode):
        return Skipped(path, f"not a photo file but {_kind(st.st_mode)}")
    return FileStat(path, st.st_size, st.st_mtime_ns)


def _entry_failed(entry: os.DirEntry[str], exc: OSError) -> Skipped | None:
    """Why an entry that could not be examined is skipped; None if it simply vanished."""
    path = Path(entry.path)
    try:
        is_link = entry.is_symlink()
    except OSError:
        is_link = False
    if is_link and exc.errno == errno.ELOOP:
        return Skipped(path, "link loop: the link leads back to itself")
    if is_link and isinstance(exc, FileNotFoundError):
        return Skipped(path, f"link points to nothing ({_link_target(path)})")
    if isinstance(exc, FileNotFoundError):
        log.debug("skipping %s: vanished during the scan", path)
        return None
    return Skipped(path, f"cannot be read: {exc.strerror or exc}")


def _kind(mode: int) -> str:
    """A file type in words, for the skip reason of a non-regular file."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _link_target(path: Path) -> str:
    """Where a symlink points, as the link says, or "?" if it cannot be read."""
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _folder_failed(
    folder: Path, exc: OSError, on_error: ErrorHandler | None, on_skip: SkipHandler | None
) -> None:
    """Log a folder that could not be listed and pass it on (a vanished one is not skipped)."""
    if isinstance(exc, FileNotFoundError):
        log.debug("skipping %s: vanished during the scan", folder)
    else:
        log.warning("skipping %s: %s", folder, exc.strerror or exc)
        if on_skip is not None:
            on_skip(Skipped(folder, f"folder cannot be read: {exc.strerror or exc}"))
    if on_error is not None:
        on_error(folder, exc)
