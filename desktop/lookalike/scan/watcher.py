"""The watcher the library runs: a :class:`~lookalike.scan.debounce.Watcher` plus one worker
thread that processes its batches in order.

:class:`FileEvent` (from :mod:`lookalike.scan.events`) is part of this module's interface: the
batches handed to ``process`` are lists of it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from lookalike.scan.debounce import ROOT_CHECK_S, Watcher
from lookalike.scan.events import FileEvent

__all__ = ["FileEvent", "WatchHandle"]

log = logging.getLogger(__name__)


class WatchHandle:
    """A running :class:`Watcher` plus one worker thread that processes its batches in order.

    ``process(events, stopping)`` runs on the worker thread, one call at a time; it should
    return soon after ``stopping`` is set. Batches that queue up while it runs are merged.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        process: Callable[[list[FileEvent], threading.Event], None],
        debounce_s: float = 1.0,
        *,
        suffixes: Collection[str] | None = None,
        exclude: Sequence[Path] = (),
        root_check_s: float = ROOT_CHECK_S,
    ) -> None:
        """Prepare the watcher and the worker; call :meth:`start`."""
        self._process = process
        self._queue: queue.Queue[list[FileEvent]] = queue.Queue()
        self._watcher = Watcher(roots, self._enqueue, debounce_s, suffixes=suffixes,
                                exclude=exclude, root_check_s=root_check_s)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._outstanding = 0  # batches queued or being processed
        self._worker = threading.Thread(target=self._run, name="lookalike-watch-worker",
                                        daemon=True)

    def start(self) -> None:
        """Start watching and processing."""
        self._worker.start()
        self._watcher.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop watching, let the running batch finish (it sees ``stopping``), join the worker.

        Idempotent; safe to call from any thread but the worker's.
        """
        self.stopping.set()
        self._watcher.stop()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout_s)

    def idle(self) -> bool:
        """True when no event is buffered, queued or being processed."""
        with self._lock:
            outstanding = self._outstanding
        return outstanding == 0 and self._watcher.pending == 0

    def wait_idle(self, timeout_s: float = 30.0, settle_s: float = 0.75) -> bool:
        """Block until the handle has been :meth:`idle` for ``settle_s`` seconds in a row.

        The settle time lets events still in flight from the operating system arrive (on
        Linux, watchdog holds a move out of the tree for 0.5 s while it looks for its pair).

        Returns:
            False if ``timeout_s`` passed first.
        """
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            now = time.monotonic()
            if not self.idle():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= settle_s:
                return True
            time.sleep(0.05)
        return False

    def _enqueue(self, events: list[FileEvent]) -> None:
        """Watcher callback (flusher thread): hand a batch to the worker."""
        with self._lock:
            self._outstanding += 1
        self._queue.put(events)

    def _run(self) -> None:
        """Worker loop: take batches (merging those that queued up) and process them."""
        while not self.stopping.is_set():
            try:
                events = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            taken = 1
            while not self._queue.empty():
                events.extend(self._queue.get_nowait())
                taken += 1
            try:
                self._process(events, self.stopping)
            except Exception:
                log.exception("processing file events failed")
            finally:
                with self._lock:
                    self._outstanding -= taken
