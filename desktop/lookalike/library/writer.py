"""The one write path: every change to the catalog and the index goes through CatalogWriter.

A full sync (walking the roots) and the watcher's events call the same functions:
:meth:`CatalogWriter.record_files` for files that exist, :meth:`CatalogWriter.forget` for paths
that are gone, :meth:`CatalogWriter.move` for moves, and :meth:`CatalogWriter.commit` for
embedding results. The catalog is always written first and the index second, under one lock,
so a crash leaves at most an index that lags the catalog, which
``lookalike.store.index_sync.load_or_rebuild`` patches on the next start.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.errors import UnreadablePhoto
from lookalike.scan.events import MOVED, FileEvent
from lookalike.scan.hashing import content_hash
from lookalike.scan.walker import FileStat, Skipped, is_excluded, walk
from lookalike.store.catalog import Catalog, PhotoRow
from lookalike.store.hnsw import VectorIndex
from lookalike.store.index_sync import diff, patch
from lookalike.store.thumbs import put_thumbs
from lookalike.store.vector_cache import VectorCache
from lookalike.types import Embedding, locals_to_bytes, peaks_to_bytes

log = logging.getLogger(__name__)

SCAN_CHUNK = 500
"""Files recorded per catalog transaction while walking."""

Result = tuple[PhotoRow, Embedding | UnreadablePhoto]


class CatalogWriter:
    """Applies what is on disk (and what the embedder found) to the catalog and the index.

    Attributes:
        lock: re-entrant lock guarding the catalog and the index together; readers take it too.
    """

    def __init__(
        self, catalog: Catalog, index: VectorIndex, model_id: str, suffixes: Collection[str],
        exclude: Sequence[Path], vectors: VectorCache | None = None,
    ) -> None:
        """Wrap an open catalog and index.

        Args:
            catalog: the truth.
            index: the cache of the catalog's vectors.
            model_id: the vector space of the embeddings committed.
            suffixes: lower-case suffixes of photo files.
            exclude: absolute folders never indexed.
            vectors: where searches read whole vectors (``lookalike.store.vector_cache``);
                the vectors of the photos embedded here are kept there too.
        """
        self.catalog = catalog
        self.index = index
        self.vectors = vectors
        self.model_id = model_id
        self.suffixes = frozenset(suffixes)
        self.exclude = tuple(exclude)
        self.lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock inside one catalog transaction."""
        with self.lock, self.catalog.transaction():
            yield

    # --- roots --------------------------------------------------------------------------------

    def add_root(self, path: Path) -> bool:
        """Record a folder as a root; False if it is one already."""
        with self.write():
            if any(r.path == path for r in self.catalog.roots()):
                return False
            self.catalog.add_root(path)
            return True

    def remove_root(self, path: Path) -> bool:
        """Forget a root and its photos (catalog, then index); False if it is not a root."""
        with self.write():
            if all(r.path != path for r in self.catalog.roots()):
                return False
            self.index.remove(self.catalog.remove_root(path))
            return True

    def root_of(self, path: Path) -> tuple[int, Path] | None:
        """The (id, folder) of the innermost online root holding ``path``, if any."""
        with self.lock:
            roots = [(r.id, r.path) for r in self.catalog.roots()
                     if r.online and (r.path == path or r.path in path.parents)]
        return max(roots, key=lambda r: len(r[1].parts), default=None)

    def exclude_for(self, root: Path) -> list[Path]:
        """What a walk of ``root`` skips: the excluded folders and the roots nested inside it."""
        with self.lock:
            nested = [r.path for r in self.catalog.roots() if root in r.path.parents]
        return [*self.exclude, *nested]

    def root_present(self, root_id: int, root: Path) -> bool:
        """Mark a root online or offline from what is on disk; True if it can be walked.

        A missing folder, or an empty one where the catalog has photos (the mount point of an
        unplugged drive), is offline: its photos leave search but keep their rows and vectors.
        """
        present = root.is_dir()
        if present and _is_empty(root):
            with self.lock:
                present = not self.catalog.photos_under(root)
        with self.write():
            changed = self.catalog.set_root_online(root_id, present)
            if changed and not present:
                log.warning("%s is offline; its %d photos are kept", root, len(changed))
                self.index.remove(changed)
            elif changed:
                log.info("%s is back online", root)
                self.index_from_catalog(changed)
        return present

    def scan_root(self, root_id: int, root: Path, cancel: threading.Event) -> Iterator[int]:
        """Mark-and-sweep one root against the disk.

        Yields:
            The number of files walked so far, every SCAN_CHUNK files and at the end. If
            ``cancel`` is set the walk stops early and nothing is swept.
        """
        if not self.root_present(root_id, root):
            return
        with self.write():
            self.catalog.begin_sweep(root_id)
        serious: list[OSError] = []

        def on_error(_path: Path, exc: OSError) -> None:
            if not isinstance(exc, PermissionError | FileNotFoundError | NotADirectoryError):
                serious.append(exc)

        walked, skipped = 0, list[Skipped]()
        for chunk in _chunks(walk(root, self.suffixes, self.exclude_for(root), on_error,
                                  skipped.append)):
            self.record_files(root_id, chunk)
            walked += len(chunk)
            yield walked
            if cancel.is_set():
                return
        self.record_skipped(root_id, skipped)
        self._sweep(root_id, root, bool(serious))

    def _sweep(self, root_id: int, root: Path, had_errors: bool) -> None:
        """Delete the root's photos the walk did not see, unless the walk was incomplete."""
        with self.write():
            online = any(r.id == root_id and r.online for r in self.catalog.roots())
            if had_errors or not online or not root.is_dir():
                log.warning("%s was not read completely; keeping its unseen photos", root)
                return
            self.index.remove(self.catalog.sweep(root_id))

    # --- files --------------------------------------------------------------------------------

    def record_files(self, root_id: int, stats: Sequence[FileStat]) -> None:
        """Record files that exist: unchanged ones are marked seen, the others hashed and
        recorded with :meth:`_record_file` (hashing reads the disk outside the lock)."""
        if not stats:
            return
        with self.write():
            changed = [s for s in stats if not self._mark_if_unchanged(root_id, s)]
        digests = {s.path: _hash_or_none(s.path) for s in changed}
        with self.write():
            for stat in changed:
                self._record_file(root_id, stat, digests[stat.path])

    def record_skipped(self, root_id: int, entries: Sequence[Skipped]) -> None:
        """Put what the walker could not take (unreadable folders, pipes, devices, broken
        links) in the skipped list with its reason; a photo catalogued there loses its vector."""
        with self.write():
            for entry in entries:
                row = self.catalog.get_photo(entry.path)
                if row is not None and (row.status, row.skip_reason) == ("skipped", entry.reason):
                    self.catalog.mark_seen(row.id)
                    continue
                photo_id = self.catalog.upsert_pending(root_id, entry.path, 0, 0, None)
                self.catalog.set_skipped(photo_id, entry.reason)
                self.index.remove([photo_id])

    def _mark_if_unchanged(self, root_id: int, stat: FileStat) -> bool:
        """Mark a file seen if the catalog has it in this root with this size and mtime."""
        row = self.catalog.get_photo(stat.path)
        if row is None or row.root_id != root_id or not _same_stat(row, stat):
            return False
        self.catalog.mark_seen(row.id)
        return True

    def _record_file(self, root_id: int, stat: FileStat, digest: str | None) -> None:
        """Record one existing file (lock and transaction held).

        Same content (size and mtime, or size and hash) keeps the vector; a new path whose
        content belongs to a catalogued photo whose file is gone is a move and keeps it too;
        anything else becomes pending.
        """
        catalog = self.catalog
        row = catalog.get_photo(stat.path)
        if row is not None and stat.size_bytes == row.size_bytes and (
            _same_stat(row, stat) or (digest is not None and digest == row.content_hash)
        ):  # unchanged, re-homed into a nested root, or only touched
            catalog.move_photo(row.id, stat.path, root_id, stat.mtime_ns)
            return
        if row is None and digest is not None:
            moved = self._moved_from(digest, stat)
            if moved is not None:
                log.debug("%s moved to %s", moved.path, stat.path)
                self.index.remove(catalog.move_photo(moved.id, stat.path, root_id, stat.mtime_ns))
                return
        if row is not None:
            self.index.remove([row.id])  # its vector is stale until it is embedded again
        size = stat.size_bytes
        photo_id = catalog.upsert_pending(root_id, stat.path, size, stat.mtime_ns, digest)
        if digest is not None:  # a photo of a folder removed earlier keeps its vector
            vector = catalog.reuse_retired(photo_id, digest, size, self.model_id)
            if vector is not None:
                self.index.add(np.asarray([photo_id], np.int64), vector[None, :])

    def _moved_from(self, digest: str, stat: FileStat) -> PhotoRow | None:
        """A catalogued photo with this content whose file is gone, if there is one."""
        for row in self.catalog.find_by_hash(digest, stat.size_bytes):
            if row.status != "offline" and row.path != stat.path and not row.path.exists():
                return row
        return None

    def forget(self, path: Path) -> None:
        """Remove the photos at or below ``path`` whose files are gone (others are kept)."""
        with self.write():
            row = self.catalog.get_photo(path)
            rows = [row] if row is not None else self.catalog.photos_under(path)
            gone = [r.id for r in rows if r.status != "offline" and not r.path.exists()]
            if gone:
                self.catalog.remove_photos(gone)
                self.index.remove(gone)

    def move(self, src: Path, dest: Path, is_dir: bool) -> None:
        """Give the photo at ``src`` (or every photo below folder ``src``) its path under
        ``dest``, keeping ids and vectors; whatever was catalogued at the new paths is dropped."""
        with self.write():
            row = None if is_dir else self.catalog.get_photo(src)
            rows = [row] if row is not None else self.catalog.photos_under(src)
            for row in rows:
                new = dest / row.path.relative_to(src) if row.path != src else dest
                root = self.root_of(new)
                if root is not None and new.exists():
                    moved = self.catalog.move_photo(row.id, new, root[0], row.mtime_ns)
                    self.index.remove(moved)

    def apply_events(self, events: Sequence[FileEvent]) -> None:
        """Apply watcher events: moves first (they keep vectors), then every path is looked
        up on disk and recorded or forgotten."""
        for event in sorted(events, key=lambda e: e.kind != MOVED):
            if event.kind == MOVED and event.dest is not None:
                self.move(event.path, event.dest, event.is_dir)
                self._apply_path(event.dest)
            self._apply_path(event.path)

    def _apply_path(self, path: Path) -> None:
        """Bring the catalog in line with the disk at ``path`` (a file, a folder, or gone);
        a root itself (it vanished or came back) is marked offline or resynced whole."""
        with self.lock:
            whole = next(((r.id, r.path) for r in self.catalog.roots() if r.path == path), None)
        if whole is not None:
            for _ in self.scan_root(whole[0], whole[1], threading.Event()):
                pass
            return
        root = self.root_of(path)
        if root is None:
            return
        root_id, root_path = root
        excluded = self.exclude_for(root_path)
        if not root_path.is_dir():  # the watcher reports the root itself, gone and back
            return
        if path.is_dir():
            for chunk in _chunks(walk(path, self.suffixes, excluded)):
                self.record_files(root_id, chunk)
            self.forget(path)
        elif path.is_file():
            if path.suffix.lower() in self.suffixes and not is_excluded(path, root_path, excluded):
                st = path.stat()
                self.record_files(root_id, [FileStat(path, st.st_size, st.st_mtime_ns)])
        else:
            self.forget(path)

    # --- vectors ------------------------------------------------------------------------------

    def commit(self, results: Sequence[Result]) -> tuple[int, list[tuple[Path, str]]]:
        """Store one batch of embedding results: catalog first, then index.

        A photo that changed or moved while it was being embedded is left as it is now (it is
        pending again); one whose file vanished is removed (it had no vector yet).

        Returns:
            How many photos left the pending state, and (path, reason) of those that could
            not be read.
        """
        ids: list[int] = []
        vectors: list[npt.NDArray[np.float32]] = []
        skipped: list[tuple[Path, str]] = []
        gone: list[int] = []
        with self.write():
            for row, result in results:
                if self.catalog.photo_by_id(row.id) != row:
                    continue
                if not isinstance(result, UnreadablePhoto):
                    local_blob = None if result.locals is None else locals_to_bytes(result.locals)
                    self.catalog.set_indexed(row.id, self.model_id, result.vector,
                                             peaks_to_bytes(result.peaks), local_blob)
                    put_thumbs(self.catalog, {row.id: result.thumb})  # None: drop a stale one
                    ids.append(row.id)
                    vectors.append(result.vector)
                elif not row.path.exists():
                    gone.append(row.id)
                else:
                    self.catalog.set_skipped(row.id, result.reason)
                    skipped.append((row.path, result.reason))
                    log.info("skipped %s: %s", row.path, result.reason)
            self.catalog.remove_photos(gone)
            if ids:
                block = np.stack(vectors).astype(np.float32)
                self.index.add(np.asarray(ids, np.int64), block)
                if self.vectors is not None:  # read by the next searches, even cold
                    self.vectors.write(self.index.model_id, ids, block)
        return len(ids) + len(skipped) + len(gone), skipped

    def set_whitening(self, data: bytes | None) -> None:
        """Store the library's whitening (None: drop it); see :meth:`replace_index`."""
        with self.write():
            self.catalog.set_whitening(self.model_id, data)

    def replace_index(self, fresh: VectorIndex, path: Path | None) -> None:
        """Swap in an index built beside the one in use (e.g. with a new whitening): it is
        first brought up to date with what changed meanwhile, then saved to ``path``."""
        with self.lock:
            found = diff(fresh, self.catalog)
            if found.size:
                patch(fresh, self.catalog, found)
            self.index = fresh
            if path is not None:
                fresh.save(path)

    def index_from_catalog(self, ids: Iterable[int]) -> None:
        """(Re-)add the stored vectors of these photos that are searchable to the index."""
        with self.lock:
            for block_ids, block in self.catalog.iter_vectors(self.model_id, ids=list(ids)):
                self.index.add(block_ids, block)


def _is_empty(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _same_stat(row: PhotoRow, stat: FileStat) -> bool:
    return (row.size_bytes, row.mtime_ns) == (stat.size_bytes, stat.mtime_ns)


def _hash_or_none(path: Path) -> str | None:
    try:
        return content_hash(path)
    except OSError as exc:
        log.debug("cannot hash %s: %s", path, exc)
        return None


def _chunks(items: Iterable[FileStat], size: int = SCAN_CHUNK) -> Iterator[list[FileStat]]:
    chunk: list[FileStat] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
