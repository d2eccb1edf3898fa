"""Opening the library on a thread, with a small window when it takes a while.

``Library.open`` usually takes well under a second, but it rebuilds the search index from the
catalog when the index file is missing or damaged, or when an update changed its layout: about
100 s for 100,000 photos on two cores, half an hour at a million. Run on the GUI thread, that
showed nothing at all until the main window appeared. :func:`open_with_progress` runs it on a
thread, keeps Qt's event loop turning, and after :data:`SHOW_AFTER_MS` shows
:class:`OpeningDialog`, which reports the rebuild (photos done of how many, time left).

The dialog cannot be closed: the library is not usable until the open ends. Stopping the app
meanwhile (Ctrl+C, a kill) is safe; the catalog is untouched and the rebuild starts over on the
next start. So Ctrl+C keeps its default action (end the process) while the library opens.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QVBoxLayout, QWidget

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""``progress(done, total)``: photos added to the index being rebuilt, of how many."""

SHOW_AFTER_MS = 400
"""An open that ends sooner shows no window at all (the usual case)."""

POLL_MS = 100
"""How often the dialog reads the opening thread's progress."""


class OpeningDialog(QDialog):
    """ "Opening your library…", and while the index is rebuilt, how far it is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Lookalike")
        self.setWindowFlag(Qt.WindowType.WindowCloseButtonHint, False)
        self.setMinimumWidth(440)
        self._title = QLabel("<b>Opening your library…</b>")
        self._bar = QProgressBar()
        self._bar.setRange(0, 0)  # busy until a rebuild reports its size
        self._detail = QLabel("")
        self._why = QLabel(
            "This happens once, after an update or when the index file was missing or "
            "damaged. Your photos and the catalog are not touched; if Lookalike is stopped "
            "now, it starts over next time."
        )
        self._why.setWordWrap(True)
        self._why.hide()
        layout = QVBoxLayout(self)
        for widget in (self._title, self._bar, self._detail, self._why):
            layout.addWidget(widget)
        self._started: tuple[float, int] | None = None  # (time, done) of the first report

    def show_progress(self, done: int, total: int) -> None:
        """Show a rebuild at ``done`` of ``total`` photos, with the time left once known."""
        now = time.monotonic()
        if self._started is None:
            self._started = (now, done)
        self._title.setText("<b>Rebuilding the search index</b>")
        self._bar.setRange(0, max(1, total))
        self._bar.setValue(min(done, total))
        left = _time_left(self._started, now, done, total)
        self._detail.setText(f"{done:,} of {total:,} photos{left}")
        if self._why.isHidden():
            self._why.show()
            self.adjustSize()

    def detail_text(self) -> str:
        """The line under the bar (tests read it)."""
        return self._detail.text()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()  # the library is not usable before the open ends

    def reject(self) -> None:
        """Escape does nothing either."""


def _time_left(started: tuple[float, int], now: float, done: int, total: int) -> str:
    """ ", about N min left" from the rate since the first report ("" before it is known)."""
    seconds, added = now - started[0], done - started[1]
    if seconds < 2.0 or added <= 0 or done >= total:
        return ""
    left = (total - done) * seconds / added
    return (
        f", about {max(1, round(left / 60))} min left"
        if left >= 60
        else f", about {max(1, round(left))} s left"
    )


def open_with_progress(open_library: Callable[[Progress], T],
                       show_after_ms: int = SHOW_AFTER_MS) -> T:  # fmt: skip
    """Run ``open_library(progress)`` on a thread while Qt's event loop turns.

    Args:
        open_library: opens the library, reporting a rebuild through its argument (called
            from the opening thread).
        show_after_ms: show :class:`OpeningDialog` if the open is still running by then.

    Returns:
        What ``open_library`` returned.

    Raises:
        Whatever ``open_library`` raised, on the calling (GUI) thread.
    """
    latest: list[tuple[int, int]] = []
    outcome: list[T] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def run() -> None:
        try:
            outcome.append(open_library(lambda done, total: latest.append((done, total))))
        except BaseException as exc:  # handed to the GUI thread below
            failure.append(exc)
        finally:
            finished.set()

    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C: stop, as a kill would
    try:
        thread = threading.Thread(target=run, name="open-library", daemon=True)
        thread.start()
        if not finished.wait(min(show_after_ms, 50) / 1000):
            _wait_showing(finished, latest, show_after_ms)
        thread.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    if failure:
        raise failure[0]
    return outcome[0]


def _wait_showing(finished: threading.Event, latest: list[tuple[int, int]],
                  show_after_ms: int) -> None:  # fmt: skip
    """Turn the event loop until ``finished``; show the dialog after ``show_after_ms``."""
    loop, started = QEventLoop(), time.monotonic()
    dialog: OpeningDialog | None = None
    timer = QTimer(interval=POLL_MS)

    def poll() -> None:
        nonlocal dialog
        if finished.is_set():
            loop.quit()
            return
        if dialog is None and (time.monotonic() - started) * 1000 >= show_after_ms:
            dialog = OpeningDialog()
            dialog.show()
        if dialog is not None and latest:
            dialog.show_progress(*latest[-1])

    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(0, poll)
    loop.exec()
    timer.stop()
    if dialog is not None:
        dialog.hide()
        dialog.deleteLater()
