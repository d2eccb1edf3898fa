"""One owner per library: an advisory lock on ``<home>/lock`` held while a Library is open.

The operating system releases the lock when the process ends, however it ends (kill -9
included), so a stale lock file never blocks anyone; the pid written into it only names the
owner in the message. POSIX uses ``fcntl.flock``, Windows ``msvcrt.locking`` on the first byte.

The owner is a process: a second Library opened on the same folder inside the owning process
shares the hold (counted), as the lock guards against other processes' caches and writes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from lookalike.errors import LibraryBusy

log = logging.getLogger(__name__)

LOCK_FILE = "lock"
_held: dict[Path, tuple[IO[bytes], int]] = {}
"""This process's holds: lock file -> (its open file, how many LibraryLocks share it)."""
_held_lock = threading.Lock()


def _try_lock(f: IO[bytes]) -> bool:
    """Take the lock without waiting; False if another process holds it."""
    if os.name == "nt":
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class LibraryLock:
    """The held lock of one library folder; :meth:`release` (or process exit) frees it.

    Attributes:
        path: the lock file.
    """

    def __init__(self, path: Path) -> None:
        """Use :meth:`acquire`."""
        self.path = path
        self._held = True
        self._on_release: list[Callable[[], object]] = []

    def on_release(self, action: Callable[[], object]) -> None:
        """Run ``action`` when this hold is released, before the lock is given up (so no other
        process can come between). Its exceptions are logged, never raised."""
        self._on_release.append(action)

    @classmethod
    def acquire(cls, home: Path) -> LibraryLock:
        """Lock the library in ``home`` (which must exist) for this process.

        Raises:
            LibraryBusy: another process holds it; the message names its pid.
        """
        path = (home / LOCK_FILE).resolve()
        with _held_lock:
            if path in _held:
                f, count = _held[path]
                _held[path] = (f, count + 1)
                return cls(path)
            _held[path] = (cls._lock_file(home, path), 1)
        return cls(path)

    @staticmethod
    def _lock_file(home: Path, path: Path) -> IO[bytes]:
        """Open and lock ``path`` for this process; raises LibraryBusy."""
        f = open(path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        if not _try_lock(f):
            try:
                f.seek(0)
                owner = f.read(32).decode("ascii", "replace").strip() or "unknown"
            except OSError:  # Windows refuses reads of a locked byte
                owner = "unknown"
            f.close()
            raise LibraryBusy(
                f"this library ({home}) is open in another Lookalike (pid {owner}); close "
                "that one first, or use another library with --library"
            )
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n".encode("ascii"))
        f.flush()
        return f

    def release(self) -> None:
        """Give up this hold (idempotent); the last one unlocks. The file itself stays."""
        with _held_lock:
            if not self._held:
                return
            self._held = False
            for action in self._on_release:
                try:
                    action()
                except Exception:  # a hook must not keep the lock from being released
                    log.exception("an action on releasing %s failed", self.path)
            f, count = _held[self.path]
            if count > 1:
                _held[self.path] = (f, count - 1)
                return
            del _held[self.path]
            f.close()  # closing the descriptor drops flock / msvcrt locks
