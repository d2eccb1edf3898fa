"""A deliberate model switch (or an app update's new model), built beside the one in use.

The new vectors go into the catalog's second space (:mod:`lookalike.store.next_space`) a batch
at a time, outside the writer's lock while embedding, committed under it; the index and the
query embedder stay those of the old space, so searches return results at every moment. Once
every searchable or waiting photo has a new vector, :meth:`ModelSwitch.swap` makes the new
space the catalog's in one transaction (with the preset record), then builds the new index
from the catalog and replaces ``index.hnsw``.

A kill before the swap's commit leaves the old space whole: the next ``index`` or window start
resumes where the last committed batch stopped. A kill after it leaves the new space whole in
the catalog; an ``index.hnsw`` still holding the old model is rebuilt at open
(``load_or_rebuild``: "built for another model_id").

Photos added during a switch are embedded by the usual loop with the old model (they are
searchable at once) and then by the switch with the new one: they get both. When the old
model no longer exists (an app update replaced it), the usual loop does not run and the
switch embeds new photos in the new space only; they become searchable at the swap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.decode.image import IMAGE_SUFFIXES
from lookalike.errors import BugError, KnownError, UnreadablePhoto
from lookalike.library import learning, preset_record
from lookalike.library.indexing import Indexer
from lookalike.library.results import Progress, SwitchInfo
from lookalike.library.writer import CatalogWriter, Result
from lookalike.store import next_space
from lookalike.store.catalog import Catalog
from lookalike.store.index_sync import BuildProgress, build_from_catalog, load_or_rebuild
from lookalike.store.next_space import Target
from lookalike.store.vector_cache import CACHE_FILE, VectorCache
from lookalike.types import Embedding, PhotoEmbedder, locals_to_bytes, peaks_to_bytes

log = logging.getLogger(__name__)

MODEL_GONE = ("the model was updated and its photos are being embedded again ({done} of "
              "{total} done; see 'lookalike status'); until then, search with a photo of the "
              "library")  # fmt: skip


def open_space(catalog: Catalog, embedder: PhotoEmbedder, preset: str | None
               ) -> tuple[str, int, PhotoEmbedder]:  # fmt: skip
    """The vector space a library opens with: (model id, dim, query embedder).

    ``embedder``'s own (its preset recorded), or after an app update the old one, whose
    vectors keep serving searches by library photo (see :func:`old_space`) with a
    :class:`ModelGone` in place of its embedder.
    """
    old = old_space(catalog, embedder)
    if old is None:
        if preset is not None:
            preset_record.record_preset(catalog, preset, embedder)
        return embedder.model_id, embedder.dim, embedder
    return old[0], old[1], ModelGone(old[0], old[1], catalog)


def open_writer(index_path: Path, catalog: Catalog, embedder: PhotoEmbedder,
                preset: str | None, excluded: list[Path], progress: BuildProgress | None = None
                ) -> tuple[CatalogWriter, PhotoEmbedder]:  # fmt: skip
    """The writer a library opens with (its index loaded, or rebuilt from the catalog, which
    ``progress`` hears of) and its query embedder (see :func:`open_space`; not ``embedder``
    after an app update)."""
    space, dim, query_embedder = open_space(catalog, embedder, preset)
    white = learning.stored_whitening(catalog, space)
    index, reason = load_or_rebuild(index_path, catalog, space, dim, whitening=white,
                                    progress=progress)  # fmt: skip
    log.debug("index %s loaded (%s)", index_path, reason or "as saved")
    vectors = VectorCache(index_path.with_name(CACHE_FILE))
    return CatalogWriter(catalog, index, space, IMAGE_SUFFIXES, excluded, vectors), query_embedder


def old_space(catalog: Catalog, embedder: PhotoEmbedder) -> tuple[str, int] | None:
    """The vector space to keep searching while ``embedder``'s is built, or None.

    None when the catalog already uses ``embedder``'s model (or has none yet), or when it has
    no vectors to keep (then it simply takes the new model). Otherwise the app was updated with
    another model: the old space's (model id, dim) are returned, and its vectors serve searches
    by library photo until the new space replaces them (the old model, needed to embed a new
    query image, no longer exists).
    """
    current, dim = catalog.get_meta("model_id"), catalog.get_meta("dim")
    if current in (None, embedder.model_id) or dim is None or not catalog.count_indexed(current):
        catalog.set_model(embedder.model_id)
        return None
    log.info("the model changed from %s to %s: photos are embedded again beside the "
             "vectors in use", current, embedder.model_id)  # fmt: skip
    return current, int(dim)


class ModelGone:
    """The old space's stand-in embedder after an app update replaced its model: it keeps the
    old ``model_id`` and ``dim`` and refuses to embed (KnownError saying why)."""

    max_side = 1024

    def __init__(self, model_id: str, dim: int, catalog: Catalog) -> None:
        self.model_id, self.dim, self._catalog = model_id, dim, catalog

    def _refuse(self) -> KnownError:
        done, total = next_space.progress(self._catalog)
        return KnownError(MODEL_GONE.format(done=done, total=total))

    def embed_file(self, path: Path) -> Embedding:
        raise self._refuse()

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        raise self._refuse()

    def embed_files(
        self, paths: Iterable[Path]
    ) -> Iterator[tuple[Path, Embedding | UnreadablePhoto]]:
        raise self._refuse()


def info(writer: CatalogWriter) -> SwitchInfo | None:
    """The switch in progress in the writer's catalog, or None."""
    with writer.lock:
        new = next_space.target(writer.catalog)
        if new is None:
            return None
        done, total = next_space.progress(writer.catalog)
    return SwitchInfo(new.preset, new.model_id, done, total)


