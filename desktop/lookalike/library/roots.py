"""Library folders: add, remove, their photo counts, and the status of the whole library."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from lookalike.errors import KnownError
from lookalike.library.results import Progress, RootInfo, Status, SwitchInfo, WhiteningInfo
from lookalike.library.writer import CatalogWriter

log = logging.getLogger(__name__)


def add_root(writer: CatalogWriter, path: Path) -> None:
    """Add a folder (a no-op if it is one already).

    Raises:
        KnownError: the folder does not exist.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise KnownError(f"{path}: not a folder")
    if writer.add_root(path):
        log.info("added library folder %s", path)


def remove_root(writer: CatalogWriter, path: Path) -> None:
    """Forget a folder and all its photos (the files are not touched).

    Raises:
        KnownError: the folder is not a library folder.
    """
    path = Path(path).expanduser().resolve()
    if not writer.remove_root(path):
        raise KnownError(f"{path} is not a library folder")


def root_infos(writer: CatalogWriter) -> list[RootInfo]:
    """The library folders with their photo counts, by path.

    With one folder the catalog's totals are its counts; with several, each folder's photos
    are listed (O(photos)).
    """
    infos = []
    catalog = writer.catalog
    with writer.lock:
        roots = catalog.roots()
        for root in roots:
            if len(roots) == 1:
                counts = catalog.stats()
            else:
                counts = dict.fromkeys(("indexed", "offline", "pending", "skipped"), 0)
                for row in catalog.photos_under(root.path):
                    if row.root_id == root.id:
                        counts[row.status] += 1
            photos = counts["indexed"] + counts["offline"]
            infos.append(RootInfo(root.path, photos, counts["skipped"], counts["pending"],
                                  root.online))  # fmt: skip
    return infos


def status(writer: CatalogWriter, model_id: str, switching: SwitchInfo | None = None) -> Status:
    """Counts, folders, skipped files and the index size of the library ``writer`` keeps
    (``switching``: a model switch under way)."""
    infos = root_infos(writer)
    with writer.lock:
        stats = writer.catalog.stats()
        index = writer.index
        white = index.whitening
        info = None if white is None else WhiteningInfo(white.pairs, white.photos, white.digest)
        return Status(infos, stats["indexed"], stats["pending"], writer.catalog.skipped(),
                      stats["offline"], index.live_count, index.file_size, model_id, info,
                      switching)


def scan_all(writer: CatalogWriter, cancel: threading.Event) -> Iterator[Progress]:
    """Walk every root (nested ones first: they take their photos over) through the writer;
    the last Progress has phase "cancelled" when ``cancel`` stopped it."""
    with writer.lock:
        ordered = sorted(writer.catalog.roots(), key=lambda r: len(r.path.parts), reverse=True)
    walked = 0
    for root in ordered:
        count = 0
        for count in writer.scan_root(root.id, root.path, cancel):
            yield Progress("scanning", walked + count, 0, current=root.path)
            if cancel.is_set():
                yield Progress("cancelled", walked + count, 0)
                return
        walked += count
