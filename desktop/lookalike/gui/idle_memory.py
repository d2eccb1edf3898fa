"""Give the model's working memory back once the window has been idle for a while.

onnxruntime keeps the buffers of its largest run (about 70 MB for a 1024-px photo with the
int8 model, 150 MB with the float one) for as long as the session lives. A window left open
beside other programs should not hold them: after :data:`IDLE_RELEASE_MS` without a library
call, indexing progress or a watched change, :meth:`lookalike.library.Library.release_memory`
hands them back (the next search's embedding is then about 20 % slower, and a photo dragged
over the window is embedded before the drop anyway). ``benchmarks/library_window.py`` reports
the idle RSS before and after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from lookalike.gui.workers import SyncRunner, TaskRunner, WatchBridge
    from lookalike.library import Library

IDLE_RELEASE_MS = 20_000
"""Quiet time after which the model's working memory is released."""


class IdleMemory(QObject):
    """Restarts a single-shot timer on every sign of work; releases the memory when it fires.

    Its own release call is not work: it does not restart the timer, so an idle window
    releases once, not every :data:`IDLE_RELEASE_MS`.
    """

    def __init__(self, library: Library, runner: TaskRunner, sync: SyncRunner,
                 watch: WatchBridge, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._library, self._runner, self._sync = library, runner, sync
        self._release_job: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(IDLE_RELEASE_MS)
        self._timer.timeout.connect(self._release)
        runner.finished.connect(self._job_finished)
        sync.progress.connect(self.poke)
        sync.runningChanged.connect(self.poke)
        watch.changed.connect(self.poke)

    @property
    def pending(self) -> bool:
        """Whether a release is scheduled."""
        return self._timer.isActive()

    def poke(self, *_args: object) -> None:
        """Work happened: release only after another quiet :data:`IDLE_RELEASE_MS`."""
        self._timer.start()

    def _job_finished(self, job_id: int, *_args: object) -> None:
        if job_id != self._release_job:
            self.poke()

    def _release(self) -> None:
        if self._runner.busy() or self._sync.is_running():
            self.poke()  # still working: try again later
            return
        self._release_job = self._runner.submit(
            self._library.release_memory, lambda _none: None, lambda _failure: None)
