"""The status-bar strip: indexing progress, pause/resume, and the unreadable-files link."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from lookalike.gui.icons import action_icon
from lookalike.gui.wording import plural
from lookalike.library import Progress, WhiteningInfo

log = logging.getLogger(__name__)


def format_eta(seconds: float | None) -> str:
    """ "about 3 min left" style text; "" when unknown."""
    if seconds is None or seconds != seconds or seconds <= 0:  # None, NaN or finished
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes:02d} min left"


def describe_progress(progress: Progress) -> str:
    """One line for a ``Progress`` while a sync runs."""
    if progress.phase == "scanning":
        found = f" · {plural(progress.total, 'photo')} found" if progress.total else ""
        return f"Looking for photos…{found}"
    if not progress.total:  # nothing to embed: the idle summary follows, no "0 of 0"
        return ""
    counted = f"{progress.done:,} of {plural(progress.total, 'photo')}"
    if progress.phase == "switching":  # another quality chosen, or a new version of the model
        text = f"Moving to the new model: {counted}"
    else:
        text = f"Indexing {counted}"
    if progress.phase not in ("embedding", "switching") or progress.done >= progress.total:
        return text
    if progress.photos_per_s:
        text += f" · {progress.photos_per_s:.1f} photos/s"
    eta = format_eta(progress.eta_s)
    return f"{text} · {eta}" if eta else text


class IndexStatus(QWidget):
    """Indexing progress for the status bar, with pause/resume and an "N unreadable" link.

    Signals:
        pauseRequested(): the user paused indexing.
        resumeRequested(): the user resumed indexing.
        skippedRequested(): the user clicked the unreadable-files link.
    """

    pauseRequested = Signal()
    resumeRequested = Signal()
    skippedRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel("")
        self.message.setObjectName("statusMessage")
        self.notice = QLabel("")
        self.notice.setObjectName("statusNotice")
        self.notice.setVisible(False)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(200)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.bar.setVisible(False)
        self.pause = QToolButton(self)
        self.pause.setAutoRaise(True)
        self.pause.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause.clicked.connect(self._on_pause_clicked)
        self.pause.setVisible(False)
        self.skipped = QLabel("")
        self.skipped.setObjectName("skippedLink")
        self.skipped.setTextFormat(Qt.TextFormat.RichText)
        self.skipped.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.skipped.linkActivated.connect(lambda _link: self.skippedRequested.emit())
        self.skipped.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(10)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.notice, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.pause)
        layout.addWidget(self.skipped)
        self._running = False
        self._paused = False
        self._update_pause()

    def show_notice(self, text: str) -> None:
        """Show the status bar's passing message in place of the indexing line ("" ends it).

        This widget spans the whole status bar, where ``QStatusBar.showMessage`` would paint
        its text underneath it; connect ``QStatusBar.messageChanged`` here so that every such
        message is seen.
        """
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self.notice.setVisible(bool(text))
        self.message.setVisible(not text)

    def set_running(self, running: bool) -> None:
        """A sync started (True) or stopped (False)."""
        self._running = running
        if running:
            self._paused = False
        self.bar.setVisible(running)
        self._update_pause()

    def set_paused(self, paused: bool, pending: int = 0) -> None:
        """Show the paused state (indexing stopped by the user with photos left)."""
        self._paused = paused
        if paused:
            self.message.setText(f"Indexing paused · {plural(pending, 'photo')} left to index")
        self._update_pause()

    def show_progress(self, progress: Progress) -> None:
        """Show a ``Progress`` from the running sync (one with nothing to do changes nothing:
        the idle summary stays, without a "0 of 0 photos" flash)."""
        text = describe_progress(progress)
        if not text:
            return
        self.message.setText(text)
        if progress.phase == "scanning" or not progress.total:
            self.bar.setRange(0, 0)  # busy indicator while counting
        else:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
        if progress.current is not None:
            self.message.setToolTip(str(progress.current))

    def show_summary(
        self, indexed: int, pending: int, offline: int, learned: WhiteningInfo | None = None
    ) -> None:
        """The idle line: how much is searchable, and whether searches use what was learned
        from the library (``learned``: a ``WhiteningInfo`` or None)."""
        if self._paused:
            self.set_paused(True, pending)
            return
        if not (indexed or pending or offline):
            self.message.setText("No photos yet: add a folder to start")
            return
        parts = [f"{plural(indexed, 'photo')} searchable"]
        if pending and not self._running:
            parts.append(f"{pending:,} waiting to be indexed")
        if offline:
            parts.append(f"{offline:,} on offline drives")
        if learned is not None:
            parts.append("tuned to this library")
        if not self._running:
            self.message.setText(" · ".join(parts))
            self.message.setToolTip(
                ""
                if learned is None
                else f"Searches use what was learned from {learned.photos:,} photos "
                f"({learned.pairs:,} pairs of similar photos)"
            )

    def set_skipped(self, count: int) -> None:
        """Show the "N unreadable" link (hidden at 0)."""
        self.skipped.setVisible(count > 0)
        self.skipped.setText(f'<a href="#skipped">{count:,} unreadable</a>')
        self.skipped.setToolTip("Files that could not be read as photos: click for the list")

    def _update_pause(self) -> None:
        if self._running:
            self.pause.setIcon(action_icon("pause"))
            self.pause.setText("Pause")
            self.pause.setToolTip("Pause indexing; it carries on where it stopped")
        else:
            self.pause.setIcon(action_icon("resume"))
            self.pause.setText("Resume")
            self.pause.setToolTip("Resume indexing")
        self.pause.setVisible(self._running or self._paused)

    def _on_pause_clicked(self) -> None:
        if self._running:
            self._paused = True
            self.pauseRequested.emit()
        else:
            self._paused = False
            self.resumeRequested.emit()
        self._update_pause()
