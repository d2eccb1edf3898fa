"""Duplicates and the trash: what the Library façade delegates for cleaning a library up.

Every catalog and index change goes through the writer (``CatalogWriter.forget`` and
``apply_events``), so moves to the trash and back use the same write path as a rescan.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lookalike.library.duplicates import DuplicateFinder
from lookalike.library.trash import Trashed, TrashResult, move_to_trash, restore
from lookalike.library.writer import CatalogWriter
from lookalike.scan.events import CREATED, FileEvent
from lookalike.store.duplicates_store import DuplicatesStore

__all__ = ["DuplicateFinder", "TrashResult", "Trashed", "finder", "trash", "untrash"]


def finder(writer: CatalogWriter, model_id: str) -> DuplicateFinder:
    """A duplicate finder over the writer's catalog and (current) index.

    The pairs the cells cannot fit (turned, mirrored, 320-px copies) go to its thumbnail screen
    (``DuplicateFinder.screen``, :mod:`lookalike.library.copy_screening`): the stored
    thumbnails score them all without reading a file, and only the pairs that pass are decoded
    for the pixel test. A file check for all of them (``copy_check.copy_by_pixels``: copies
    bench pair recall 0.25 -> 0.69) would decode every one: hundreds of thousands of pairs at
    100k photos at about 0.1 s of CPU each, hours.
    """
    store = DuplicatesStore.open(writer.catalog.path)
    return DuplicateFinder(writer.catalog, lambda: writer.index, writer.lock, model_id, store)


def trash(writer: CatalogWriter, paths: Sequence[Path], references: Sequence[Path]
          ) -> TrashResult:  # fmt: skip
    """Move library photos to the system trash and forget them; photos in ``references`` and
    files that are not library photos are refused (listed in ``failed``)."""
    wanted, refused = [], []
    for path in (Path(p).expanduser().resolve() for p in paths):
        with writer.lock:
            known = writer.catalog.get_photo(path) is not None
        if not known:
            refused.append((path, "not a photo of this library"))
        elif any(path.is_relative_to(r) for r in references):
            refused.append((path, "in a reference folder"))
        else:
            wanted.append(path)
    result = move_to_trash(wanted)
    for item in result.moved:
        writer.forget(item.original)
    return TrashResult(result.moved, result.failed + tuple(refused))


def untrash(writer: CatalogWriter, items: Sequence[Trashed]
            ) -> tuple[list[Path], list[tuple[Path, str]]]:  # fmt: skip
    """Move photos back from the trash and record them as pending (the caller embeds them)."""
    restored, failed = restore(items)
    writer.apply_events([FileEvent(CREATED, p) for p in restored])
    return restored, failed
