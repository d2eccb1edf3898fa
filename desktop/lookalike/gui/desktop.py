"""Hand files to the desktop: open with the default viewer, show in the file manager."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def open_file(path: Path) -> bool:
    """Open a photo (or folder) with the system's default application."""
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
    if not ok:
        log.info("no application opened %s", path)
    return ok


def open_or_explain(path: Path, parent: QWidget) -> QMessageBox | None:
    """Open a photo with the default application; if none opens it, tell the user why
    (a non-modal message box, returned) instead of failing silently."""
    if open_file(path):
        return None
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "No application opened the photo",
        f"No application on this computer opened\n{path}\n\nThe photo is shown in "
        "Lookalike's own viewer (Space or double-click), or set a default photo viewer for "
        f"{path.suffix or 'this kind of'} files in your desktop's settings.",
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_in_folder(path: Path) -> bool:
    """Show a file in the file manager, selected where the platform allows it."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", str(path)])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer.exe", [f"/select,{path}"])[0]
    return open_file(path.parent)
