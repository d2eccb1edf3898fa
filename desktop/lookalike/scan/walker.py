"""Walk a library root and list its photo files with their size and modification time.

The walker never decodes anything and never aborts: folders it may not read and files that
vanish while it runs are logged and skipped. Which suffixes count as photos is the caller's
choice (the library passes ``lookalike.decode.image.IMAGE_SUFFIXES``), because ``scan`` is the
bottom layer and may not import ``decode``.
"""

from __future__ import annotations

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
) -> Iterator[FileStat]:
    """List the photo files below ``root``, depth first, in no particular order.

    Hidden files and folders, system folders and the ``exclude`` subtrees are skipped.
    Symlinked folders are followed once: a folder already visited (same ``st_dev, st_ino``) is
    skipped, so link loops end. Zero-size files are listed (decoding rejects them with a reason).

    Args:
        root: folder to walk (absolute).
        suffixes: lower-case file suffixes that count as photos, e.g. ``{".jpg", ".png"}``.
        exclude: absolute folders whose whole subtree is skipped (e.g. Lookalike's own data).
        on_error: called with the path and the error for every folder or file that could not be
            read; errors are logged either way and never stop the walk.

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
        key = _folder_key(folder, on_error)
        if key is None or key in visited:
            if key is not None:
                log.debug("skipping %s: folder already visited (symlink loop?)", folder)
            continue
        visited.add(key)
        yield from _scan_folder(folder, suffixes, stack, on_error)


def _folder_key(folder: Path, on_error: ErrorHandler | None) -> tuple[int, int] | None:
    """The (st_dev, st_ino) identity of a folder, following links; None if it cannot be read."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        _report(folder, exc, on_error)
        return None
    return (st.st_dev, st.st_ino)


def _scan_folder(
    folder: Path,
    suffixes: Collection[str],
    stack: list[Path],
    on_error: ErrorHandler | None,
) -> Iterator[FileStat]:
    """Yield the photos directly in ``folder`` and push its subfolders onto ``stack``."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_ignored_name(entry.name):
                    continue
                found = _visit_entry(entry, suffixes, stack, on_error)
                if found is not None:
                    yield found
    except OSError as exc:  # PermissionError, folder vanished, I/O error
        _report(folder, exc, on_error)


def _visit_entry(
    entry: os.DirEntry[str],
    suffixes: Collection[str],
    stack: list[Path],
    on_error: ErrorHandler | None,
) -> FileStat | None:
    """Classify one directory entry: push folders, return photo files, ignore the rest."""
    path = Path(entry.path)
    try:
        if entry.is_dir(follow_symlinks=True):
            stack.append(path)
            return None
        if os.path.splitext(entry.name)[1].lower() not in suffixes:
            return None
        st = entry.stat(follow_symlinks=True)
    except OSError as exc:  # vanished, dangling symlink, no permission
        _report(path, exc, on_error)
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileStat(path, st.st_size, st.st_mtime_ns)


def _report(path: Path, exc: OSError, on_error: ErrorHandler | None) -> None:
    """Log a read error and pass it on."""
    if isinstance(exc, FileNotFoundError):
        log.debug("skipping %s: vanished during the scan", path)
    else:
        log.warning("skipping %s: %s", path, exc.strerror or exc)
    if on_error is not None:
        on_error(path, exc)
