"""The query panel: the photo being searched with, and the region of it the user selected."""

from __future__ import annotations

import logging

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from lookalike.gui.icons import tool_button
from lookalike.gui.layouts import panel
from lookalike.gui.region_overlay import Box, RegionOverlay

log = logging.getLogger(__name__)

PLACEHOLDER = (
    "Drop a photo here\n\nor paste one (Ctrl+V), or open a file (Ctrl+O)\n\n"
    "Lookalike finds the photos in your library that show the same place or object."
)


class QueryView(QWidget):
    """Shows the query photo; dragging over it selects a region to search for instead.

    Dropping files is handled by the main window (drops anywhere on it count), so this widget
    only renders the query and owns the crop rectangle.

    Signals:
        openRequested(): the user clicked "Open…".
        pasteRequested(): the user clicked "Paste".
        cropChanged(object): the selected region changed: a ``Box`` (fractions 0..1) or None.
    """

    openRequested = Signal()
    pasteRequested = Signal()
    cropChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queryPanel")
        title = QLabel("Query")
        title.setObjectName("panelTitle")
        self._open = tool_button(self, "open", "Open a photo… (Ctrl+O)", self.openRequested.emit)
        self._paste = tool_button(
            self, "paste", "Paste a photo or a path (Ctrl+V)", self.pasteRequested.emit
        )
        self._clear = tool_button(
            self, "crop-clear", "Search the whole photo again", self.clear_crop
        )
        self._clear.setText("Whole photo")
        self._clear.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._clear.setVisible(False)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(title)
        header.addStretch(1)
        for button in (self._clear, self._open, self._paste):
            header.addWidget(button)
        self.canvas = RegionOverlay(self)
        self.canvas.setObjectName("queryCanvas")
        self.canvas.setAccessibleName("Query photo; drag to select a region to search for")
        self.canvas.set_placeholder(PLACEHOLDER)
        self.canvas.regionDrawn.connect(self.set_crop)
        self._caption = QLabel("")
        self._caption.setObjectName("caption")
        self._caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._caption.setWordWrap(True)
        self._hint = QLabel("Tip: drag over the photo to search for just that part.")
        self._hint.setObjectName("hint")
        self._hint.setWordWrap(True)
        self._hint.setVisible(False)
        layout = panel(self, header, self.canvas)
        layout.addWidget(self._caption)
        layout.addWidget(self._hint)

    def show_loading(self, caption: str) -> None:
        """A new query is on its way: no photo, no region (without emitting), a caption."""
        self.canvas.set_image(None)
        self.canvas.set_placeholder("Loading…")
        self.canvas.set_drawing_enabled(False)
        self._caption.setText(caption)
        self._clear.setVisible(False)

    def show_unreadable(self, reason: str) -> None:
        """The query photo cannot be shown."""
        self.canvas.set_image(None)
        self.canvas.set_placeholder(f"Can't show this photo\n\n{reason}")

    def set_query(self, image: QImage, caption: str) -> None:
        """Show a new query photo; clears any region without emitting :attr:`cropChanged`."""
        self.canvas.set_image(image)
        self.canvas.set_placeholder(PLACEHOLDER)
        self.canvas.set_drawing_enabled(True)
        self._caption.setText(caption)
        self._clear.setVisible(False)
        self._hint.setVisible(True)

    def caption(self) -> str:
        """The text under the photo."""
        return self._caption.text()

    def set_caption(self, caption: str) -> None:
        """Replace the text under the photo (name, size, search time)."""
        self._caption.setText(caption)

    def image(self) -> QImage | None:
        """The query photo shown, or None."""
        return self.canvas.image()

    def crop(self) -> Box | None:
        """The selected region (fractions 0..1), or None for the whole photo."""
        return self.canvas.region()

    def set_crop(self, box: Box | None) -> None:
        """Select a region (None: the whole photo) and emit :attr:`cropChanged`."""
        if self.canvas.image() is None:
            return
        self.canvas.set_region(box)
        self._clear.setVisible(box is not None)
        self.cropChanged.emit(box)

    def restore_crop(self, box: Box | None) -> None:
        """Select a region without emitting :attr:`cropChanged` (going back in history)."""
        if self.canvas.image() is None:
            return
        self.canvas.set_region(box)
        self._clear.setVisible(box is not None)

    def clear_crop(self) -> None:
        """Search the whole photo again."""
        if self.canvas.region() is not None:
            self.set_crop(None)

    def cropped_image(self) -> QImage | None:
        """The part of the query photo that is searched with (all of it without a region)."""
        image = self.canvas.image()
        box = self.canvas.region()
        if image is None or box is None:
            return image
        w, h = image.width(), image.height()
        rect = QRect(
            round(box[0] * w),
            round(box[1] * h),
            max(1, round((box[2] - box[0]) * w)),
            max(1, round((box[3] - box[1]) * h)),
        )
        return image.copy(rect)
