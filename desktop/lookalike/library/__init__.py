"""roots on disk → catalog + index kept in sync → search: the façade the CLI and the GUI use."""

from lookalike.library.facade import Library
from lookalike.library.results import Progress, RootInfo, SearchResult, Status
from lookalike.scan.watcher import WatchHandle
from lookalike.search.similar import Match

__all__ = ["Library", "Match", "Progress", "RootInfo", "SearchResult", "Status", "WatchHandle"]
