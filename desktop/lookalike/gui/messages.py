"""Telling the user things: known problems in the status bar, bugs in a crash dialog."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QMessageBox

from lookalike import __version__
from lookalike.gui.workers import Failure

log = logging.getLogger(__name__)

KNOWN_MESSAGE_MS = 10_000


def show_failure(window: QMainWindow, failure: Failure) -> None:
    """A ``KnownError`` goes to the status bar as is; anything else opens the crash dialog
    (non-modal) with the traceback under "Show Details…"."""
    if failure.known:
        window.statusBar().showMessage(failure.message, KNOWN_MESSAGE_MS)
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "Lookalike hit a bug",
        f"Something went wrong inside Lookalike:\n\n{failure.message}\n\n"
        "Your library is safe. Please report this with the details below.",
        QMessageBox.StandardButton.Close,
        window,
    )
    box.setDetailedText(failure.detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def show_about(window: QMainWindow) -> None:
    """The About box."""
    QMessageBox.about(
        window,
        "About Lookalike",
        f"<h3>Lookalike {__version__}</h3><p>Finds the photos in your own library that show the "
        "same place, object or scene as the one you drop in. Everything stays on your "
        "computer.</p>",
    )


def install_excepthook(window: QMainWindow) -> None:
    """Show exceptions that escape a slot on the GUI thread in the crash dialog (PySide6 only
    prints them otherwise), after logging them."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("unhandled exception", exc_info=(kind, exc, tb))
        if isinstance(exc, KeyboardInterrupt):
            window.close()
            return
        show_failure(window, Failure.from_exception(exc.with_traceback(tb)))

    sys.excepthook = hook
