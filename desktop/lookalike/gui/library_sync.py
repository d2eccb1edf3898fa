"""Indexing and watching as the window shows them: progress, the library's counts (coalesced
refreshes), watching the folders once a sync is done, and the list of skipped files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from lookalike.gui.messages import show_failure
from lookalike.gui.skipped_dialog import SkippedDialog
from lookalike.gui.workers import Failure
from lookalike.library import Progress, Status, WatchHandle

if TYPE_CHECKING:
    from lookalike.gui.main_window import MainWindow

STATUS_EVERY_S = 3.0
"""While indexing, folder counts are refreshed at most this often."""


class LibrarySync(QObject):
    """Connects the window's sync runner, watch bridge and status bar to the library.

    The window is passed in and must have ``library``, ``runner`` (its library calls, in
    order), ``sync`` (a ``SyncRunner``), ``watch_bridge``, ``index_status``, ``sidebar``,
    ``albums``, ``learning`` and ``follow_library()``.

    Attributes:
        status_info: the last ``Status`` shown (None until the first refresh).

    Signals:
        statusRefreshed(object): a fresh ``Status`` of the library is shown.
        syncEnded(object): indexing stopped: its last ``Progress``, or None if it failed.
    """

    statusRefreshed = Signal(object)
    syncEnded = Signal(object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._w = window
        self.status_info: Status | None = None
        self._watch: WatchHandle | None = None
        self._watched: list[Path] = []
        self._status_busy = False
        self._last_status_s = 0.0
        self._closed = False
        self._status_timer = QTimer(self, singleShot=True, interval=250)
        self._status_timer.timeout.connect(self._refresh_status_now)
        status, sync = window.index_status, window.sync
        status.pauseRequested.connect(sync.pause)
        status.resumeRequested.connect(sync.start)
        status.skippedRequested.connect(self.show_skipped)
        sync.progress.connect(self._on_progress)
        sync.ended.connect(self._on_sync_ended)
        sync.runningChanged.connect(status.set_running)
        window.watch_bridge.changed.connect(self._on_watch)

    def close(self) -> None:
        """The window is closing: refresh no counts and start no watcher from now on."""
        self._closed = True

    def stop_watching(self) -> None:
        """Stop the folder watcher, if one runs."""
        if self._watch is not None:
            self._watch.stop()

    def rescan(self) -> None:
        """F5: look for new, changed and deleted photos now."""
        self._w.sync.start()

    def _on_progress(self, progress: Progress) -> None:
        self._w.index_status.show_progress(progress)
        if time.monotonic() - self._last_status_s >= STATUS_EVERY_S:
            self.request_status()

    def _on_sync_ended(self, last: Progress | None) -> None:
        w = self._w
        w.albums.mark_stale()
        w.follow_library()
        if last is not None and last.phase == "cancelled" and not w.sync.is_running():
            w.index_status.set_paused(True, self.status_info.pending if self.status_info else 0)
        self.request_status()
        if last is not None and last.phase == "done" and not self._closed:
            self._start_watch()
        self.syncEnded.emit(last)

    def _start_watch(self) -> None:
        """Watch the online roots for changes (restarted when the set of roots changed)."""
        library, bridge, current = self._w.library, self._w.watch_bridge, self._watch

        def restart() -> tuple[WatchHandle, list[Path]]:
            roots = sorted(r.path for r in library.roots() if r.online)
            if current is not None and roots == self._watched:
                return current, roots
            if current is not None:
                current.stop()
            return library.watch(on_progress=bridge.callback), roots

        def started(result: tuple[WatchHandle, list[Path]]) -> None:
            self._watch, self._watched = result

        self._w.runner.submit(restart, started, self._show_failure)

    def _on_watch(self, progress: Progress) -> None:
        if progress.phase == "embedding":
            self._w.index_status.show_progress(progress)
        else:
            self._w.albums.mark_stale()
            self._w.follow_library()
        self.request_status()

    def request_status(self) -> None:
        """Refresh counts soon (coalesces bursts of requests)."""
        if not self._status_timer.isActive():
            self._status_timer.start()

    def _refresh_status_now(self) -> None:
        if self._status_busy or self._closed:
            self._status_timer.start()
            return
        self._status_busy = True
        self._last_status_s = time.monotonic()
        w = self._w

        def shown(status: Status) -> None:
            self._status_busy = False
            self.status_info = status
            w.sidebar.set_roots(status.roots)
            w.index_status.show_summary(
                status.indexed, status.pending, status.offline, status.whitening
            )
            w.learning.set_whitening(status.whitening)
            w.index_status.set_skipped(len(status.skipped))
            self.statusRefreshed.emit(status)

        def failed(failure: Failure) -> None:
            self._status_busy = False
            self._show_failure(failure)

        w.runner.submit(w.library.status, shown, failed)

    def show_skipped(self) -> SkippedDialog:
        """Open the list of unreadable files (non-modal); returns the dialog."""
        entries = self.status_info.skipped if self.status_info is not None else []
        dialog = SkippedDialog(entries, self._w)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _show_failure(self, failure: Failure) -> None:
        show_failure(self._w, failure)
