"""Watch library roots for changes and report them in debounced, coalesced batches.

watchdog's observer thread feeds :class:`Watcher`, which keeps one pending entry per path
(plus the moves, in order) until the roots have been quiet for ``debounce_s``; then it hands
the batch to ``on_events`` from its own flusher thread. A file whose size or mtime still
changes at that moment is kept back for another window, so half-written photos are not read.

The events are hints: the receiver is expected to look at the disk for the truth (a "created"
path may already be gone again).

A root itself can vanish and come back (renamed away and back, a drive unplugged and plugged in
at its mount point). inotify watches follow the folder, not its name, so a root renamed away
stays watched under its old name and is never watched again when it returns. The watcher
therefore checks every root's identity (``st_dev, st_ino``) every ``root_check_s`` seconds:
when it changes, the old watch is dropped, a new one is set up if the folder is there, and a
folder event for the root itself (``"created"`` or ``"deleted"``) tells the receiver to resync
the whole root, catching up whatever changed meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lookalike.scan.events import (
    CREATED,
    DELETED,
    MODIFIED,
    MOVED,
    EventKind,
    FileEvent,
    RawEventAdapter,
)
from lookalike.scan.walker import is_excluded

log = logging.getLogger(__name__)

ROOT_CHECK_S = 2.0
"""How often (seconds) the watcher checks whether a root vanished, came back or was replaced."""

@dataclass
class _Pending:
    """A buffered event and the file's (size_bytes, mtime_ns) when it was last seen."""

    event: FileEvent
    stat: tuple[int, int] | None


