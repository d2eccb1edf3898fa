"""Query and selected result side by side, with the regions that make them match highlighted."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from lookalike.decode.image import decode
from lookalike.errors import KnownError
from lookalike.gui.images import rgb_to_qimage
from lookalike.gui.layouts import panel
from lookalike.gui.region_overlay import HIGHLIGHT_COLOURS, Box, Highlight, RegionOverlay
from lookalike.gui.results_model import PhotoItem
from lookalike.gui.wording import plural
from lookalike.library import Explanation, Library, NumberedRegion, SearchOptions
from lookalike.types import Embedding

log = logging.getLogger(__name__)

VIEW_SIDE = 1024
"""Long side, in pixels, that result photos are decoded at for this view."""

BEST_COLOUR = "#ffffff"

INLIER_COLOUR = "#c8ff3c"
"""Lines joining matching points (lime: unlike every numbered box colour and the white box)."""

MAX_INLIER_LINES = 60
"""Most matching points joined by lines; more would hide the photos."""

Points = npt.NDArray[np.float32]
"""(n, 2) float32 x, y positions."""

EMPTY_TEXT = (
    "Select a result to compare it with the query.\n"
    "The parts that make them match are boxed in both photos."
)


@dataclass(frozen=True)
class MatchDetail:
    """Everything the view shows about one result, computed off the GUI thread.

    Attributes:
        item: the result.
        image: the result decoded upright (long side <= :data:`VIEW_SIDE`).
        explanation: why it matches (``Library.explain``), or None when it has no vector.
    """

    item: PhotoItem
    image: QImage
    explanation: Explanation | None = None

    @property
    def regions(self) -> tuple[NumberedRegion, ...]:
        """The numbered regions, strongest first (none without an explanation)."""
        return () if self.explanation is None else self.explanation.regions


VERDICT_WORDS = {"same_photo": "same photo", "same_place": "same place",
                 "similar": "looks similar"}  # fmt: skip
"""A verdict in the window's words."""

