"""What a drop or a paste carries: folders to add, photo files to search with, or raw pixels."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DropContent:
    """The useful part of a drop or of the clipboard.

    Attributes:
        folders: existing folders (to add to the library).
        files: existing files (the first one is searched with).
        image: pixels without a file (a screenshot, an image copied from a browser), or None.
    """

    folders: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    image: QImage | None = None

    def empty(self) -> bool:
        """Whether there is nothing to act on."""
        return not self.folders and not self.files and self.image is None


def _local_path(text: str) -> Path | None:
    """An existing file or folder named by a line of text (plain path or file:// URL)."""
    text = text.strip().strip('"').strip("'")
    if not text:
        return None
    if text.startswith("file:"):
        text = QUrl(text).toLocalFile()
    path = Path(text).expanduser()
    try:
        return path if path.is_absolute() and path.exists() else None
    except OSError:  # e.g. a name too long to be a path
        return None


def read_mime(mime: QMimeData) -> DropContent:
    """Sort a drop's or the clipboard's content into folders, files and an image.

    URLs win over text, and files over pixels (a file keeps its EXIF orientation and lets the
    library reuse the stored vector of a library photo).
    """
    paths: list[Path] = []
    if mime.hasUrls():
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        paths = [p for p in paths if p.exists()]
    if not paths and mime.hasText():
        found = (_local_path(line) for line in mime.text().splitlines()[:100])
        paths = [p for p in found if p is not None]
    folders = [p for p in paths if p.is_dir()]
    files = [p for p in paths if p.is_file()]
    image = None
    if not files and not folders and mime.hasImage():
        candidate = QImage(mime.imageData())
        image = candidate if not candidate.isNull() else None
    return DropContent(folders, files, image)
