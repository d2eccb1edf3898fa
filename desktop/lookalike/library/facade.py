"""The Library façade: roots, sync, watch, search, explanation and status of one library.

A library lives in one folder (``home``): ``catalog.sqlite`` (the truth) and ``index.hnsw``
(a cache of the catalog's vectors). All writes go through :class:`CatalogWriter`, which owns the
only reference to the index; its lock is held for one small batch at a time, never while a
photo is decoded or embedded. The jobs live in :mod:`~lookalike.library.roots`,
:mod:`~lookalike.library.indexing`, :mod:`~lookalike.library.learning` and
:mod:`~lookalike.library.searching`; the search steps in :mod:`lookalike.search.pipeline`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from lookalike.library import cleanup, learning, preset_record, roots, searching, switch
from lookalike.library.cleanup import DuplicateFinder, Trashed, TrashResult
from lookalike.library.indexing import Indexer
from lookalike.library.integrity import open_catalog
from lookalike.library.results import Progress, RootInfo, Status, WhiteningInfo
from lookalike.library.search_calls import SearchCalls
from lookalike.library.writer import CatalogWriter
from lookalike.scan.watcher import FileEvent, WatchHandle
from lookalike.store.index_sync import BuildProgress
from lookalike.store.lock import LibraryLock
from lookalike.types import PhotoEmbedder, PhotoStatus

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite"
INDEX_FILE = "index.hnsw"


class Library(SearchCalls):
    """A photo library: its folders, their photos' vectors, and search over them.

    Search options are not state: every search takes a :class:`SearchOptions`.

    Attributes:
        home: the folder holding the catalog and the index.
        model_changed: an app update changed the model: :meth:`sync` embeds the photos anew
            beside the old vectors, which serve searches by library photo until then.
        preset: the name of the preset the library's vectors are made with (None: not told).
        requested_preset_ignored: the command asked for another preset, and the library kept
            its own (a one-off ``--preset`` never touches the vectors).
    """

    def __init__(self, home: Path, writer: CatalogWriter, embedder: PhotoEmbedder,
                 model_changed: bool = False, preset: str | None = None,
                 requested_preset: str | None = None,
                 embedder_for: Callable[[str], PhotoEmbedder] | None = None) -> None:  # fmt: skip
        """Use :meth:`open`."""
        self.home = home
        self.model_changed = model_changed
        self.preset = preset
        self.requested_preset_ignored = requested_preset not in (None, preset)
        self._writer = writer
        self._catalog = writer.catalog
        self._lock = writer.lock
        self._embedder = embedder
        self._indexer = Indexer(writer, embedder, self.save)
        self._handles: list[WatchHandle] = []
        self._duplicates: DuplicateFinder | None = None
        self._closed = False
        self._switcher = switch.Switcher(writer, self._indexer, embedder_for, self._swapped)
        self.notes: list[str] = []
        """What :meth:`open` repaired, in plain words (a damaged catalog, an orphaned index)."""
        self._owner: LibraryLock | None = None  # this process's hold on the library folder
        self._prepared: searching.Prepared | None = None  # the last photo file embedded ahead

    @classmethod
    def open(
        cls,
        home: Path,
        embedder: PhotoEmbedder,
        *,
        exclude: Sequence[Path] = (),
        preset: str | None = None,
        requested_preset: str | None = None,
        embedder_for: Callable[[str], PhotoEmbedder] | None = None,
        progress: BuildProgress | None = None,
    ) -> Library:
        """Open (or create) the library in ``home`` for ``embedder``'s vector space.

        A new model id sends every photo back to pending; a missing, stale or corrupt index is
        rebuilt from the catalog, and one that lags the catalog (after a crash) is repaired.
        Callers that honour the library's own model pass ``embedder`` built for
        :meth:`stored_preset`.

        Args:
            home: folder for ``catalog.sqlite`` and ``index.hnsw``; created if needed.
            embedder: computes descriptors; its ``model_id`` names the vector space.
            exclude: absolute folders never indexed (``home`` is always excluded).
            preset: the name of ``embedder``'s preset, recorded in the catalog.
            requested_preset: the preset the user asked for this run, if another one was
                kept (see :attr:`requested_preset_ignored`).
            embedder_for: builds the embedder of a preset name (for :meth:`switch_preset`).
            progress: ``progress(done, total)`` while the index is rebuilt from the catalog
                (after an update that changed its layout, or when its file is missing or
                damaged: minutes for a big library); called from this thread.

        Raises:
            CatalogCorrupt: the catalog cannot be used.
            LibraryBusy: another process has the library open.
        """
        home = Path(home).expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
        owner, catalog, notes = open_catalog(home, CATALOG_FILE, INDEX_FILE)
        try:
            excluded = [*(Path(p).expanduser().resolve() for p in exclude), home]
            writer, query_embedder = switch.open_writer(home / INDEX_FILE, catalog, embedder,
                                                        preset, excluded, progress)  # fmt: skip
            updated = query_embedder is not embedder  # an app update: the old space is kept
            library = cls(home, writer, query_embedder, updated, preset, requested_preset,
                          embedder_for)  # fmt: skip
            if updated:
                library._switcher.start(embedder, preset)
        except BaseException:
            catalog.close()
            owner.release()
            raise
        library.notes, library._owner = notes, owner
        if library.requested_preset_ignored:
            log.info("this library uses the %s preset; %s ignored (its vectors are kept)",
                     preset, requested_preset)  # fmt: skip
        return library

    @staticmethod
    def stored_preset(home: Path) -> str | None:
        """The preset name recorded in the library at ``home``, or None (new or older)."""
        return preset_record.stored_preset(Path(home).expanduser().resolve() / CATALOG_FILE)

    # --- roots --------------------------------------------------------------------------------

    def add_root(self, path: Path) -> None:
        """Add a folder (a no-op if it is one already); :meth:`sync` fills it (KnownError: the
        folder does not exist)."""
        roots.add_root(self._writer, path)

    def remove_root(self, path: Path) -> None:
        """Forget a folder and all its photos, files untouched (KnownError: not a root)."""
        roots.remove_root(self._writer, path)

    def roots(self) -> list[RootInfo]:
        """The library folders with their photo counts, by path."""
        return roots.root_infos(self._writer)

    # --- sync and watching --------------------------------------------------------------------

    def sync(self, cancel: threading.Event | None = None, batch: int = 32) -> Iterator[Progress]:
        """Bring the catalog and the index in line with the disk, then embed what is new.

        Every root is walked (mark and sweep on size and mtime): unchanged files are marked, new
        and changed ones become pending, moved ones (same content hash and size) keep their
        vector, vanished ones are removed, and a missing root goes offline. Pending photos are
        then embedded ``batch`` at a time, each batch committed (a crash loses at most one).

        Args:
            cancel: set it to stop soon (after the current photo); the last Progress then
                has phase "cancelled".
            batch: photos per embedding batch and commit.

        Yields:
            Progress, every SCAN_CHUNK walked files, every batch, and once at the end.
        """
        cancel = cancel or threading.Event()
        for progress in roots.scan_all(self._writer, cancel):
            yield progress
            if progress.phase == "cancelled":
                return
        yield from self._switcher.embed(not isinstance(self._embedder, switch.ModelGone), cancel,
                                        batch, self._index_file())  # fmt: skip

    def _swapped(self, done: switch.ModelSwitch) -> None:  # the new model is the library's now
        self._embedder, self.model_changed, self.preset = done.embedder, False, done.target.preset

    def switch_preset(self, name: str) -> None:
        """Move to preset ``name``'s model in the background (:mod:`~lookalike.library.switch`);
        the library's own preset cancels a switch (ModelMissing: that model is not installed)."""
        self.requested_preset_ignored = False
        own = None if isinstance(self._embedder, switch.ModelGone) else self.preset
        self._switcher.request(name, own)

    def apply_events(self, events: Sequence[FileEvent]) -> None:
        """Apply watcher events through the same write functions as :meth:`sync`.

        Each event's path is looked up on disk; new and changed photos become pending (call
        :meth:`sync` or use :meth:`watch` to embed them).
        """
        self._writer.apply_events(events)

    def watch(
        self, on_progress: Callable[[Progress], None] | None = None, *, debounce_s: float = 1.0
    ) -> WatchHandle:
        """Keep the library in sync with its online roots until the handle is stopped.

        A worker thread applies each batch of events and embeds the new photos; it calls
        ``on_progress`` (from that thread) while embedding and once at the end of every batch
        (phase "done"), also when files were only removed or moved. A root that vanishes goes
        offline; when it comes back it is resynced and watched again. Roots added later are not
        watched; :meth:`close` stops every handle.

        Args:
            on_progress: receives Progress from the worker thread.
            debounce_s: quiet time that ends a batch of file events.
        """
        handle = self._indexer.watch_handle(on_progress, debounce_s)
        self._handles.append(handle)
        handle.start()
        return handle

    # --- search -------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Run the model once (a few hundred ms) so that the first search is not a cold start."""
        warm = getattr(self._embedder, "warm_up", None)  # only a real model has a session
        if callable(warm):
            warm()

    def release_memory(self) -> None:
        """Give the model's working memory back after a while without searches or indexing
        (about 50 MB with the int8 model, 70 with the float one; the next search's embedding is
        a little slower)."""
        release = getattr(self._embedder, "release_memory", None)  # only a real model has one
        if callable(release):
            release()

    def set_threads(self, threads: int) -> bool:
        """Analyse photos with ``threads`` threads (0: every core) from the next batch on, no
        restart needed; False if the embedder cannot change them or already uses that many."""
        setter = getattr(self._embedder, "set_threads", None)
        return bool(setter(threads)) if setter is not None else False

    def photos_under(self, folder: Path) -> list[tuple[int, Path, PhotoStatus]]:
        """(id, path, status) of every catalogued photo below ``folder``, by path."""
        with self._lock:
            rows = self._catalog.photos_under(Path(folder).expanduser().resolve())
        return [(row.id, row.path, row.status) for row in rows]

    def catalogued(self) -> dict[int, Path]:
        """Photo id -> path of every catalogued photo (O(photos): for following changes)."""
        with self._lock:
            roots = self._catalog.roots()
            return {r.id: r.path for t in roots for r in self._catalog.photos_under(t.path)}

    def status(self) -> Status:
        """Counts, folders, skipped files and the index size."""
        return roots.status(self._writer, self._writer.model_id, switch.info(self._writer))

    # --- whitening ----------------------------------------------------------------------------

    def learn_whitening(self) -> WhiteningInfo:
        """Learn a whitening from this library's photos and re-index with it.

        The stored vectors are not changed: the index is rebuilt from them, whitened, beside
        the one in use, which keeps serving searches until the new one replaces it. Undo with
        :meth:`forget_whitening` (see :mod:`lookalike.library.learning`).

        Raises:
            KnownError: too few photos or pairs to learn from.
        """
        fitted = learning.learn_for_library(self._writer, self._index_file())
        return WhiteningInfo(fitted.pairs, fitted.photos, fitted.digest)

    def forget_whitening(self) -> None:
        """Drop the learned whitening and re-index the stored vectors as they are."""
        learning.forget_for_library(self._writer, self._index_file())

    def _index_file(self) -> Path | None:  # None once closed: nothing is written any more
        return None if self._closed else self.home / INDEX_FILE

    # --- duplicates and trash -----------------------------------------------------------------

    def duplicates(self) -> DuplicateFinder:
        """The library's duplicate finder (``update()`` it, then read ``groups()``)."""
        if self._duplicates is None:
            self._duplicates = cleanup.finder(self._writer, self._embedder.model_id)
        return self._duplicates

    def trash(self, paths: Sequence[Path]) -> TrashResult:
        """Move library photos to the OS trash (never photos of reference folders) and forget
        them at once; undo with :meth:`untrash`."""
        refs = self.duplicates().store.reference_folders()
        return cleanup.trash(self._writer, paths, refs)

    def untrash(self, items: Sequence[Trashed]) -> tuple[list[Path], list[tuple[Path, str]]]:
        """Move photos back from the trash and index them again: (restored, (path, reason)
        of those that could not be); see :mod:`lookalike.library.trash` for platforms."""
        restored, failed = cleanup.untrash(self._writer, items)
        for _ in self._indexer.embed_pending(threading.Event(), 32):
            pass
        return restored, failed

    # --- lifetime -----------------------------------------------------------------------------

    def save(self) -> None:
        """Write the index to disk if it changed since the last save."""
        with self._lock:
            if not self._closed:
                self._writer.index.save_if_dirty(self.home / INDEX_FILE)
            self._indexer.last_save_s = time.monotonic()

    def close(self) -> None:
        """Stop watching, save the index and close the catalog; calling it again does nothing."""
        if self._closed:
            return
        for handle in self._handles:
            handle.stop()
        with self._lock:
            try:
                self.save()
            finally:
                self._closed = True
                self._catalog.close()
                if self._writer.vectors is not None:
                    self._writer.vectors.close()
                if self._duplicates is not None:
                    self._duplicates.store.close()
                if self._owner is not None:
                    self._owner.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

