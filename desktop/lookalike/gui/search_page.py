"""The Search tab: query panel, results grid and match view, and the searches behind them."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from lookalike.decode.image import IMAGE_SUFFIXES, decode
from lookalike.gui.images import qimage_to_rgb, rgb_to_qimage
from lookalike.gui.match_view import VIEW_SIDE, DecodedCache, MatchDetail, MatchView, load_detail
from lookalike.gui.query_view import QueryView
from lookalike.gui.region_overlay import Box
from lookalike.gui.results_model import (
    PhotoItem,
    ResultsModel,
    section_titles,
)
from lookalike.gui.results_view import ResultsView
from lookalike.gui.scope_bar import ScopeBar
from lookalike.gui.search_history import HistoryEntry, SearchHistory
from lookalike.gui.search_query import Query, ignore, results_header
from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.gui.wording import plural
from lookalike.gui.workers import Failure, TaskRunner
from lookalike.library import DBA_K, Library, SearchOptions, SearchResult
from lookalike.types import Embedding

log = logging.getLogger(__name__)

class SearchPage(QWidget):
    """Search with a photo (or a region of it) and see why each result matches.

    Library calls go through ``library_runner`` (one thread, in order); photo decoding for
    display through ``decode_runner``. Each new query or crop bumps a token, so answers to an
    outdated request are dropped instead of shown.

    Attributes:
        options: how the next search runs (from the settings; ``top`` comes from the page's
            count box). With ``rotate`` the query is also searched turned sideways and upside
            down (a library photo searched as a whole uses its stored vector, unturned).

    Every search shown is recorded in :attr:`history`; :meth:`go_back` and :meth:`go_forward`
    show an earlier one again (query, crop and results, without searching again).

    Signals:
        resultsShown(int): a search's results are in the grid (their number).
        historyChanged(): back or forward became possible or impossible.
        failed(object): a search or decode failed: a :class:`~lookalike.gui.workers.Failure`.
        message(str): a short note for the status bar.
    """

    resultsShown = Signal(int)
    historyChanged = Signal()
    failed = Signal(object)
    message = Signal(str)
    _queryDecoded = Signal(object, QImage)  # (query, its picture), from the library thread

    def __init__(
        self,
        library: Library,
        library_runner: TaskRunner,
        decode_runner: TaskRunner,
        thumbnails: ThumbnailCache,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._library = library
        self._lib_runner, self._decode_runner = library_runner, decode_runner
        self._decoded = DecodedCache()
        self._query: Query | None = None
        self._unshown: Query | None = None  # a file query whose picture its search will decode
        self._queryDecoded.connect(self._on_query_decoded)
        self._query_embedding: Embedding | None = None
        self._token = 0
        self._match_token = 0
        self.options = SearchOptions()
        self.history: SearchHistory[Query, SearchResult] = SearchHistory()
        self._gone: set[int] = set()  # photo ids known to have left the library
        self.query_view = QueryView(self)
        self.query_view.cropChanged.connect(self._on_crop_changed)
        self.model = ResultsModel(thumbnails, self)
        self.results = ResultsView(self.model, parent=self)
        self.results.currentPhotoChanged.connect(self._on_result_selected)
        self.results.currentPhotoChanged.connect(self._remember_selection)
        self.results.findSimilarRequested.connect(self.search_photo)
        self.match_view = MatchView(self)
        self.scope_bar = ScopeBar(self)  # folder (the sidebar's selection) and dates
        self.scope_bar.changed.connect(self._run_search)
        self._build_layout()

    def _build_layout(self) -> None:
        self._count, self.top, header = results_header(self)
        self.top.currentIndexChanged.connect(lambda _i: self._run_search())
        self.sections = QLabel("")
        self.sections.setObjectName("sectionTitles")
        self.sections.setWordWrap(True)
        empty = QLabel("Results appear here, most similar first.")
        empty.setObjectName("hint")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(empty)
        self._stack.addWidget(self.results)
        results_box = QWidget(self)
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(8, 8, 8, 0)
        results_layout.addLayout(header)
        results_layout.addWidget(self.scope_bar)
        results_layout.addWidget(self.sections)
        results_layout.addWidget(self._stack, 1)
        self.right = QSplitter(Qt.Orientation.Vertical, self)
        self.right.addWidget(results_box)
        self.right.addWidget(self.match_view)
        self.right.setStretchFactor(0, 1)
        self.right.setStretchFactor(1, 1)
        self.right.setSizes([380, 360])
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.query_view)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    # -- starting searches ----------------------------------------------------------------
    def search_file(self, path: Path) -> None:
        """Search with a photo file (from a drop, Open… or a pasted path); the search decodes it
        once and hands the pixels to the query view (a library photo is decoded after)."""
        path = Path(path)
        self.query_view.show_loading(f"{path.name} · searching…")
        self._unshown = query = Query(path, None, path.name)
        self._start(query)

    def prepare_file(self, path: Path) -> None:
        """Decode and embed a photo file that is being dragged over the window, so that the
        search of its drop starts from there (ignored if it is not dropped; errors show then)."""
        if path.suffix.lower() in IMAGE_SUFFIXES:
            library, rotate = self._library, self.options.rotate
            self._lib_runner.submit(lambda: library.prepare(path, rotate), ignore, ignore)

    def search_photo(self, photo_id: int, path: Path) -> None:
        """Search with a photo of the library ("Find similar")."""
        path = Path(path)
        self.query_view.show_loading(f"{path.name} · searching…")
        self._start(Query(path, photo_id, path.name))
        self._show_query_file(path)

    def search_image(self, image: QImage, name: str = "Pasted image") -> None:
        """Search with an image that is not a file (pasted or dropped pixels)."""
        rgb = qimage_to_rgb(image)
        self.query_view.set_query(rgb_to_qimage(rgb), f"{name} · searching…")
        self._start(Query(rgb, None, name))
        self.match_view.set_query(self.query_view.image())

    def find_similar_to_selected(self) -> bool:
        """Search with the selected result; False if none is selected."""
        return self.results.find_similar_to_current()

    def query(self) -> Query | None:
        """The current query, or None."""
        return self._query

    def search_again(self) -> None:
        """Repeat the current search (the index or the options changed); no-op without one."""
        self._run_search()

    def set_options(self, dba: bool, rerank: bool, rotate: bool, *, search_again: bool) -> None:
        """Search with these options from the next search on (the settings of the same names).

        Each search takes the options as they are when it is asked for; searches already
        queued keep theirs.

        Args:
            dba: refine results with each match's nearest photos.
            rerank: check the top matches point by point.
            rotate: also search with the query turned (see :attr:`options`).
            search_again: repeat the current search with them (if there is one).
        """
        self.options = replace(self.options, dba=DBA_K if dba else 0, rerank=rerank,
                               rotate=rotate)  # fmt: skip
        if search_again:
            self._run_search()

    def _start(self, query: Query) -> None:
        self._query = query
        self._query_embedding = None
        self._run_search()  # first: the search needs nothing of the view work below
        self.history.record(HistoryEntry(query, None))
        self.historyChanged.emit()
        self.model.set_items([])
        self.match_view.set_query(None)
        self.match_view.clear()

    def _show_query_file(self, path: Path, crop: Box | None = None) -> None:
        query = self._query

        def shown(image: QImage) -> None:
            if query is self._query:
                self.query_view.set_query(image, self.query_view.caption())
                self.query_view.restore_crop(crop)
                self.match_view.set_query(self.query_view.cropped_image())

        def unreadable(failure: Failure) -> None:
            if query is self._query:
                self.query_view.show_unreadable(failure.message)

        self._decode_runner.submit(
            lambda: rgb_to_qimage(decode(path, VIEW_SIDE).rgb), shown, unreadable
        )

    def _run_search(self) -> None:
        query = self._query
        if query is None:
            return
        self._token += 1
        self._query_embedding = None
        token, crop, top = self._token, self.query_view.crop(), int(self.top.currentData())
        scope = self.scope_bar.scope()
        library, options = self._library, replace(self.options, top=top, scope=scope)

        def decoded(rgb: npt.NDArray[np.uint8]) -> None:  # on the library's thread
            self._queryDecoded.emit(query, rgb_to_qimage(rgb))

        show = decoded if query is self._unshown and crop is None else None

        def call() -> SearchResult:
            if query.photo_id is not None and crop is None:
                return library.search_photo(query.photo_id, options)
            return library.search(query.source, options, crop=crop, on_pixels=show)

        self._count.setText("Searching…")
        self._lib_runner.submit(
            call,
            lambda result: self._on_results(token, result),
            lambda failure: self._on_failed(token, failure),
        )

    # -- answers --------------------------------------------------------------------------
    def _on_query_decoded(self, query: Query, image: QImage) -> None:
        if query is self._unshown and query is self._query:
            self._unshown = None
            self.query_view.set_query(image, self.query_view.caption())
            self.match_view.set_query(self.query_view.cropped_image())

    def _show_unshown(self) -> None:
        """A file query's search ended without decoding it (a library photo's stored vector
        was used, or it failed): decode it for the view now."""
        query, self._unshown = self._unshown, None
        if query is not None and query is self._query and isinstance(query.source, Path):
            self._show_query_file(query.source)

    def _on_results(self, token: int, result: SearchResult) -> None:
        if token != self._token or self._query is None:
            return
        self._show_unshown()
        self.history.update_current(result=result, selected_row=0 if result.matches else -1)
        self._show_result(result, 0, self.query_view.crop())

    def _show_result(self, result: SearchResult, selected_row: int, crop: Box | None) -> None:
        """Put a search's answer on screen (fresh, or from the history); the query is shown.
        Photos known to have left the library since are left out."""
        assert self._query is not None
        self._query_embedding = result.query
        matches = [m for m in result.matches if m.photo_id not in self._gone]
        self.model.set_matches(matches)
        self._stack.setCurrentIndex(1 if matches else 0)
        what = "region" if crop is not None else "photo"
        n = len(matches)
        like = "the selected region" if crop is not None else "this photo"
        self._count.setText(f"{plural(n, 'result')} for {like}")  # the sections say what matches
        self.sections.setText(section_titles(self.model.section_counts()) if n else "")
        self.query_view.set_caption(
            f"{self._query.name} · {plural(n, 'result')} in {result.seconds * 1000:.0f}\u00a0ms"
            + (" · searching the selected region" if crop is not None else "")
        )
        self.message.emit(f"{plural(n, 'result')} for this {what} in {result.seconds:.2f} s")
        self.match_view.set_query(self.query_view.cropped_image())
        self.resultsShown.emit(self.model.rowCount())
        if self.model.rowCount():  # explain the best (or the last selected) match right away
            row = min(max(selected_row, 0), self.model.rowCount() - 1)
            self.results.setCurrentIndex(self.model.index(row))
            self.results.scrollTo(self.model.index(row))

    def _on_crop_changed(self, box: Box | None) -> None:
        if self._query is not None:
            self.history.record(HistoryEntry(self._query, box))
            self.historyChanged.emit()
        self._run_search()

    # -- history --------------------------------------------------------------------------
    def go_back(self) -> bool:
        """Show the previous search again (query, crop, results); False at the first."""
        return self._restore(self.history.back())

    def go_forward(self) -> bool:
        """Show the search left by going back; False at the last."""
        return self._restore(self.history.forward())

    def _restore(self, entry: HistoryEntry[Query, SearchResult] | None) -> bool:
        if entry is None:
            return False
        self.historyChanged.emit()
        self._token += 1  # an answer still on its way belongs to another entry
        self._unshown = None  # the picture is decoded here
        self._query = query = entry.query
        self.match_view.clear()
        if isinstance(query.source, Path):
            self.query_view.show_loading(query.name)
            self._show_query_file(query.source, entry.crop)
        else:
            self.query_view.set_query(rgb_to_qimage(query.source), query.name)
            self.query_view.restore_crop(entry.crop)
            self.match_view.set_query(self.query_view.cropped_image())
        if entry.result is None:
            self._run_search()
        else:
            self._show_result(entry.result, entry.selected_row, entry.crop)
        return True

    def _remember_selection(self, item: PhotoItem | None) -> None:
        if item is not None and self.history.current() is not None:
            self.history.update_current(selected_row=self.model.row_of(item.photo_id))

    # -- following the library ------------------------------------------------------------
    def follow_library(self, present: dict[int, Path]) -> int:
        """Drop the results whose photos left the library; moved ones show their new path.

        Args:
            present: photo id → path of every catalogued photo, listed after a change.

        Returns:
            How many results were dropped.
        """
        self._gone.update(self.history.photo_ids() - present.keys())
        current = self.results.current_item()
        gone = self.model.drop_missing(present)
        if current is not None and current.photo_id in present:
            row = self.model.row_of(current.photo_id)
            if row >= 0 and self.results.currentIndex().row() != row:
                self.results.setCurrentIndex(self.model.index(row))
        if gone:
            n = self.model.rowCount()
            self._count.setText(f"{plural(n, 'result')} · "
                                f"{plural(gone, 'result')} left the library")
            self._stack.setCurrentIndex(1 if n else 0)
        return gone

    def _on_result_selected(self, item: PhotoItem | None) -> None:
        self._match_token += 1
        if item is None or self._query_embedding is None:
            self.match_view.clear()
            return
        token, query = self._match_token, self._query_embedding
        self.match_view.show_loading(item)
        library, cache, options = self._library, self._decoded, self.options

        def shown(detail: MatchDetail) -> None:
            if token == self._match_token:
                self.match_view.show_detail(detail)

        def failed(failure: Failure) -> None:
            if token == self._match_token:
                self.match_view.clear(failure.message)
                self.failed.emit(failure)

        self._decode_runner.submit(
            lambda: load_detail(library, query, item, cache, options), shown, failed
        )

    def _on_failed(self, token: int, failure: Failure) -> None:
        if token != self._token:
            return
        self._show_unshown()
        if self._query is not None:
            self.query_view.set_caption(f"{self._query.name} · {failure.message}")
        self._count.setText("Results")
        self.failed.emit(failure)
