"""The results show the search's verdicts: sections with counts, stacked copies, and "Nothing in
your library shows this" when nothing was verified."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.gui.scenes import SCENES, PhotoSet

from lookalike.gui.main_window import MainWindow
from lookalike.gui.results_model import NOTHING_HERE
from lookalike.library import SearchOptions

WAIT_MS = 10_000


def test_unverified_results_say_nothing_in_your_library_shows_this(
    indexed: MainWindow, photos: PhotoSet, qtbot: Any
) -> None:
    page = indexed.search  # the fake embedder makes no local features: nothing is verified
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[0]])
    assert page.model.rowCount() > 0
    assert page.sections.text().startswith(f"<b>{NOTHING_HERE}</b> · Looks similar (")
    assert {item.verdict for item in page.model.items()} == {"similar"}
    assert page.model.item(0).words() == "looks similar"


def test_results_are_split_by_verdict_and_copies_stacked(
    indexed: MainWindow, photos: PhotoSet, qtbot: Any, monkeypatch: Any
) -> None:
    library, page = indexed.library, indexed.search
    search = library.search

    def judged(image: Any, options: SearchOptions, **kwargs: Any) -> Any:
        found = search(image, options, **kwargs)
        verdicts = ["similar", "same_photo", "same_place", "same_photo", "same_place"]
        matches = [replace(m, verdict=verdicts[i] if i < len(verdicts) else "similar",
                           inliers=0 if i == 0 or i >= len(verdicts) else 100 + i)
                   for i, m in enumerate(found.matches)]  # fmt: skip
        return replace(found, matches=matches)

    monkeypatch.setattr(library, "search", judged)
    with qtbot.waitSignal(page.resultsShown, timeout=WAIT_MS):
        indexed.search_file(photos.query[SCENES[0]])
    items = page.model.items()
    n = len(items) + 1  # one tile holds two copies
    assert page.sections.text() == (
        f"<b>Same photo (2)</b> · <b>Same place (2)</b> · Looks similar ({n - 4})")
    assert [it.verdict for it in items[:3]] == ["same_photo", "same_place", "same_place"]
    assert items[0].copies == 1 and items[0].rank == 2  # the best copy stands for both
    assert items[1].words() == "same place · 102 matching points"
    assert "1 more copy" in page.model.data(page.model.index(0), 3)  # ToolTipRole
