"""Library ▸ Learn From This Library… and Forget What Was Learned.

Learning fits a whitening on the library's own photos and re-indexes with it
(``Library.learn_whitening``); forgetting re-indexes without it. Both take a while on a big
library, so they run on a thread of their own: searches (on the window's library runner) and
indexing go on meanwhile, and the library's lock keeps them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar, QWidget

from lookalike.gui.messages import show_failure
from lookalike.gui.workers import Failure, TaskRunner
from lookalike.library import Library, WhiteningInfo

log = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_MS = 8000


def describe_learned(info: WhiteningInfo) -> str:
    """What a ``WhiteningInfo`` means for the user, in one sentence."""
    return (
        f"Learned from {info.photos:,} photos ({info.pairs:,} pairs of similar photos). "
        "Searches now use it."
    )


class LearningCommands(QObject):
    """Runs learning and forgetting off the GUI thread, one at a time, and tells how it went.

    While one runs, both actions are disabled and the status bar shows a busy indicator. A
    learned whitening is reported in a message box; a ``KnownError`` (library too small) in
    a warning box with its text; any other failure in the crash dialog.

    Attributes:
        learn, forget: the two QActions (enabled here).
        busy_widget: the status-bar indicator shown while one runs.
        message_box: the result box (reused; None until the first result).

    Signals:
        finished(): learning or forgetting ended, successfully or not (refresh the status).
        changed(): the index in use changed (learned or forgotten): searches give new scores.
    """

    finished = Signal()
    changed = Signal()

    def __init__(
        self, window: QMainWindow, library: Library, learn: QAction, forget: QAction
    ) -> None:
        super().__init__(window)
        self._window, self._library = window, library
        self.learn, self.forget = learn, forget
        self._runner = TaskRunner(1, self)
        self._busy = False
        self._whitening: WhiteningInfo | None = None
        self.message_box: QMessageBox | None = None
        self.busy_widget = self._build_busy_widget()
        window.statusBar().addPermanentWidget(self.busy_widget)
        learn.triggered.connect(self.start_learning)
        forget.triggered.connect(self.start_forgetting)
        self._update_actions()

    def _build_busy_widget(self) -> QWidget:
        widget = QWidget(self._window)
        self._busy_label = QLabel("", widget)
        bar = QProgressBar(widget)
        bar.setRange(0, 0)
        bar.setFixedWidth(80)
        bar.setMaximumHeight(10)
        bar.setTextVisible(False)
        layout = QHBoxLayout(widget)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self._busy_label)
        layout.addWidget(bar)
        widget.setToolTip("Searches and indexing keep working meanwhile")
        widget.setVisible(False)
        return widget

    def is_busy(self) -> bool:
        """Whether learning or forgetting is running."""
        return self._busy

    def set_whitening(self, info: WhiteningInfo | None) -> None:
        """The library's learned whitening (``Status.whitening``: a ``WhiteningInfo`` or None)."""
        self._whitening = info
        self._update_actions()

    def start_learning(self) -> None:
        """Learn a whitening from the library in the background (no-op while one runs)."""
        self._run("Learning from this library…", self._library.learn_whitening, self._learned)

    def start_forgetting(self) -> None:
        """Drop the learned whitening in the background (no-op while one runs)."""
        self._run("Forgetting what was learned…", self._library.forget_whitening, self._forgot)

    def _run(self, busy_text: str, call: Callable[[], T], done: Callable[[T], object]) -> None:
        if self._busy:
            return
        self._set_busy(True, busy_text)
        self._window.statusBar().showMessage(
            f"{busy_text} Searches keep working meanwhile.", STATUS_MS
        )
        self._runner.submit(call, done, self._failed)

    def _learned(self, info: WhiteningInfo) -> None:
        self._set_busy(False)
        self._whitening = info
        self._update_actions()
        text = describe_learned(info)
        self._window.statusBar().showMessage(text, STATUS_MS)
        self._show_message(
            QMessageBox.Icon.Information,
            "Learned from this library",
            text,
            "To undo it, choose Library ▸ Forget What Was Learned.",
        )
        self.finished.emit()
        self.changed.emit()

    def _forgot(self, _result: object) -> None:
        self._set_busy(False)
        self._whitening = None
        self._update_actions()
        self._window.statusBar().showMessage(
            "Forgot what was learned; searches compare photos as they are again.", STATUS_MS
        )
        self.finished.emit()
        self.changed.emit()

    def _failed(self, failure: Failure) -> None:
        self._set_busy(False)
        if failure.known:
            self._window.statusBar().clearMessage()
            message = failure.message[:1].upper() + failure.message[1:].rstrip(".")
            self._show_message(
                QMessageBox.Icon.Warning,
                "Nothing learned",
                f"{message}.",
                "Learning looks for photos that show the same thing as another photo. Try "
                "again once the library holds more of them.",
            )
        else:
            show_failure(self._window, failure)
        self.finished.emit()

    def _show_message(self, icon: QMessageBox.Icon, title: str, text: str, more: str) -> None:
        if self.message_box is None:
            self.message_box = QMessageBox(self._window)
            self.message_box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box = self.message_box
        box.setIcon(icon)
        box.setWindowTitle(title)
        box.setText(text)
        box.setInformativeText(more)
        box.open()

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self._busy_label.setText(text)
        self.busy_widget.setVisible(busy)
        self._update_actions()

    def _update_actions(self) -> None:
        self.learn.setEnabled(not self._busy)
        self.forget.setEnabled(not self._busy and self._whitening is not None)

    def shutdown(self, wait_ms: int) -> bool:
        """Never call back again and wait up to ``wait_ms`` (-1: as long as it takes) for a
        running learn or forget to end; True if it did."""
        return self._runner.shutdown(wait_ms)