class ModelSwitch:
    """Embeds every photo with the new model into the second space, then swaps.

    Attributes:
        embedder: the new model's embedder.
        target: the space being built.
    """

    def __init__(self, writer: CatalogWriter, embedder: PhotoEmbedder, preset: str | None,
                 record: Callable[[], None]) -> None:  # fmt: skip
        """Start (or resume) a switch to ``embedder``'s model.

        Args:
            writer: the library's writer (catalog and index of the old space).
            embedder: computes the new vectors.
            preset: the preset name chosen (None: an app update).
            record: writes the new preset record; called inside the swap's transaction.
        """
        self._writer = writer
        self.embedder = embedder
        self.target = Target(embedder.model_id, embedder.dim, preset)
        self._record = record
        self._lock = threading.Lock()
        self.embedded = 0
        """Photos embedded (or found unreadable) by the last :meth:`run`."""
        with writer.lock:
            next_space.begin(writer.catalog, self.target)

    def run(self, cancel: threading.Event, batch: int) -> Iterator[Progress]:
        """Embed the photos still without a new vector, ``batch`` at a time.

        Yields:
            Progress ("switching": done and total count the whole switch) after every batch.
            Ends when none is left, when ``cancel`` is set, or when a batch stores nothing.
        """
        writer = self._writer
        with self._lock:
            started, embedded, self.embedded = time.monotonic(), 0, 0
            while not cancel.is_set():
                with writer.lock:
                    rows = next_space.todo(writer.catalog, batch)
                if not rows:
                    return
                results: list[Result] = []
                outcomes = self.embedder.embed_files([r.path for r in rows])
                for row, (_path, outcome) in zip(rows, outcomes, strict=False):  # same order
                    results.append((row, outcome))
                    if cancel.is_set():  # stop soon: what is done is committed
                        break
                stored = self._commit(results)
                embedded += len(results)
                self.embedded = embedded
                with writer.lock:
                    done, total = next_space.progress(writer.catalog)
                rate = embedded / max(time.monotonic() - started, 1e-6)
                yield Progress("switching", done, total, rate, (total - done) / rate,
                               rows[-1].path)  # fmt: skip
                if not stored:
                    log.debug("no new vector of this batch could be stored; stopping")
                    return

    def _commit(self, results: list[Result]) -> int:
        """Store one batch of new vectors; a photo changed meanwhile is left for later, one
        that cannot be read is skipped (as indexing does). Returns the photos settled."""
        settled = 0
        with self._writer.write():
            catalog = self._writer.catalog
            if next_space.target(catalog) != self.target:  # cancelled or replaced meanwhile
                return 0
            for row, outcome in results:
                if catalog.photo_by_id(row.id) != row:
                    continue
                settled += 1
                if isinstance(outcome, UnreadablePhoto):
                    if row.path.exists():
                        catalog.set_skipped(row.id, outcome.reason)
                        self._writer.index.remove([row.id])
                    continue
                local_blob = None if outcome.locals is None else locals_to_bytes(outcome.locals)
                next_space.store(catalog, row.id, self.target, outcome.vector,
                                 peaks_to_bytes(outcome.peaks), local_blob)  # fmt: skip
        return settled

    def complete(self) -> bool:
        """Whether every searchable or waiting photo has its new vector."""
        with self._writer.lock:
            if next_space.target(self._writer.catalog) != self.target:
                return False
            done, total = next_space.progress(self._writer.catalog)
        return done == total

    def swap(self, index_file: Path | None) -> None:
        """Make the new space the library's: one catalog transaction, then the new index
        (built from the catalog) replaces the writer's and ``index_file``.

        Searches wait on the writer's lock meanwhile, so none mixes the two spaces.
        """
        writer = self._writer
        with writer.lock:
            with writer.write():
                next_space.swap(writer.catalog, self.target)
                self._record()
            fresh = build_from_catalog(writer.catalog, self.target.model_id, self.target.dim)
            writer.model_id = self.target.model_id
            writer.replace_index(fresh, index_file)
        log.info("the library now uses model %s (%d vectors)", self.target.model_id,
                 fresh.live_count)  # fmt: skip


