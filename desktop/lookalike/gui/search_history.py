"""Back and forward through searches: a browser-style history of what was searched with.

:class:`SearchHistory` is plain Python (no Qt): a list of entries and a cursor. The Search tab
records an entry for every search it shows (a new query, a "find similar" from the results, a
new crop) and, on back/forward, restores the entry's query, crop and results without asking
the library again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

MAX_ENTRIES = 50
"""Entries kept; the oldest are dropped first (each holds its results, up to 1,000 rows)."""

Q = TypeVar("Q")
R = TypeVar("R")


@dataclass(frozen=True)
class HistoryEntry(Generic[Q, R]):
    """One search as it was shown.

    Attributes:
        query: what was searched with (the Search tab's ``Query``).
        crop: the selected region as fractions (x0, y0, x1, y1) of the query photo, or None.
        result: the library's answer (``SearchResult``), or None while it is running.
        selected_row: the result row that was current, -1 for none.
    """

    query: Q
    crop: tuple[float, float, float, float] | None
    result: R | None = None
    selected_row: int = -1


class SearchHistory(Generic[Q, R]):
    """Entries in the order they were searched, and the one shown now.

    Recording a new search after going back drops the entries ahead of it, like a browser.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: list[HistoryEntry[Q, R]] = []
        self._at = -1
        self._max = max(1, max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def current(self) -> HistoryEntry[Q, R] | None:
        """The entry shown now, or None before the first search."""
        return self._entries[self._at] if self._at >= 0 else None

    def record(self, entry: HistoryEntry[Q, R]) -> None:
        """A new search is shown: it becomes the current entry, and forward is cleared."""
        del self._entries[self._at + 1 :]
        self._entries.append(entry)
        if len(self._entries) > self._max:
            del self._entries[: len(self._entries) - self._max]
        self._at = len(self._entries) - 1

    def update_current(self, **changes: object) -> None:
        """Change fields of the current entry (its result arrived, the selection moved)."""
        if self._at >= 0:
            self._entries[self._at] = replace(self._entries[self._at], **changes)  # type: ignore[arg-type]

    def photo_ids(self) -> set[int]:
        """The photo ids of every result kept (entries whose result has ``matches``)."""
        return {
            int(m.photo_id)
            for e in self._entries
            for m in getattr(e.result, "matches", ())
        }

    def can_go_back(self) -> bool:
        """Whether there is an earlier search."""
        return self._at > 0

    def can_go_forward(self) -> bool:
        """Whether a search was left by going back."""
        return self._at < len(self._entries) - 1

    def back(self) -> HistoryEntry[Q, R] | None:
        """Step to the previous search and return it (None, and no step, at the first)."""
        if not self.can_go_back():
            return None
        self._at -= 1
        return self._entries[self._at]

    def forward(self) -> HistoryEntry[Q, R] | None:
        """Step to the next search and return it (None, and no step, at the last)."""
        if not self.can_go_forward():
            return None
        self._at += 1
        return self._entries[self._at]
