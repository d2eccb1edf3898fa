"""What the Search tab searches with (:class:`Query`) and the header above its results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from lookalike.gui.results_model import SCORE_EXPLAINED

RESULT_COUNTS = (50, 100, 500, 1000)


def ignore(_value: object) -> None:
    """A background call's answer (or failure) that nobody waits for."""


@dataclass(frozen=True)
class Query:
    """What is being searched with.

    Attributes:
        source: a photo file, or an (H, W, 3) uint8 RGB array (a pasted image).
        photo_id: the catalog id when the query is a library photo, else None.
        name: shown to the user.
    """

    source: Path | npt.NDArray[np.uint8]
    photo_id: int | None
    name: str


def results_header(parent: QWidget) -> tuple[QLabel, QComboBox, QHBoxLayout]:
    """The results' title (their count), the score legend and the "Best N" box, in a row."""
    count = QLabel("Results")
    count.setObjectName("panelTitle")
    count.setToolTip(SCORE_EXPLAINED)
    legend = QLabel("score = similarity + verification boost")
    legend.setObjectName("hint")
    legend.setToolTip(SCORE_EXPLAINED)
    legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    legend.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    top = QComboBox(parent)
    for n in RESULT_COUNTS:
        top.addItem(f"Best {n:,}", n)
    top.setCurrentIndex(1)
    top.setToolTip("How many results to show")
    header = QHBoxLayout()
    header.addWidget(count)
    header.addWidget(legend, 1)
    header.addWidget(top)
    return count, top, header