class Watcher:
    """Watches folders recursively and calls ``on_events`` with batches of :class:`FileEvent`.

    Moves within the watched roots stay moves; a move out of the roots is reported as a
    deletion and a move into them as a creation. Hidden and system folders, ``exclude``
    subtrees and files whose suffix is not in ``suffixes`` are ignored.

    Thread-safe. ``on_events`` runs on the watcher's flusher thread with plain data; it should
    return quickly (queue the work).
    """

    def __init__(
        self,
        roots: Sequence[Path],
        on_events: Callable[[list[FileEvent]], None],
        debounce_s: float = 1.0,
        *,
        suffixes: Collection[str] | None = None,
        exclude: Sequence[Path] = (),
        max_delay_s: float | None = None,
        root_check_s: float = ROOT_CHECK_S,
    ) -> None:
        """Prepare a watcher; nothing happens before :meth:`start`.

        Args:
            roots: absolute folders to watch recursively; missing ones are watched once they
                appear.
            on_events: receives each batch, in order, from the flusher thread.
            debounce_s: a batch is sent once no event arrived for this many seconds.
            suffixes: lower-case suffixes of the files of interest; None = every file.
            exclude: absolute folders whose events are ignored.
            max_delay_s: send a batch after this many seconds even if events keep coming
                (default ``10 * debounce_s``).
            root_check_s: seconds between checks of the roots' identity (see the module doc).
        """
        self._roots = sorted({Path(r) for r in roots}, key=lambda r: len(r.parts), reverse=True)
        self._on_events = on_events
        self._debounce_s = debounce_s
        self._max_delay_s = max_delay_s if max_delay_s is not None else 10 * debounce_s
        self._suffixes = None if suffixes is None else frozenset(suffixes)
        self._exclude = tuple(exclude)
        self._cond = threading.Condition()
        self._moves: list[_Pending] = []
        self._paths: dict[Path, _Pending] = {}
        self._first_event_s = 0.0
        self._last_event_s = 0.0
        self._observer: Any = None
        self._flusher: threading.Thread | None = None
        self._stopping = False
        self._delivering = False
        self._root_check_s = root_check_s
        self._root_ids: dict[Path, tuple[int, int] | None] = {}
        self._watches: dict[Path, Any] = {}
        self._handler = RawEventAdapter(self._on_raw)
        self._checker: threading.Thread | None = None
        self._checker_stop = threading.Event()

    @property
    def pending(self) -> int:
        """Number of buffered entries not yet delivered (including a batch being delivered)."""
        with self._cond:
            return len(self._moves) + len(self._paths) + int(self._delivering)

    def start(self) -> None:
        """Start the observer and the flusher thread. Calling it twice is an error."""
        from watchdog.observers import Observer

        _quiet_rewatch_warning()
        with self._cond:
            if self._observer is not None:
                raise RuntimeError("Watcher already started")
            self._stopping = False
            self._observer = Observer()
        self._checker_stop.clear()
        for root in self._roots:
            self._root_ids[root] = _identity(root)
            if self._root_ids[root] is None:
                log.warning("not watching %s yet: folder not found", root)
            else:
                self._watch_root(root)
        self._observer.start()
        self._flusher = threading.Thread(target=self._flush_loop, name="lookalike-watcher",
                                         daemon=True)
        self._flusher.start()
        self._checker = threading.Thread(target=self._check_loop, name="lookalike-roots",
                                         daemon=True)
        self._checker.start()

    def stop(self) -> None:
        """Stop watching; events not delivered yet are dropped (a later sync finds them)."""
        with self._cond:
            observer, self._observer = self._observer, None
            self._stopping = True
            self._checker_stop.set()
            dropped = len(self._moves) + len(self._paths)
            self._moves.clear()
            self._paths.clear()
            self._cond.notify_all()
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        for thread in (self._flusher, self._checker):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        if dropped:
            log.debug("watcher stopped with %d undelivered events", dropped)

    # --- roots (checker thread) ---------------------------------------------------------------

    def _check_loop(self) -> None:
        """Check the roots' identity every ``root_check_s`` seconds until stopped."""
        while not self._checker_stop.wait(self._root_check_s):
            try:
                self._check_roots()
            except Exception:
                log.exception("checking the watched roots failed")

    def _check_roots(self) -> None:
        """Re-arm the watch of every root whose folder vanished, appeared or was replaced,
        and report the root itself so the receiver resyncs it."""
        for root in self._roots:
            now = _identity(root)
            if now == self._root_ids.get(root):
                continue
            self._root_ids[root] = now
            with self._cond:
                observer, old = self._observer, self._watches.pop(root, None)
            if observer is None:
                return
            if old is not None:
                observer.unschedule(old)  # it follows the folder's old inode, wherever it went
            if now is None:
                log.warning("%s is gone; watching for its return", root)
                self._add_path(FileEvent(DELETED, root, None, True))
            elif self._watch_root(root):
                log.info("%s is there (again); resyncing it", root)
                self._add_path(FileEvent(CREATED, root, None, True))

    def _watch_root(self, root: Path) -> bool:
        """Schedule a recursive watch of ``root``; False (and retried later) if that fails."""
        try:
            watch = self._observer.schedule(self._handler, os.fspath(root), recursive=True)
        except OSError as exc:  # vanished again, or no permission
            log.warning("cannot watch %s: %s", root, exc.strerror or exc)
            self._root_ids[root] = None
            return False
        with self._cond:
            self._watches[root] = watch
        return True

    # --- intake (observer thread) -------------------------------------------------------------

    def _on_raw(self, kind: EventKind, src: Path, dest: Path | None, is_dir: bool) -> None:
        """Filter one raw watchdog event and fold it into the pending state."""
        if kind == MOVED and dest is not None:
            src_ok, dest_ok = self._relevant(src, is_dir), self._relevant(dest, is_dir)
            if src_ok and dest_ok:
                self._add_move(FileEvent(MOVED, src, dest, is_dir))
            elif src_ok:
                self._add_path(FileEvent(DELETED, src, None, is_dir))
            elif dest_ok:
                self._add_path(FileEvent(CREATED, dest, None, is_dir))
        elif self._relevant(src, is_dir):
            self._add_path(FileEvent(kind, src, None, is_dir))

    def _relevant(self, path: Path, is_dir: bool) -> bool:
        """Whether a path lies in a root, is not excluded and (for files) has a photo suffix."""
        root = next((r for r in self._roots if r == path or r in path.parents), None)
        if root is None or (path != root and is_excluded(path, root, self._exclude)):
            return False
        return is_dir or self._suffixes is None or path.suffix.lower() in self._suffixes

    def _add_path(self, event: FileEvent) -> None:
        """Coalesce a created/modified/deleted event with what is pending for its path."""
        stat = None if event.kind == DELETED or event.is_dir else _stat(event.path)
        with self._cond:
            previous = self._paths.pop(event.path, None)
            if previous is not None and previous.event.kind == CREATED and event.kind == MODIFIED:
                event = previous.event
            self._paths[event.path] = _Pending(event, stat)
            self._touch()

    def _add_move(self, event: FileEvent) -> None:
        """Record a move, folding it into a pending creation or an earlier move of the same file."""
        assert event.dest is not None
        stat = None if event.is_dir else _stat(event.dest)
        with self._cond:
            self._paths.pop(event.dest, None)
            previous = self._paths.pop(event.path, None)
            if previous is not None and previous.event.kind == CREATED:
                self._paths[event.dest] = _Pending(replace(previous.event, path=event.dest), stat)
            else:
                chained = next((m for m in self._moves if m.event.dest == event.path), None)
                if chained is not None:
                    chained.event = replace(chained.event, dest=event.dest)
                else:
                    self._moves.append(_Pending(event, None))
                if previous is not None and previous.event.kind != DELETED:
                    self._paths[event.dest] = _Pending(replace(previous.event, path=event.dest),
                                                       stat)
            self._touch()

    def _touch(self) -> None:
        """Note the time of an event (call with the lock held) and wake the flusher."""
        now = time.monotonic()
        self._first_event_s = self._first_event_s or now
        self._last_event_s = now
        self._cond.notify_all()

    # --- delivery (flusher thread) -------------------------------------------------------------

    def _flush_loop(self) -> None:
        """Wait for quiet periods and deliver batches until stopped."""
        while True:
            with self._cond:
                batch = self._wait_for_batch()
                if batch is None:
                    return
                self._delivering = True
            try:
                events = self._stable(batch)
                if events:
                    log.debug("delivering %d file events", len(events))
                    self._on_events(events)
            except Exception:
                log.exception("file event handler failed")
            finally:
                with self._cond:
                    self._delivering = False

    def _wait_for_batch(self) -> list[_Pending] | None:
        """Block (lock held) until a batch is due; take it out of the pending state."""
        while not self._stopping:
            if self._moves or self._paths:
                now = time.monotonic()
                due = min(self._last_event_s + self._debounce_s,
                          self._first_event_s + self._max_delay_s)
                if now >= due:
                    return self._take_batch()
                self._cond.wait(timeout=due - now)
            else:
                self._cond.wait()
        return None

    def _take_batch(self) -> list[_Pending]:
        """Remove and return everything pending: the moves in order, then the paths."""
        with self._cond:
            batch = self._moves + list(self._paths.values())
            self._moves, self._paths = [], {}
            self._first_event_s = 0.0
            return batch

    def _stable(self, batch: list[_Pending]) -> list[FileEvent]:
        """Return the events ready to deliver; put back files that are still being written."""
        ready: list[FileEvent] = []
        for item in batch:
            event = item.event
            if event.kind in (CREATED, MODIFIED) and not event.is_dir:
                now = _stat(event.path)
                if now is not None and now != item.stat:
                    self._requeue(event, now)
                    continue
            ready.append(event)
        return ready

    def _requeue(self, event: FileEvent, stat: tuple[int, int]) -> None:
        """Keep a still-changing file for the next window (unless a newer event replaced it)."""
        log.debug("%s is still being written; retrying later", event.path)
        with self._cond:
            if event.path not in self._paths:
                self._paths[event.path] = _Pending(event, stat)
                self._touch()


def _identity(folder: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a folder, or None if there is no folder at that path."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(folder) else None


def _quiet_rewatch_warning() -> None:
    """Silence watchdog's "Callback with id ... already exists" RuntimeWarning.

    watchdog 7.1 keeps the inotify watch of a subfolder moved out of a watched tree (inotify
    watches follow the inode); when the folder is moved back, inotify hands out the same watch
    descriptor and watchdog warns that it re-registers it, then updates the path, which is
    exactly right. Printed to the user's terminal during churn it only alarmed; it is dropped
    here (the move events themselves are reported as usual).
    """
    warnings.filterwarnings("ignore", message=r"Callback with id .* already exists",
                            category=RuntimeWarning, module=r"watchdog\.")


def _stat(path: Path) -> tuple[int, int] | None:
    """(size_bytes, mtime_ns) of a file, or None if it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)

