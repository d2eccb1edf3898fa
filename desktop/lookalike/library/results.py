"""What the Library façade returns: plain frozen dataclasses, safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lookalike.search.similar import Match
from lookalike.types import Embedding

Phase = Literal["scanning", "embedding", "switching", "done", "cancelled"]
"""Where a sync stands (see :class:`Progress`)."""


@dataclass(frozen=True)
class Progress:
    """Where a sync (or the watcher's embedding) stands.

    Attributes:
        phase: ``"scanning"``, ``"embedding"``, ``"switching"`` (a model switch: done and total
            count the whole switch), ``"done"`` or ``"cancelled"``.
        done: files walked (scanning) or photos embedded or skipped (embedding).
        total: photos to embed in this run; 0 while scanning (unknown).
        photos_per_s: embedding rate since the phase began (0 while scanning).
        eta_s: estimated seconds left, or None when unknown.
        current: the root being walked or the last photo embedded, if any.
        skipped: photos that could not be read in this run.
        last_skipped: the most recent of those and its reason.
    """

    phase: Phase
    done: int
    total: int
    photos_per_s: float = 0.0
    eta_s: float | None = None
    current: Path | None = None
    skipped: int = 0
    last_skipped: tuple[Path, str] | None = None


@dataclass(frozen=True)
class SearchResult:
    """A query's embedding, its matches (best first) and the seconds the search took."""

    query: Embedding
    matches: list[Match]
    seconds: float


@dataclass(frozen=True)
class RootInfo:
    """One library folder.

    Attributes:
        path: absolute folder.
        photos: photos with a vector (searchable, or kept while the folder is offline).
        skipped: unreadable files.
        pending: photos still to embed.
        online: whether the folder is reachable.
    """

    path: Path
    photos: int
    skipped: int
    pending: int
    online: bool


@dataclass(frozen=True)
class WhiteningInfo:
    """The whitening a library learned from its photos (see ``Library.learn_whitening``).

    Attributes:
        pairs: mutual-neighbour pairs it was fitted on.
        photos: photos in the library at the time.
        digest: identity of the map.
    """

    pairs: int
    photos: int
    digest: str


@dataclass(frozen=True)
class Status:
    """Summary of the whole library; ``skipped`` lists (path, reason) by path."""

    roots: list[RootInfo]
    indexed: int
    pending: int
    skipped: list[tuple[Path, str]]
    offline: int
    index_size: int
    index_file_bytes: int
    model_id: str
    whitening: WhiteningInfo | None = None
    switch: SwitchInfo | None = None


@dataclass(frozen=True)
class SwitchInfo:
    """A model switch in progress (see ``lookalike.library.switch``).

    Attributes:
        preset: the preset being switched to (None: an app update changed the model).
        model_id: the new model's id.
        done: photos with a new vector.
        total: photos the switch has to embed in all.
    """

    preset: str | None
    model_id: str
    done: int
    total: int
