"""roots on disk → catalog + index kept in sync → search: the façade the CLI and the GUI use."""

from lookalike.library.cleanup import DuplicateFinder, Trashed, TrashResult
from lookalike.library.duplicate_groups import DuplicateGroup, DuplicatePhoto
from lookalike.library.facade import Library
from lookalike.library.results import Progress, RootInfo, SearchResult, Status, WhiteningInfo
from lookalike.library.searching import search_options
from lookalike.scan.watcher import WatchHandle
from lookalike.search.defaults import DBA_K
from lookalike.search.explanation import Explanation, NumberedRegion
from lookalike.search.pipeline import SearchOptions
from lookalike.search.similar import Match, Verdict
from lookalike.search.verdict import ORDER as VERDICTS
from lookalike.search.verdict import at_least
from lookalike.store.scope import Scope, days_scope

__all__ = [  # noqa: RUF022 (grouped by kind)
    "DBA_K", "DuplicateFinder", "DuplicateGroup", "DuplicatePhoto", "Explanation", "Library",
    "Match", "NumberedRegion", "Progress", "RootInfo", "SearchOptions", "SearchResult", "Status",
    "TrashResult", "Trashed", "VERDICTS", "Verdict", "WatchHandle", "WhiteningInfo", "at_least",
    "search_options",
]
__all__ += ["Scope", "days_scope"]
