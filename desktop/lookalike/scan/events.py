"""What a change below a watched root is: :class:`FileEvent`, and the adapter that turns
watchdog's raw events into plain ``(kind, src, dest, is_dir)`` calls.

The coalescing and debouncing of those calls is :mod:`lookalike.scan.debounce`; the watcher
with its worker thread that the library runs is :mod:`lookalike.scan.watcher`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

EventKind = Literal["created", "modified", "deleted", "moved"]
CREATED: Final = "created"
MODIFIED: Final = "modified"
DELETED: Final = "deleted"
MOVED: Final = "moved"

_FILE_KINDS: dict[str, EventKind] = {
    "created": CREATED, "modified": MODIFIED, "closed": MODIFIED, "attrib": MODIFIED,
}


@dataclass(frozen=True)
class FileEvent:
    """One coalesced change below a root.

    Attributes:
        kind: ``"created"``, ``"modified"``, ``"deleted"`` or ``"moved"``.
        path: the file or folder (for ``"moved"``: where it was).
        dest: for ``"moved"``: where it is now; otherwise None.
        is_dir: whether the path is a folder (a folder event stands for every file below it).
    """

    kind: EventKind
    path: Path
    dest: Path | None = None
    is_dir: bool = False


class RawEventAdapter:
    """Adapts watchdog's handler interface to plain (kind, src, dest, is_dir) calls."""

    def __init__(self, sink: Callable[[EventKind, Path, Path | None, bool], None]) -> None:
        self._sink = sink

    def dispatch(self, event: Any) -> None:
        """Called by the observer thread for every raw event."""
        kind = str(event.event_type)
        is_dir = bool(event.is_directory)
        src = Path(os.fsdecode(event.src_path))
        if kind == MOVED:
            self._sink(MOVED, src, Path(os.fsdecode(event.dest_path)), is_dir)
        elif kind == DELETED:
            self._sink(DELETED, src, None, is_dir)
        elif kind == CREATED or (kind in _FILE_KINDS and not is_dir):
            self._sink(_FILE_KINDS[kind], src, None, is_dir)

