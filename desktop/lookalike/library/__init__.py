"""roots on disk → catalog + index kept in sync → search: the façade the CLI and the GUI use."""

from lookalike.library.facade import Library
from lookalike.library.results import Progress, RootInfo, SearchResult, Status
from lookalike.library.searching import search_options
from lookalike.scan.watcher import WatchHandle
from lookalike.search.explanation import Explanation, NumberedRegion
from lookalike.search.pipeline import SearchOptions
from lookalike.search.similar import Match
from lookalike.store.scope import Scope, days_scope

__all__ = [
    "Explanation", "Library", "Match", "NumberedRegion", "Progress", "RootInfo", "SearchOptions",
    "SearchResult", "Status", "WatchHandle", "search_options",
]
__all__ += ["Scope", "days_scope"]
