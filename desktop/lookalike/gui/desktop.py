"""Hand files to the desktop: open with the default viewer, show in the file manager."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)


def open_file(path: Path) -> bool:
    """Open a photo (or folder) with the system's default application."""
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
    if not ok:
        log.warning("no application opened %s", path)
    return ok


def show_in_folder(path: Path) -> bool:
    """Show a file in the file manager, selected where the platform allows it."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", str(path)])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer.exe", [f"/select,{path}"])[0]
    return open_file(path.parent)
