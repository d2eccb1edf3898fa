"""Plain parts of the window: the search history, counts in words, names cut to fit, the
indexing line with nothing to index."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from lookalike.gui.index_status import IndexStatus, describe_progress
from lookalike.gui.results_view import elide_name, wrap_name
from lookalike.gui.search_history import HistoryEntry, SearchHistory
from lookalike.gui.wording import plural
from lookalike.library import Progress


def test_history_back_forward_and_a_new_search_drops_forward() -> None:
    history: SearchHistory[str, str] = SearchHistory()
    assert history.current() is None and history.back() is None
    for name in ("a", "b", "c"):
        history.record(HistoryEntry(name, None))
    history.update_current(result="results of c", selected_row=2)
    assert history.back() == HistoryEntry("b", None)
    assert history.back() == HistoryEntry("a", None)
    assert history.back() is None and not history.can_go_back()
    assert history.forward() == HistoryEntry("b", None)
    history.record(HistoryEntry("b", (0.1, 0.1, 0.5, 0.5)))  # a crop: a new entry
    assert not history.can_go_forward()  # "c" was dropped, like a browser
    assert [history.back(), history.back()] == [HistoryEntry("b", None), HistoryEntry("a", None)]
    assert len(history) == 3


def test_history_keeps_the_last_entries() -> None:
    history: SearchHistory[int, None] = SearchHistory(max_entries=3)
    for n in range(5):
        history.record(HistoryEntry(n, None))
    assert len(history) == 3 and history.current() == HistoryEntry(4, None)
    assert history.back() == HistoryEntry(3, None) and history.back() == HistoryEntry(2, None)
    assert history.back() is None


@pytest.mark.parametrize(("n", "text"), [(0, "0 photos"), (1, "1 photo"), (21, "21 photos"),
                                         (12345, "12,345 photos")])
def test_plural(n: int, text: str) -> None:
    assert plural(n, "photo") == text


def test_names_are_cut_at_the_right_keeping_the_extension(qapp: QApplication) -> None:
    metrics = QFontMetrics(QFont())
    name = "strecha_fountain_p11_00.jpg"
    width = metrics.horizontalAdvance(name) * 2 // 3
    cut = elide_name(name, metrics, width)
    assert cut.startswith("strecha_fo") and cut.endswith("….jpg")
    assert metrics.horizontalAdvance(cut) <= width
    assert elide_name(name, metrics, 10_000) == name


def test_nothing_to_index_shows_no_zero_of_zero(qapp: QApplication) -> None:
    assert describe_progress(Progress("done", 0, 0, 0.0, 0.0)) == ""
    assert describe_progress(Progress("done", 5, 5, 2.0, 0.0)) == "Indexing 5 of 5 photos"
    assert describe_progress(Progress("embedding", 0, 1, 0.0, None)) == "Indexing 0 of 1 photo"
    moving = describe_progress(Progress("switching", 3, 1200, 10.5, 113.0))
    assert moving == "Moving to the new model: 3 of 1,200 photos · 10.5 photos/s · about 2 min left"
    status = IndexStatus()
    status.show_summary(12, 0, 0)
    status.show_progress(Progress("done", 0, 0, 0.0, 0.0))
    assert status.message.text() == "12 photos searchable"


def test_long_names_wrap_onto_two_lines(qapp: QApplication) -> None:
    metrics = QFontMetrics(QFont())
    name = "strecha_fountain_p11_00.jpg"
    width = metrics.horizontalAdvance(name) * 2 // 3
    first, second = wrap_name(name, metrics, width)
    assert first + second == name  # nothing lost: the end that tells photos apart is shown
    assert metrics.horizontalAdvance(first) <= width
    lines = wrap_name("a_very_long_name_" * 6 + ".jpg", metrics, width)
    assert len(lines) == 2 and lines[1].endswith("….jpg")
    assert wrap_name("short.jpg", metrics, width) == ["short.jpg"]
