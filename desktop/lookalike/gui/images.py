"""Conversions between NumPy RGB arrays and QImage (safe to call from any thread)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtGui import QImage


def rgb_to_qimage(rgb: npt.NDArray[np.uint8]) -> QImage:
    """An independent QImage copy of an (H, W, 3) uint8 RGB array."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()  # detach from the NumPy buffer


def qimage_to_rgb(image: QImage) -> npt.NDArray[np.uint8]:
    """An (H, W, 3) uint8 RGB array copy of a QImage (alpha is dropped)."""
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = converted.width(), converted.height(), converted.bytesPerLine()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : 3 * width].reshape(height, width, 3).copy()
