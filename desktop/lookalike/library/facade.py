"""The Library façade: roots, sync, watch, search and status of one photo library.

A library lives in one folder (``home``): ``catalog.sqlite`` (the truth) and ``index.hnsw``
(a cache of the catalog's vectors). All writes go through :class:`CatalogWriter`, whose lock is
held for one small batch at a time and never while a photo is decoded or embedded, so searches
run while a sync is under way. Only one embedding loop runs at a time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.decode.image import IMAGE_SUFFIXES
from lookalike.embed import whitening
from lookalike.errors import KnownError
from lookalike.library.duplicates import DuplicateFinder
from lookalike.library.results import Progress, RootInfo, SearchResult, Status, WhiteningInfo
from lookalike.library.trash import Trashed, TrashResult, move_to_trash, restore
from lookalike.library.writer import CatalogWriter, Result
from lookalike.scan.watcher import CREATED, FileEvent, WatchHandle
from lookalike.search import similar
from lookalike.search.defaults import DBA_ALPHA, DBA_DEPTH, DBA_K
from lookalike.search.expand import alpha_expand, dba_shortlist
from lookalike.search.rerank import DEFAULT_PARAMS, RerankParams, rerank_matches
from lookalike.search.rotate import merge_max, turns
from lookalike.search.similar import Match
from lookalike.store.catalog import Catalog, PhotoRow
from lookalike.store.duplicates_store import DuplicatesStore
from lookalike.store.index import build_from_catalog, diff, load_or_rebuild, patch
from lookalike.store.vectors import VectorIndex
from lookalike.types import (
    Embedding,
    Locals,
    PhotoEmbedder,
    locals_from_bytes,
    peaks_from_bytes,
)

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite"
INDEX_FILE = "index.hnsw"
SAVE_INTERVAL_S = 30.0
"""While photos are being added the index is saved at least this often."""
Image = Path | str | bytes | npt.NDArray[np.uint8]
Crop = tuple[float, float, float, float]


class Library:
    """A photo library: its folders, their photos' vectors, and search over them.

    Attributes:
        home: the folder holding the catalog and the index.
        rerank: whether searches re-rank their top matches by spatial verification unless a
            search says otherwise.
        rerank_params: the re-ranking knobs (depth, weight, ...).
        dba: neighbours of database-side augmentation on the shortlist (0: off), see
            :func:`lookalike.search.expand.dba_shortlist`; the shortlist is ``dba_depth``
            deep.
        dba_depth: how many of the top matches DBA rescores.
        dba_alpha: its weight exponent (also alpha-QE's).
        qe: neighbours of alpha query expansion (0: off; measured to hurt on both benches, so
            off by default, see docs/QUALITY.md).
    """

    def __init__(
        self,
        home: Path,
        writer: CatalogWriter,
        embedder: PhotoEmbedder,
        rerank: bool = True,
        rerank_params: RerankParams = DEFAULT_PARAMS,
        dba: int = DBA_K,
        dba_alpha: float = DBA_ALPHA,
        model_changed: bool = False,
    ) -> None:
        """Use :meth:`open`."""
        self.home = home
        self.model_changed = model_changed
        """True when :meth:`open` found the photos embedded by another model (an app update
        changed it): they are pending again, and the next :meth:`sync` embeds them anew."""
        self.rerank = rerank
        self.rerank_params = rerank_params
        self.dba = dba
        self.dba_alpha = dba_alpha
        self.dba_depth = DBA_DEPTH
        self.qe = 0
        self._writer = writer
        self._catalog = writer.catalog
        self._index = writer.index
        self._lock = writer.lock
        self._embedder = embedder
        self._embed_lock = threading.Lock()
        self._last_save_s = time.monotonic()
        self._handles: list[WatchHandle] = []
        self._duplicates: DuplicateFinder | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        home: Path,
        embedder: PhotoEmbedder,
        *,
        exclude: Sequence[Path] = (),
        rerank: bool = True,
        dba: int = DBA_K,
    ) -> Library:
        """Open (or create) the library in ``home`` for ``embedder``'s vector space.

        A new model id sends every photo back to pending; a missing, stale or corrupt index is
        rebuilt from the catalog, and one that lags the catalog (after a crash) is repaired.

        Args:
            home: folder for ``catalog.sqlite`` and ``index.hnsw``; created if needed.
            embedder: computes descriptors; its ``model_id`` names the vector space.
            exclude: absolute folders never indexed (``home`` is always excluded).
            rerank: re-rank search results by spatial verification by default.
            dba: neighbours of database-side augmentation (0: off).

        Raises:
            CatalogCorrupt: the catalog cannot be used.
        """
        home = Path(home).expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
        catalog = Catalog.open(home / CATALOG_FILE)
        try:
            model_changed = catalog.set_model(embedder.model_id)
            whitening = _stored_whitening(catalog, embedder.model_id)
            index, reason = load_or_rebuild(
                home / INDEX_FILE, catalog, embedder.model_id, embedder.dim, whitening=whitening)
            log.debug("index %s loaded (%s)", home / INDEX_FILE, reason or "as saved")
            excluded = [*(Path(p).expanduser().resolve() for p in exclude), home]
            writer = CatalogWriter(catalog, index, embedder.model_id, IMAGE_SUFFIXES, excluded)
        except BaseException:
            catalog.close()
            raise
        return cls(home, writer, embedder, rerank, dba=dba, model_changed=model_changed)

    # --- roots --------------------------------------------------------------------------------

    def add_root(self, path: Path) -> None:
        """Add a folder (a no-op if it is one already); :meth:`sync` fills it.

        Raises:
            KnownError: the folder does not exist.
        """
        path = Path(path).expanduser().resolve()
        if not path.is_dir():
            raise KnownError(f"{path}: not a folder")
        with self._writer.write():
            if all(root != path for _, root, _ in self._catalog.roots()):
                self._catalog.add_root(path)
                log.info("added library folder %s", path)

    def remove_root(self, path: Path) -> None:
        """Forget a folder and all its photos (the files are not touched).

        Raises:
            KnownError: the folder is not a library folder.
        """
        path = Path(path).expanduser().resolve()
        with self._writer.write():
            if all(root != path for _, root, _ in self._catalog.roots()):
                raise KnownError(f"{path} is not a library folder")
            self._index.remove(self._catalog.remove_root(path))

    def roots(self) -> list[RootInfo]:
        """The library folders with their photo counts, by path.

        With one folder the catalog's totals are its counts; with several, each folder's
        photos are listed (O(photos)).
        """
        infos = []
        with self._lock:
            roots = self._catalog.roots()
            for root_id, path, online in roots:
                if len(roots) == 1:
                    counts = self._catalog.stats()
                else:
                    counts = dict.fromkeys(("indexed", "offline", "pending", "skipped"), 0)
                    for row in self._catalog.photos_under(path):
                        if row.root_id == root_id:
                            counts[row.status] += 1
                photos = counts["indexed"] + counts["offline"]
                infos.append(RootInfo(path, photos, counts["skipped"], counts["pending"], online))
        return infos

    # --- sync ---------------------------------------------------------------------------------

    def sync(self, cancel: threading.Event | None = None, batch: int = 32) -> Iterator[Progress]:
        """Bring the catalog and the index in line with the disk, then embed what is new.

        Every root is walked (mark and sweep on size and mtime): unchanged files are only
        marked, new and changed ones become pending, moved or renamed ones (same content hash
        and size, old path gone) keep their vector, vanished ones are removed, and a missing
        root goes offline instead. Pending photos are then embedded ``batch`` at a time; each
        batch is committed, so a crash loses at most one batch and a rerun resumes.

        Args:
            cancel: set it to stop soon (after the current photo); the last Progress then
                has phase "cancelled".
            batch: photos per embedding batch and commit.

        Yields:
            Progress, every SCAN_CHUNK walked files, every batch, and once at the end.
        """
        cancel = cancel or threading.Event()
        with self._lock:
            roots = sorted(self._catalog.roots(), key=lambda r: len(r[1].parts), reverse=True)
        walked = 0
        for root_id, path, _online in roots:  # nested roots first: they take their photos over
            count = 0
            for count in self._writer.scan_root(root_id, path, cancel):
                yield Progress("scanning", walked + count, 0, current=path)
                if cancel.is_set():
                    yield Progress("cancelled", walked + count, 0)
                    return
            walked += count
        yield from self._embed_pending(cancel, batch)

    def _embed_pending(
        self, cancel: threading.Event, batch: int, save_at_end: bool = True
    ) -> Iterator[Progress]:
        """Embed pending photos ``batch`` at a time until none is left or ``cancel`` is set."""
        with self._embed_lock:
            with self._lock:
                total = self._catalog.stats()["pending"]
            started, done, skipped = time.monotonic(), 0, 0
            last: tuple[Path, str] | None = None
            rate = 0.0
            while not cancel.is_set():
                with self._lock:
                    rows = self._catalog.pending(batch)
                if not rows:
                    break
                results = self._embed_rows(rows, cancel)
                stored, failed = self._writer.commit(results)
                done, skipped = done + len(results), skipped + len(failed)
                last = failed[-1] if failed else last
                total = max(total, done)
                rate = done / max(time.monotonic() - started, 1e-6)
                eta = (total - done) / rate if rate > 0 else None
                yield Progress("embedding", done, total, rate, eta, rows[-1].path, skipped, last)
                self._save_if_due()
                if not stored:  # every row changed meanwhile: the next sync or event redoes it
                    log.debug("no photo of this batch could be stored; stopping")
                    break
            if save_at_end:
                self.save()
            phase = "cancelled" if cancel.is_set() else "done"
            yield Progress(phase, done, total, rate, 0.0 if phase == "done" else None, None,
                           skipped, last)

    def _embed_rows(self, rows: list[PhotoRow], cancel: threading.Event) -> list[Result]:
        """Embed the rows' files in order, outside the lock; stops early when cancelled."""
        results: list[Result] = []
        outcomes = self._embedder.embed_files([row.path for row in rows])
        for row, (_path, outcome) in zip(rows, outcomes, strict=False):  # same order
            results.append((row, outcome))
            if cancel.is_set():
                break
        return results

    # --- watching -----------------------------------------------------------------------------

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
        (phase "done"), also when files were only removed or moved. Roots added or coming
        online later are not watched; :meth:`close` stops every handle.

        Args:
            on_progress: receives Progress from the worker thread.
            debounce_s: quiet time that ends a batch of file events.
        """
        def process(events: list[FileEvent], stopping: threading.Event) -> None:
            self._writer.apply_events(events)
            for progress in self._embed_pending(stopping, 32, save_at_end=False):
                if on_progress is not None:
                    on_progress(progress)
            self._save_if_due()

        with self._lock:
            roots = [p for _, p, online in self._catalog.roots() if online]
        handle = WatchHandle(roots, process, debounce_s, suffixes=IMAGE_SUFFIXES,
                             exclude=self._writer.exclude)
        self._handles.append(handle)
        handle.start()
        return handle

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        image: Image,
        top: int = 50,
        crop: Crop | None = None,
        *,
        rerank: bool | None = None,
        rotate: bool = False,
    ) -> SearchResult:
        """Find the photos most similar to an image.

        Args:
            image: a file path (a library photo without ``crop`` reuses its stored vector),
                encoded image bytes, or an upright (H, W, 3) uint8 RGB array.
            top: maximum number of matches.
            crop: ``(x0, y0, x1, y1)`` fractions (0..1) of the upright image to search for.
            rerank: re-rank the top matches by spatial verification (None: the library's
                default, :attr:`rerank`).
            rotate: also search with the query turned by 90, 180 and 270 degrees and keep each
                photo's best score (finds sideways-stored photos; costs three more embeddings).

        Returns:
            The matches, best first; a library photo used as the query is never among them.

        Raises:
            UnreadablePhoto: the image cannot be decoded.
            KnownError: invalid crop or array.
        """
        started = time.perf_counter()
        exclude: set[int] = set()
        query: Embedding | None = None
        if isinstance(image, str | Path):
            image = Path(image).expanduser().resolve()
            with self._lock:
                row = self._catalog.get_photo(image)
            if row is not None:
                exclude.add(row.id)
                query = self.embedding(row.id) if crop is None else None
            if query is None and crop is None and not rotate:
                query = self._embedder.embed_file(image)
        queries = [] if query is None else [query]
        if query is None or rotate:
            pixels = similar.query_pixels(image, crop, self._embedder.max_side)
            variants = turns(pixels) if rotate else [pixels]
            queries += [self._embedder.embed_rgb(v) for v in variants[len(queries):]]
            query = queries[0]
        use = self.rerank if rerank is None else rerank
        found = [self._find(q, top, exclude, use) for q in queries]
        matches = found[0] if len(found) == 1 else merge_max(found, top)
        return SearchResult(query, matches, time.perf_counter() - started)

    def search_photo(self, photo_id: int, top: int = 50, *, rerank: bool | None = None
                     ) -> SearchResult:
        """Find the photos most similar to a library photo (never itself).

        Raises:
            KnownError: the photo has no vector.
        """
        started = time.perf_counter()
        query = self.embedding(photo_id)
        if query is None:
            raise KnownError(f"photo {photo_id} is not indexed")
        use = self.rerank if rerank is None else rerank
        matches = self._find(query, top, {photo_id}, use)
        return SearchResult(query, matches, time.perf_counter() - started)

    def _find(self, query: Embedding, top: int, exclude: set[int], rerank: bool) -> list[Match]:
        """Global kNN, then DBA on the shortlist (if on), then (if asked and the query has
        local features) spatial re-ranking."""
        params = self.rerank_params
        verify = rerank and query.locals is not None
        deep = verify or self.dba > 0
        with self._lock:
            vector, whitened = query.vector, False
            if self.qe > 0:
                vector, whitened = self._expanded(query.vector, exclude), True
            matches = similar.knn(self._index, self._catalog, vector,
                                  max(top, params.depth, self.dba_depth) if deep else top,
                                  exclude,
                                  whitened=whitened)  # fmt: skip
            if self.dba > 0:
                matches = self._augmented(query, matches[: self.dba_depth]) \
                    + matches[self.dba_depth:]  # fmt: skip
            blobs = self._catalog.locals_of([m.photo_id for m in matches[: params.depth]]) \
                if verify else {}  # fmt: skip
        if not verify:
            return matches[:top]
        return rerank_matches(matches, query.locals, _decode_locals(blobs), top, params)

    def _expanded(self, vector: npt.NDArray[np.float32], exclude: set[int]
                  ) -> npt.NDArray[np.float32]:  # fmt: skip
        """alpha-QE: the query (in the index's space) plus its ``qe`` nearest photos, weighted
        ``sim ** dba_alpha`` (lock held)."""
        index = self._index
        query = index.to_index_space(vector)
        ids, _ = index.knn(query, self.qe + len(exclude), whitened=True)
        keep = np.asarray([i for i in ids[0].tolist() if i not in exclude][: self.qe], np.int64)
        if not len(keep):
            return query
        expanded = alpha_expand(query[None, :], index.vectors(keep), self.qe, self.dba_alpha)
        return np.ascontiguousarray(expanded[0])

    def _augmented(self, query: Embedding, matches: list[Match]) -> list[Match]:
        """The shortlist rescored against DBA descriptors, best first (lock held)."""
        if not matches:
            return matches
        ids = np.asarray([m.photo_id for m in matches], np.int64)
        try:
            vectors = self._index.vectors(ids)
        except KeyError:  # removed meanwhile: keep the plain order
            return matches
        index = self._index

        def neighbours(vs: npt.NDArray[np.float32], k: int) -> tuple[Any, Any]:
            return index.knn(vs, k, whitened=True, threads=os.cpu_count() or 1)

        scores = dba_shortlist(index.to_index_space(query.vector), ids, vectors, neighbours,
                               index.vectors, self.dba, self.dba_alpha)  # fmt: skip
        order = np.argsort(-scores, kind="stable")
        return [replace(matches[i], score=float(scores[i]), rank=r + 1)
                for r, i in enumerate(order.tolist())]  # fmt: skip

    def embedding(self, photo_id: int) -> Embedding | None:
        """A photo's stored vector and peaks, or None if it has none."""
        with self._lock:
            stored = self._catalog.vector(photo_id)
            blob = self._catalog.locals_of([photo_id]).get(photo_id) if stored else None
        if stored is None:
            return None
        locals_ = _decode_locals({photo_id: blob}).get(photo_id) if blob is not None else None
        return Embedding(stored[0], peaks_from_bytes(stored[1]), locals_)

    def photos_under(self, folder: Path) -> list[tuple[int, Path, str]]:
        """(id, path, status) of every catalogued photo below ``folder``, by path."""
        with self._lock:
            rows = self._catalog.photos_under(Path(folder).expanduser().resolve())
        return [(row.id, row.path, row.status) for row in rows]

    def status(self) -> Status:
        """Counts, folders, skipped files and the index size."""
        roots = self.roots()
        with self._lock:
            stats = self._catalog.stats()
            white = self._index.whitening
            info = None if white is None else WhiteningInfo(white.pairs, white.photos,
                                                            white.digest)  # fmt: skip
            return Status(roots, stats["indexed"], stats["pending"], self._catalog.skipped(),
                          stats["offline"], self._index.live_count, self._index.file_size,
                          self._embedder.model_id, info)

    # --- whitening ----------------------------------------------------------------------------

    def learn_whitening(self) -> WhiteningInfo:
        """Learn a whitening from this library's photos and re-index with it.

        Pairs of photos that are each other's nearest neighbour stand in for labelled
        matches (see :mod:`lookalike.embed.whitening`). The stored vectors are not changed:
        the index is rebuilt from them, whitened, beside the one in use, which keeps serving
        searches until the new one replaces it. Undo with :meth:`forget_whitening`.

        Raises:
            KnownError: too few photos or pairs to learn from.
        """
        # Nothing here needs the library lock: the catalog is read block by block and each
        # index query locks the index briefly, so searches go on between them.
        model_id = self._embedder.model_id
        blocks = list(self._catalog.iter_vectors(model_id))
        ids = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros(0, np.int64)
        vectors = np.concatenate([b[1] for b in blocks]) if blocks else None
        nearest = _nearest_others(self._index, ids, vectors)
        if vectors is None:
            raise KnownError("the library has no indexed photos to learn from")
        pairs = whitening.mutual_pairs(ids, nearest)
        try:
            fitted = whitening.fit(vectors, pairs)
        except ValueError as exc:
            raise KnownError(f"not enough similar photos to learn from yet: {exc}") from exc
        with self._lock:
            self._catalog.set_whitening(model_id, fitted.to_bytes())
        self._reindex(fitted)
        log.info("whitening learned from %d photos (%d pairs)", fitted.photos, fitted.pairs)
        return WhiteningInfo(fitted.pairs, fitted.photos, fitted.digest)

    def forget_whitening(self) -> None:
        """Drop the learned whitening and re-index the stored vectors as they are."""
        with self._lock:
            self._catalog.set_whitening(self._embedder.model_id, None)
            if self._index.whitening is None:
                return
        self._reindex(None)

    def _reindex(self, white: whitening.Whitening | None) -> None:
        """Build an index with ``white`` from the catalog while the current one serves, then
        bring it up to date with what changed meanwhile, swap it in and save it."""
        model_id, dim = self._embedder.model_id, self._embedder.dim
        fresh = build_from_catalog(self._catalog, model_id, dim, self._index.params, white)
        with self._lock:
            found = diff(fresh, self._catalog)
            if found.size:
                patch(fresh, self._catalog, found)
            self._index = fresh
            self._writer.index = fresh
            if not self._closed:
                fresh.save(self.home / INDEX_FILE)

    # --- duplicates and trash -----------------------------------------------------------------

    def duplicates(self) -> DuplicateFinder:
        """The library's duplicate finder (``update()`` it, then read ``groups()``)."""
        if self._duplicates is None:
            store = DuplicatesStore.open(self._catalog.path)
            self._duplicates = DuplicateFinder(self._catalog, lambda: self._index, self._lock,
                                               self._embedder.model_id, store)  # fmt: skip
        return self._duplicates

    def trash(self, paths: Sequence[Path]) -> TrashResult:
        """Move library photos to the system trash; the catalog and index forget them at once.

        Photos in reference folders and files that are not library photos are refused (listed
        in ``failed``). Undo with :meth:`untrash`.
        """
        refs = self.duplicates().store.reference_folders()
        wanted, refused = [], []
        for path in (Path(p).expanduser().resolve() for p in paths):
            with self._lock:
                known = self._catalog.get_photo(path) is not None
            if not known:
                refused.append((path, "not a photo of this library"))
            elif any(path.is_relative_to(r) for r in refs):
                refused.append((path, "in a reference folder"))
            else:
                wanted.append(path)
        result = move_to_trash(wanted)
        for item in result.moved:
            self._writer.forget(item.original)
        return TrashResult(result.moved, result.failed + tuple(refused))

    def untrash(self, items: Sequence[Trashed]) -> tuple[list[Path], list[tuple[Path, str]]]:
        """Move photos back from the trash (see :mod:`lookalike.library.trash` for platforms)
        and index them again at once.

        Returns:
            The restored paths, and (path, reason) of those that could not be.
        """
        restored, failed = restore(items)
        self._writer.apply_events([FileEvent(CREATED, p) for p in restored])
        for _ in self._embed_pending(threading.Event(), 32):
            pass
        return restored, failed

    # --- lifetime -----------------------------------------------------------------------------

    def save(self) -> None:
        """Write the index to disk if it changed since the last save."""
        with self._lock:
            if not self._closed:
                self._index.save_if_dirty(self.home / INDEX_FILE)
            self._last_save_s = time.monotonic()

    def _save_if_due(self) -> None:
        if time.monotonic() - self._last_save_s >= SAVE_INTERVAL_S:
            self.save()

    def close(self) -> None:
        """Stop watching, save the index and close the catalog; calling it again does nothing."""
        if self._closed:
            return
        for handle in self._handles:
            handle.stop()
        with self._lock:
            self.save()
            self._closed = True
            self._catalog.close()
            if self._duplicates is not None:
                self._duplicates.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nearest_others(
    index: VectorIndex, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32] | None
) -> npt.NDArray[np.int64]:
    """Each photo's nearest other photo by ``index`` (-1: none), in blocks of 256 queries."""
    nearest = np.full(len(ids), -1, np.int64)
    if vectors is None or len(ids) < 2:
        return nearest
    for start in range(0, len(ids), 256):
        found, _ = index.knn(vectors[start : start + 256], 2)
        for row, hits in enumerate(found.tolist(), start=start):
            others = [h for h in hits if h != ids[row]]
            nearest[row] = others[0] if others else -1
    return nearest


def _stored_whitening(catalog: Catalog, model_id: str) -> whitening.Whitening | None:
    """The catalog's whitening for ``model_id``; a damaged one is logged and ignored."""
    data = catalog.whitening(model_id)
    if data is None:
        return None
    try:
        return whitening.Whitening.from_bytes(data)
    except ValueError as exc:
        log.warning("stored whitening ignored: %s", exc)
        return None


def _decode_locals(blobs: dict[int, bytes]) -> dict[int, Locals]:
    """Parse stored local-feature blobs; a malformed one is logged and left out."""
    out: dict[int, Locals] = {}
    for photo_id, blob in blobs.items():
        try:
            out[photo_id] = locals_from_bytes(blob)
        except ValueError as exc:
            log.warning("photo %d: unreadable local features (%s)", photo_id, exc)
    return out
