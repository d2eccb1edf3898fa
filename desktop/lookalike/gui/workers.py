"""Everything slow runs here, off the GUI thread; results come back as signals of plain data.

- :class:`TaskRunner`: runs callables on its own ``QThreadPool`` and calls back on the GUI thread.
- :class:`SyncRunner`: drives ``Library.sync()`` on a ``QThread`` and relays each ``Progress``.
- :class:`WatchBridge`: turns ``Library.watch()`` callbacks (any thread) into a Qt signal.

Only the GUI thread touches widgets: callbacks and slots run there, workers only emit.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from lookalike.errors import KnownError, UnreadablePhoto

if TYPE_CHECKING:
    from lookalike.library import Library, Progress

log = logging.getLogger(__name__)

T = TypeVar("T")

PROGRESS_INTERVAL_S = 0.05
"""Least time between two relayed progress reports (the last one always goes through)."""


@dataclass(frozen=True)
class Failure:
    """Why a background call failed.

    Attributes:
        known: True for a ``KnownError`` (the environment's fault: show ``message`` as is);
            False for a bug (show a crash dialog with ``detail``).
        message: one line for the user.
        detail: the traceback, for bug reports.
    """

    known: bool
    message: str
    detail: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if isinstance(exc, UnreadablePhoto):
            return cls(True, f"Can't read {Path(str(exc.path)).name}: {exc.reason}", detail)
        if isinstance(exc, KnownError):
            return cls(True, str(exc), detail)
        return cls(False, f"{type(exc).__name__}: {exc}", detail)


class _Job(QRunnable):
    def __init__(self, runner: TaskRunner, job_id: int, call: Callable[[], object]) -> None:
        super().__init__()
        self._runner, self._job_id, self._call = runner, job_id, call

    def run(self) -> None:
        try:
            value = self._call()
        except Exception as exc:
            failure = Failure.from_exception(exc)
            if not failure.known:
                log.error("background task failed:\n%s", failure.detail)
            self._runner.finished.emit(self._job_id, False, failure)
        else:
            self._runner.finished.emit(self._job_id, True, value)


class TaskRunner(QObject):
    """Runs callables off the GUI thread, in submission order when ``threads`` is 1.

    A runner with one thread also serialises every library call the GUI makes besides the sync,
    so the GUI itself never touches the library from two threads at once.

    Signals:
        finished(int, bool, object): internal: job id, success, value or :class:`Failure`;
            emitted from a pool thread and delivered to the callbacks on the GUI thread.
    """

    finished = Signal(int, bool, object)

    def __init__(self, threads: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], object], Callable[[Failure], object]]] = {}
        self._closed = False
        self.finished.connect(self._deliver)

    def submit(
        self,
        call: Callable[[], T],
        done: Callable[[T], object],
        failed: Callable[[Failure], object],
    ) -> int:
        """Run ``call()`` on the pool; then ``done(value)`` or ``failed(Failure)`` on this thread.

        Returns:
            The job id.
        """
        job_id = next(self._ids)
        if self._closed:
            return job_id
        self._callbacks[job_id] = (done, failed)
        self._pool.start(_Job(self, job_id, call))
        return job_id

    def busy(self) -> bool:
        """Whether any submitted job has not delivered yet."""
        return bool(self._callbacks)

    def shutdown(self, wait_ms: int) -> bool:
        """Drop queued jobs, wait for running ones and never call back again; True if all
        stopped in time."""
        self._closed = True
        self._callbacks.clear()
        self._pool.clear()
        return self._pool.waitForDone(wait_ms)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, value: object) -> None:
        if self._closed:
            return
        done, failed = self._callbacks.pop(job_id, (None, None))
        if ok and done is not None:
            done(value)
        elif not ok and failed is not None:
            failed(cast(Failure, value))


class _SyncThread(QThread):
    """Iterates ``library.sync(cancel)`` and reports through its runner (never touches widgets)."""

    def __init__(self, runner: SyncRunner, library: Library, cancel: threading.Event) -> None:
        super().__init__()
        self._runner, self._library, self._cancel = runner, library, cancel

    def run(self) -> None:
        last: Progress | None = None
        last_sent = 0.0
        try:
            for progress in self._library.sync(cancel=self._cancel, batch=self._runner.batch):
                new_phase = last is None or progress.phase != last.phase
                last = progress
                now = time.monotonic()
                final = progress.phase in ("done", "cancelled")
                if final or new_phase or now - last_sent >= PROGRESS_INTERVAL_S:
                    last_sent = now
                    self._runner.progress.emit(progress)
        except Exception as exc:
            failure = Failure.from_exception(exc)
            if not failure.known:
                log.error("indexing failed:\n%s", failure.detail)
            self._runner.failed.emit(failure)
            last = None
        self._runner.ended.emit(last)


class SyncRunner(QObject):
    """Indexing in the background: ``Library.sync()`` on a ``QThread``, paused by cancelling.

    Pausing sets the sync's cancel event; the sync stops after the photo (or batch) in hand and
    ends with phase "cancelled". Resuming starts a new sync, which skips everything already
    indexed, so it carries on where it stopped.

    Signals:
        progress(object): a ``lookalike.library.Progress`` (throttled to one per
            :data:`PROGRESS_INTERVAL_S`; the first of each phase and the final one always sent).
        ended(object): the sync stopped: its last ``Progress`` (phase "done" or "cancelled"),
            or None if it failed.
        failed(object): a :class:`Failure`, before ``ended(None)``.
        runningChanged(bool): a sync started or stopped.

    Attributes:
        batch: photos per embedding batch (and commit); a pause takes effect within one photo.
    """

    progress = Signal(object)
    ended = Signal(object)
    failed = Signal(object)
    runningChanged = Signal(bool)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self.batch = 32
        self._thread: _SyncThread | None = None
        self._cancel = threading.Event()
        self._restart = False
        self.ended.connect(self._on_ended)

    def is_running(self) -> bool:
        """Whether a sync is in progress (including one asked to stop that hasn't yet)."""
        return self._thread is not None and not self._thread.isFinished()

    def start(self) -> None:
        """Start a sync; if one is running, stop it and start again once it has stopped."""
        if self._thread is not None:
            self._restart = True
            self._cancel.set()
            return
        self._cancel = threading.Event()
        self._thread = _SyncThread(self, self._library, self._cancel)
        self._thread.start()
        self.runningChanged.emit(True)

    def pause(self) -> None:
        """Ask the running sync to stop soon (no-op when idle)."""
        self._restart = False
        self._cancel.set()

    def stop(self, wait_ms: int | None) -> bool:
        """Cancel and wait up to ``wait_ms`` (None: as long as it takes) for the sync thread to
        end; True if it did."""
        self.pause()
        thread = self._thread
        if thread is None:
            return True
        return thread.wait() if wait_ms is None else thread.wait(wait_ms)

    @Slot(object)
    def _on_ended(self, _last: object) -> None:
        if self._thread is not None:
            self._thread.wait()
            self._thread.deleteLater()
        self._thread = None
        self.runningChanged.emit(False)
        if self._restart:
            self._restart = False
            self.start()


class WatchBridge(QObject):
    """Relays ``Library.watch(on_progress=...)`` callbacks, which arrive on the watcher's thread.

    Signals:
        changed(object): a ``Progress`` from the watcher (files added, changed or removed).
    """

    changed = Signal(object)

    def callback(self, progress: object) -> None:
        """Pass as ``on_progress``; safe to call from any thread."""
        self.changed.emit(progress)