class DecodedCache:
    """A small thread-safe LRU of decoded photos for this view (keyed by path)."""

    def __init__(self, capacity: int = 12) -> None:
        self._capacity = capacity
        self._images: OrderedDict[Path, QImage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> QImage:
        """The photo decoded at :data:`VIEW_SIDE`; raises ``UnreadablePhoto``."""
        with self._lock:
            if path in self._images:
                self._images.move_to_end(path)
                return self._images[path]
        image = rgb_to_qimage(decode(path, VIEW_SIDE).rgb)
        with self._lock:
            self._images[path] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        return image


def load_detail(
    library: Library, query: Embedding, item: PhotoItem, cache: DecodedCache,
    options: SearchOptions | None = None,
) -> MatchDetail:
    """Decode a result and ask the library why it matches the query (runs on a worker thread).

    Args:
        library: the ``Library`` (its :meth:`explain`).
        query: the query's embedding (``SearchResult.query``).
        item: the selected result.
        cache: decoded photos.
        options: the search's options (default: the library's defaults).
    """
    image = cache.get(item.path)
    try:
        verdict = item.verdict if item.verdict in VERDICT_WORDS else None  # "" in albums
        explained = library.explain(query, item.photo_id, options or SearchOptions(),
                                    verdict)  # type: ignore[arg-type]
    except KnownError:  # removed or re-embedded meanwhile: the photo alone
        explained = None
    return MatchDetail(item, image, explained)


def long_side_to_fractions(xy: Points, width: int, height: int) -> Points:
    """Positions in units of a photo's long side (``Locals``) → fractions of its width and height.

    Args:
        xy: (n, 2) x, y; x runs to ``width / long side``, y to ``height / long side``.
        width, height: the photo's size (any scale; only the aspect ratio counts).

    Returns:
        (n, 2) float32 fractions 0..1 of the width and of the height, as the overlay takes them.
    """
    long_side = float(max(width, height, 1))
    scale = np.asarray([long_side / max(width, 1), long_side / max(height, 1)], np.float32)
    return np.asarray(xy, np.float32).reshape(-1, 2) * scale


class _Lines(QWidget):
    """Transparent layer over both photos joining the two boxes of each numbered pair, and each
    matching point of the query to its match in the result (thin lime lines, dots at the ends).
    """

    def __init__(self, left: RegionOverlay, right: RegionOverlay, parent: QWidget) -> None:
        super().__init__(parent)
        self._left, self._right = left, right
        self._points: tuple[Points, Points] = (np.zeros((0, 2), np.float32),) * 2
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_points(self, left: Points, right: Points) -> None:
        """Matching points to join: (n, 2) fractions 0..1 of the left and of the right photo."""
        self._points = (np.asarray(left, np.float32), np.asarray(right, np.float32))
        self.update()

    def point_segments(self) -> list[tuple[QPointF, QPointF]]:
        """The lines joining matching points, in this widget's coordinates (none without
        both photos)."""
        if self._left.image() is None or self._right.image() is None:
            return []
        return [
            (self._map(self._left, a), self._map(self._right, b))
            for a, b in zip(self._points[0].tolist(), self._points[1].tolist(), strict=True)
        ]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_points(painter)
        right = {h.label: h for h in self._right.highlights() if h.label}
        for a in self._left.highlights():
            b = right.get(a.label)
            if not a.label or b is None:
                continue
            start = self._centre(self._left, a.box)
            end = self._centre(self._right, b.box)
            painter.setPen(QPen(QColor(0, 0, 0, 110), 3.6))  # halo, visible on any photo
            painter.drawLine(start, end)
            painter.setPen(QPen(QColor(a.colour), 1.6))
            painter.drawLine(start, end)

    def _paint_points(self, painter: QPainter) -> None:
        segments = self.point_segments()
        colour = QColor(INLIER_COLOUR)
        colour.setAlpha(170)
        for pen in (QPen(QColor(0, 0, 0, 60), 2.6), QPen(colour, 1.2)):  # faint halo, then line
            painter.setPen(pen)
            for start, end in segments:
                painter.drawLine(start, end)
        colour.setAlpha(230)
        painter.setPen(QPen(QColor(0, 0, 0, 150), 1.0))
        painter.setBrush(QBrush(colour))
        for start, end in segments:
            painter.drawEllipse(start, 2.6, 2.6)
            painter.drawEllipse(end, 2.6, 2.6)

    def _centre(self, overlay: RegionOverlay, box: Box) -> QPointF:
        centre = overlay.box_to_widget(box).center()
        return QPointF(overlay.mapTo(self._parent(), centre.toPoint()))

    def _map(self, overlay: RegionOverlay, xy: list[float]) -> QPointF:
        return overlay.mapTo(self._parent(), overlay.map_to_widget((xy[0], xy[1])))

    def _parent(self) -> QWidget:
        parent = self.parentWidget()
        assert parent is not None, "the lines layer lives inside the match view"
        return parent


class _Body(QWidget):
    def __init__(self, left: RegionOverlay, right: RegionOverlay, parent: QWidget) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(left, 1)
        layout.addWidget(right, 1)
        self.lines = _Lines(left, right, self)
        self.lines.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.lines.setGeometry(self.rect())
        super().resizeEvent(event)


class MatchView(QWidget):
    """The query (or its selected region) beside the selected result, matching regions marked.

    It draws what ``Library.explain`` returned (an :class:`Explanation`) and computes nothing:
    numbered boxes of the same colour mark where the same feature peaks in both photos; the
    dashed white box marks the result's region that best matches the query. "Lines" joins each
    pair of boxes, and, when the explanation counts as a match, each verified point of the
    query to its match in the result (at most :data:`MAX_INLIER_LINES`, the best first). The
    title counts those points.

    Signals:
        highlightsShown(int): the boxes for a result were drawn (number of numbered pairs).
    """

    highlightsShown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("matchPanel")
        self._title = QLabel("Why it matches")
        self._title.setObjectName("panelTitle")
        self._lines_box = QCheckBox("Lines")
        self._lines_box.setToolTip(
            "Join matching boxes, and the points that match under one consistent shift, zoom "
            "and turn, with lines"
        )
        self._best_box = QCheckBox("Best region")
        self._best_box.setToolTip(
            "Dashed: the part of the result where the match concentrates (approximate)"
        )
        self._best_box.setChecked(True)
        header = QHBoxLayout()
        header.addWidget(self._title, 1)
        header.addWidget(self._best_box)
        header.addWidget(self._lines_box)
        self.query_canvas = RegionOverlay(self)
        self.query_canvas.set_placeholder("Query")
        self.query_canvas.setAccessibleName("Query, with the matching regions numbered")
        self.result_canvas = RegionOverlay(self)
        self.result_canvas.setAccessibleName("Selected result, with the matching regions numbered")
        self.result_canvas.set_placeholder("")
        self._body = _Body(self.query_canvas, self.result_canvas, self)
        self._body.lines.setVisible(False)
        legend = QLabel(
            "Numbered boxes: the same visual feature, found in both photos (1 contributes "
            "most). Dashed box: the part of the result where the match concentrates. "
            "Lines: points that match in both photos."
        )
        legend.setObjectName("hint")
        legend.setWordWrap(True)
        shown = QWidget(self)
        shown_layout = QVBoxLayout(shown)
        shown_layout.setContentsMargins(0, 0, 0, 0)
        shown_layout.addWidget(self._body, 1)
        shown_layout.addWidget(legend)
        empty = QLabel(EMPTY_TEXT)
        empty.setObjectName("hint")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setWordWrap(True)
        self._pages = QStackedWidget(self)
        self._pages.addWidget(empty)
        self._pages.addWidget(shown)
        panel(self, header, self._pages)
        self._lines_box.toggled.connect(self._body.lines.setVisible)
        self._best_box.toggled.connect(self._refresh_highlights)
        self._detail: MatchDetail | None = None

    def set_lines_visible(self, visible: bool) -> None:
        """Show or hide the lines joining matching boxes and matching points."""
        self._lines_box.setChecked(visible)

    def lines_visible(self) -> bool:
        """Whether lines join matching boxes and matching points."""
        return self._lines_box.isChecked()

    def set_query(self, image: QImage | None) -> None:
        """The query photo (or the selected region of it) shown on the left."""
        self.query_canvas.set_image(image)
        self._refresh_highlights()

    def clear(self, message: str = "Why it matches") -> None:
        """Forget the result shown."""
        self._detail = None
        self._pages.setCurrentIndex(0)
        self._title.setText(message)
        self.result_canvas.set_image(None)
        self.query_canvas.set_highlights([])
        none = np.zeros((0, 2), np.float32)
        self._body.lines.set_points(none, none)

    def show_loading(self, item: PhotoItem) -> None:
        """A result was selected; its detail is being computed."""
        self._title.setText(f"Loading {item.path.name}…")

    def show_detail(self, detail: MatchDetail) -> None:
        """Show a result and its matching regions."""
        self._detail = detail
        item = detail.item
        score = f" · score {item.score:.3f}" if item.score is not None else ""
        points, why = "", ""
        explained = detail.explanation
        if explained is not None and explained.is_match:
            n = explained.inliers
            points = f" · {VERDICT_WORDS[explained.verdict]} · {plural(n, 'matching point')}"
            why = (f"\n{plural(n, 'matching point').capitalize()}: parts of the query found here "
                   "in the same layout")  # fmt: skip
        elif explained is not None and explained.query_points is not None:
            n = explained.inliers
            points = " · looks similar · no matching layout"
            why = f"\n{plural(n, 'point')} line up, no more than in two unrelated photos"
        self._title.setText(f"#{item.rank} {item.path.name}{score}{points}")
        self._title.setToolTip(f"{item.path}{why}")
        self.result_canvas.set_image(detail.image)
        self._pages.setCurrentIndex(1)
        self._refresh_highlights()
        self.highlightsShown.emit(len(self.query_canvas.highlights()))

    def detail(self) -> MatchDetail | None:
        """The result shown, or None."""
        return self._detail

    def point_lines(self) -> list[tuple[QPointF, QPointF]]:
        """The lines joining matching points (drawn while :meth:`lines_visible`), from the query
        to the result, in the coordinates of the layer over both photos."""
        return self._body.lines.point_segments()

    def _refresh_highlights(self) -> None:
        detail = self._detail
        if detail is None:
            return
        query, result = [], []
        explained = detail.explanation
        # verified and failed: nothing on screen may claim a match (no boxes, no lines)
        refuted = (explained is not None and explained.query_points is not None
                   and not explained.is_match)  # fmt: skip
        for region in () if refuted else detail.regions:
            colour = HIGHLIGHT_COLOURS[(region.number - 1) % len(HIGHLIGHT_COLOURS)]
            tip = (f"Feature {region.number}: {region.weight:.0%} of what the two photos share "
                   "here")  # fmt: skip
            query.append(Highlight(region.query_box, colour, str(region.number), tip=tip))
            result.append(Highlight(region.result_box, colour, str(region.number), tip=tip))
        best = None if explained is None or refuted else explained.best_box
        if best is not None and self._best_box.isChecked():  # under the numbered boxes
            tip = "Where the evidence for this match concentrates (approximate)"
            result.insert(0, Highlight(best, BEST_COLOUR, "", dashed=True, tip=tip))
        self.query_canvas.set_highlights(query)
        self.result_canvas.set_highlights(result)
        self._body.lines.set_points(*self._point_fractions(detail))

    def _point_fractions(self, detail: MatchDetail) -> tuple[Points, Points]:
        """The first :data:`MAX_INLIER_LINES` matching points as fractions of each photo shown."""
        query_image = self.query_canvas.image()
        explained = detail.explanation
        if (explained is None or explained.query_points is None or explained.result_points is None
                or query_image is None or not explained.is_match):
            none = np.zeros((0, 2), np.float32)
            return none, none
        q_xy = explained.query_points[:MAX_INLIER_LINES]
        r_xy = explained.result_points[:MAX_INLIER_LINES]
        return (
            long_side_to_fractions(q_xy, query_image.width(), query_image.height()),
            long_side_to_fractions(r_xy, detail.image.width(), detail.image.height()),
        )