class Switcher:
    """The library's model switch, if one runs: starts, cancels, resumes, runs and swaps it.

    Attributes:
        running: the switch this process works on (None: none, or one left waiting).
    """

    def __init__(self, writer: CatalogWriter, indexer: Indexer,
                 embedder_for: Callable[[str], PhotoEmbedder] | None,
                 on_swap: Callable[[ModelSwitch], None]) -> None:  # fmt: skip
        """Args: the library's writer and indexer; ``embedder_for`` builds a preset's embedder;
        ``on_swap`` is told of a swap (before the last Progress)."""
        self._writer, self._indexer, self._embedder_for = writer, indexer, embedder_for
        self._on_swap = on_swap
        self.running: ModelSwitch | None = None

    def start(self, embedder: PhotoEmbedder, preset: str | None) -> None:
        """Start (or resume) a switch to ``embedder``'s model."""
        def record() -> None:
            if preset is not None:
                preset_record.record_preset(self._writer.catalog, preset, embedder)

        self.running = ModelSwitch(self._writer, embedder, preset, record)

    def request(self, name: str, own: str | None) -> None:
        """The user chose preset ``name``: the library's ``own`` one (None: its model is gone)
        cancels a switch, the one under way keeps it, another starts a new one."""
        if name == own:
            self.running = None
            cancel(self._writer)
        elif self.running is None or self.running.target.preset != name:
            if self._embedder_for is None:
                raise BugError("Library.open was given no embedder_for: cannot switch presets")
            self.start(self._embedder_for(name), name)

    def embed(self, old_model: bool, cancel: threading.Event, batch: int,
              index_file: Path | None) -> Iterator[Progress]:  # fmt: skip
        """Embed pending photos with the old model (unless it is gone), then run the switch.

        Yields:
            The indexer's Progress, the switch's, then the last one ("done" or "cancelled"),
            whose done and total count the photos of both.
        """
        final = Progress("done", 0, 0)
        for final in self._indexer.embed_pending(cancel, batch) if old_model else ():
            if final.phase not in ("done", "cancelled"):
                yield final
        running = self.running
        if running is not None:
            running.embedded = 0
        swapped = yield from self.run(cancel, batch, index_file)
        if swapped is not None:
            self._on_swap(swapped)
        extra = running.embedded if running is not None else 0  # counted in the last Progress
        final = replace(final, done=final.done + extra, total=final.total + extra)
        yield replace(final, phase="cancelled") if cancel.is_set() else final

    def run(self, cancel: threading.Event, batch: int, index_file: Path | None
            ) -> Generator[Progress, None, ModelSwitch | None]:  # fmt: skip
        """Embed a batch at a time and swap once complete.

        Returns:
            The switch if it swapped (its embedder is the indexer's now), else None.
        """
        done = self.running
        if done is None or cancel.is_set():
            return None
        yield from done.run(cancel, batch)
        if cancel.is_set() or not done.complete():
            return None
        with self._indexer.idle():  # no old-model batch is committed into the new space
            done.swap(index_file)
            self._indexer.embedder = done.embedder
        self.running = None
        return done


def cancel(writer: CatalogWriter) -> bool:
    """Drop a switch in progress and its new vectors; False if there was none."""
    with writer.lock:
        if next_space.target(writer.catalog) is None:
            return False
        next_space.drop(writer.catalog)
    log.info("model switch cancelled; the new vectors are dropped")
    return True
