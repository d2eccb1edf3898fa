"""Start the window: ``run(library, settings, settings_path)`` is what ``lookalike gui`` calls."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from lookalike import __version__, paths
from lookalike.gui.icons import app_icon
from lookalike.gui.main_window import MainWindow
from lookalike.gui.messages import install_excepthook
from lookalike.library import Library
from lookalike.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = "window.ini"
"""Window geometry and splitter positions, next to the settings file."""


def window_state() -> QSettings:
    """Where the window remembers its geometry (INI file in ``paths.config_dir()``)."""
    return QSettings(str(paths.config_dir() / STATE_FILE), QSettings.Format.IniFormat)


def application() -> QApplication:
    """The QApplication, created (with name, icon and stylesheet) if there is none yet."""
    existing = QApplication.instance()
    if existing is None:
        app = QApplication(sys.argv[:1])
    elif isinstance(existing, QApplication):
        app = existing
    else:  # instance() is typed QCoreApplication: a widget-less one can't show a window
        raise RuntimeError("a QCoreApplication without widgets is already running")
    app.setApplicationName("Lookalike")
    app.setOrganizationName("Lookalike")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.lookalike.Lookalike")  # matches resources/linux
    app.setWindowIcon(app_icon())
    style = paths.resource("qss", "lookalike.qss")
    try:
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    except OSError as exc:
        log.warning("no stylesheet (%s); using the plain platform style", exc)
    return app


def show_open_error(message: str) -> int:
    """Tell the user, in a window, that the library could not be opened; returns exit code 1.

    ``lookalike gui`` calls this instead of :func:`run` when ``Library.open`` fails with a
    KnownError (a damaged catalog that cannot be rebuilt, a library open in another
    Lookalike, a full disk): started from a menu, there is no terminal to read.
    """
    application()
    box = QMessageBox(QMessageBox.Icon.Critical, "Lookalike",
                      "The photo library could not be opened.")
    box.setInformativeText(message)
    box.setObjectName("open_error")
    box.exec()
    return 1


def show_notes(window: MainWindow, notes: list[str]) -> QMessageBox | None:
    """Show what opening the library repaired (see ``Library.notes``) over the window,
    without blocking it; None when there is nothing to say."""
    if not notes:
        return None
    box = QMessageBox(QMessageBox.Icon.Warning, "Lookalike", "The library was repaired.",
                      parent=window)
    box.setInformativeText("\n\n".join(notes))
    box.setObjectName("repair_notes")
    box.open()
    return box


def create_window(library: Library, settings: Settings, settings_path: Path | None) -> MainWindow:
    """Build the main window (not shown) on an existing QApplication."""
    return MainWindow(library, settings, settings_path, window_state())


def run(
    library: Library,
    settings: Settings,
    settings_path: Path | None = None,
    query: Path | None = None,
) -> int:
    """Show the window and run the event loop until it closes.

    Args:
        library: an open ``lookalike.library.Library``; closed when the window closes (the
            index is saved, and indexing resumes where it stopped on the next start).
        settings: the current settings (the settings dialog edits them).
        settings_path: where the settings dialog saves them; None: the default location.
        query: a photo to search for as soon as the window is up (``lookalike gui photo.jpg``).

    Returns:
        The process exit code.
    """
    app = application()
    window = create_window(library, settings, settings_path)
    install_excepthook(window)
    # Ctrl+C and SIGTERM (logout, kill) close the window like the user would: indexing is
    # cancelled and the library saved, so the next start resumes.
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: window.close()) for sig in stops}
    wake = QTimer(window, interval=250)  # lets Python run its signal handlers
    wake.timeout.connect(lambda: None)
    wake.start()
    window.show()
    show_notes(window, list(getattr(library, "notes", [])))
    QTimer.singleShot(0, window.start)
    if query is not None:
        QTimer.singleShot(0, lambda: window.search_file(Path(query).expanduser().resolve()))
    try:
        code = app.exec()
    finally:
        window.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.excepthook = sys.__excepthook__
    return int(code)
