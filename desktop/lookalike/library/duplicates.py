"""Duplicates of a library: find the edges (incrementally), group them, suggest what to keep.

:class:`DuplicateFinder` feeds the pure functions of :mod:`lookalike.search.grouping` from the
library's index and catalog and keeps the edges in :class:`DuplicatesStore`. :meth:`update`
checks only the photos that are new or whose vector changed since they were last checked (the
first call checks the whole library); photos removed from the catalog lose their edges with
them (ON DELETE CASCADE). :meth:`groups` then reads the edges, groups them (O(edges)) and
describes each group for the window and the CLI.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.decode.image import read_header
from lookalike.errors import UnreadablePhoto
from lookalike.library.copy_screening import CopyScreen, PairArrays
from lookalike.library.duplicate_groups import DuplicateGroup, describe
from lookalike.search import grouping
from lookalike.search.grouping import Edges, Pair
from lookalike.search.keep_choice import PhotoFacts
from lookalike.search.pair_batch import Fitted, LocalsTable, check_batch_fits
from lookalike.search.pair_check import (
    FileCheck,
    Kind,
    PairCheck,
    PairEvidence,
    copy_gate,
    pixel_confirmed,
)
from lookalike.store.catalog import Catalog
from lookalike.store.duplicates_store import DuplicatesStore, EdgeRow
from lookalike.store.hnsw import VectorIndex
from lookalike.store.vector_rows import pair_cosines

log = logging.getLogger(__name__)

CHUNK = 4096
"""Photos whose candidate pairs are checked and stored per catalog transaction."""
KNN_BATCH = 1024
"""Photos per nearest-neighbour query (its threads are decided per query:
:meth:`DuplicateFinder._candidates`)."""
COSINE_BATCH = 2048
"""Pairs whose exact cosines are read per hold of the library's lock (the next chunk's kNN
waits for it)."""
PAIR_BATCH = 1024
"""Pairs whose photos' local features are read and decoded at once (at most 2,048 photos:
about 35 MB of blobs and 135 MB decoded)."""


FoundPairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32],
                   npt.NDArray[np.bool_]]
"""Candidate pairs: a (P,) and b (P,) photo ids (a < b), their cosines as the index estimates
them, and whether each is among the :data:`grouping.NEIGHBOURS` nearest of either photo."""


@dataclass
class Checked:
    """One chunk's pairs after the cells (:meth:`DuplicateFinder._verify`).

    Attributes:
        edges: the edges the cells found (copies confirmed on the pixels, bursts).
        unfitted: the pairs (a, b, cosine) left for :meth:`DuplicateFinder._unfitted`.
        tested: the maps of a onto b the pixels judged (the screen does not test them again).
    """

    edges: Edges
    unfitted: PairArrays
    tested: dict[Pair, npt.NDArray[np.float64]]


def _one_while(running: Future[FoundPairs]) -> int | None:
    """One thread while ``running`` runs, else None (all cores)."""
    return None if running.done() else 1


def evidence_row(key: Pair, e: PairEvidence) -> EdgeRow:
    assert e.kind is not None
    return (key[0], key[1], e.kind, e.cosine, e.inliers, e.ratio, e.coverage_a, e.coverage_b,
            e.turns, e.scale, e.residual)  # fmt: skip


def row_evidence(row: EdgeRow) -> tuple[Pair, PairEvidence]:
    a, b, kind, *rest = row
    return (a, b), PairEvidence(kind, *rest)  # type: ignore[arg-type]


class DuplicateFinder:
    """Duplicate groups of one library (the index and catalog belong to its Library).

    Args:
        catalog: the library's catalog (read under ``lock``).
        index: returns the library's current index (it is replaced when whitening changes).
        lock: the library's lock, held while the catalog or the index is read.
        model_id: the vector space.
        store: where edges, checked photos and reference folders live.
        pair_check: replaces the default check from stored local features
            (:func:`lookalike.search.pair_check.check_locals`), e.g. a learned verifier.
        pixels: the default check confirms each copy on the pixels of both files
            (:func:`lookalike.search.pair_check.pixel_confirmed`: the same copy test as a
            search's same-photo verdict); False: the cells' copy test only (measuring).
        file_check: the copy test of the pairs the cells cannot fit, from their files
            (:data:`lookalike.search.pair_check.FileCheck`, e.g. a measurement's); it replaces
            the screen.
        screen: the pairs the cells cannot fit are screened on the stored thumbnails and the
            survivors pixel-tested as whole-frame copies (turned, mirrored, 320 px:
            :class:`lookalike.library.copy_screening.CopyScreen`); False: such pairs make no
            edge (without a ``file_check``).
    """

    def __init__(self, catalog: Catalog, index: Callable[[], VectorIndex], lock: threading.RLock,
                 model_id: str, store: DuplicatesStore, pair_check: PairCheck | None = None,
                 *, pixels: bool = True, file_check: FileCheck | None = None,
                 screen: bool = True) -> None:  # fmt: skip
        self._catalog, self._index, self._lock = catalog, index, lock
        self._model_id, self.store, self.pair_check = model_id, store, pair_check
        self.pixels, self.file_check = pixels, file_check
        self.screen = CopyScreen(catalog, lock, self._paths) if screen else None
        self._done: dict[int, int] | None = None

    def update(self, cancel: threading.Event | None = None,
               progress: Callable[[int, int], object] | None = None) -> int:
        """Check the photos that are new or changed since their last check.

        Their old edges go first; then, :data:`CHUNK` photos at a time, their nearest
        neighbours give the candidate pairs, each unordered pair is checked once (a pair both
        of whose photos are new is not checked again from the second one), and the edges are
        stored with the photos marked as checked. A cancelled update leaves the rest unmarked:
        the next one checks them; so are the photos whose thumbnail could not be made yet
        (:data:`lookalike.library.copy_screening.BACKFILL`).

        Args:
            cancel: stops the update after the chunk being checked.
            progress: called with (photos checked, photos to check) after each chunk is
                stored (from a worker thread).

        Returns:
            How many photos were checked.
        """
        with self._lock:  # the index holds every searchable photo, with its vector's CRC
            digests = self._index().digests()
        done = self._checked()
        todo = {i: c for i, c in digests.items() if done.get(i) != c}
        if not todo:
            return 0
        self.store.forget_checked(todo)
        if self.screen is not None:
            self.screen.reset()
        for photo_id in todo:
            done.pop(photo_id, None)
        order = np.fromiter(sorted(todo), np.int64, len(todo))
        chunks = [order[start : start + CHUNK] for start in range(0, len(order), CHUNK)]
        seen: set[int] = set()  # pair keys checked in this update (a set: ~1M at 100k)

        def told(count: int) -> None:
            if progress is not None:
                progress(count, len(order))

        # three stages overlap: the next chunk's kNN, this chunk's cells and the previous
        # chunk's screen and store (one thread); the kNN and the cells each take one core while
        # the other runs and every core while the other waits (more threads than cores cost
        # CPU: caches, Python's lock)
        with (ThreadPoolExecutor(1, thread_name_prefix="duplicates-knn") as ahead,
              ThreadPoolExecutor(1, thread_name_prefix="duplicates-store") as behind):
            hurry = threading.Event()  # set while the checks wait for the kNN
            pending = ahead.submit(self._candidates, chunks[0], hurry)
            stored: Future[None] | None = None
            for n, chunk in enumerate(chunks):
                if cancel is not None and cancel.is_set():
                    return n * CHUNK  # the chunk being stored is finished first
                hurry.set()
                a, b, cos, near = pending.result()
                hurry.clear()
                if n + 1 < len(chunks):
                    pending = ahead.submit(self._candidates, chunks[n + 1], hurry)
                keys = grouping.pair_keys(a, b).tolist()
                new = np.fromiter((k not in seen for k in keys), np.bool_, len(keys))
                seen.update(keys)
                checked = self._verify(a[new], b[new], cos[new], near[new],
                                       partial(_one_while, pending))
                if stored is not None:
                    stored.result()  # at most one chunk waits: its pairs' memory, its errors
                reached = partial(told, min((n + 1) * CHUNK, len(order)))
                stored = behind.submit(self._store, chunk, checked, todo, done, reached)
            if stored is not None:
                stored.result()
        log.info("duplicates: checked %d photos", len(todo))
        return len(todo)

    def _store(self, chunk: npt.NDArray[np.int64], checked: Checked, todo: dict[int, int],
               done: dict[int, int], stored: Callable[[], object]) -> None:  # fmt: skip
        """Decide the pairs of ``chunk`` the cells could not (:meth:`_unfitted`), store all
        its edges and mark its photos as checked, but those whose pairs could not be screened
        yet (they are checked again at the next update); then call ``stored``."""
        copies, deferred = self._unfitted(checked.unfitted, checked.tested)
        edges = checked.edges | copies  # a copy the files show replaces a burst edge
        marked = {i: todo[i] for i in chunk.tolist() if i not in deferred}
        self.store.add(marked, [evidence_row(k, e) for k, e in edges.items()])
        done.update(marked)
        stored()

    def _checked(self) -> dict[int, int]:
        """Photo id → CRC of the vector it was checked with, kept between updates (read again
        when the store holds another number of photos: the catalog removed some, and their
        rows went with them)."""
        if self._done is None or len(self._done) != self.store.checked_count():
            self._done = self.store.checked()
        return self._done

    def _candidates(self, chunk: npt.NDArray[np.int64], hurry: threading.Event | None = None
                    ) -> FoundPairs:  # fmt: skip
        """The candidate pairs (a < b, cosine) of ``chunk``'s photos that are in the index,
        from their nearest neighbours, and whether each is among the
        :data:`grouping.NEIGHBOURS` nearest of either photo (the pairs the cells check; the
        further ones only go to :meth:`_unfitted`).

        The queries run on one thread while the previous chunk is being checked (on the other
        cores), on all cores when nothing else waits for them (``hurry`` set or None); both
        are decided per :data:`KNN_BATCH` photos.

        The library's lock is held only to read the photos' vectors: the queries themselves
        hold the index's own lock (an index replaced meanwhile answers for the library as it
        was; the pairs' photos are read again from the catalog when they are checked).
        """
        parts, near = [], []
        for start in range(0, len(chunk), KNN_BATCH):
            with self._lock:
                index = self._index()
                labels = index.labels()
                live = np.asarray([i for i in chunk[start : start + KNN_BATCH].tolist()
                                   if i in labels], np.int64)  # fmt: skip
                if not len(live):
                    continue
                vectors = index.vectors(live)
            threads = (os.cpu_count() or 1) if hurry is None or hurry.is_set() else 1
            neighbours, cosines = self._knn(index, live, vectors, self._neighbours(), threads)
            floor = self._floor() - grouping.PROJECTED_MARGIN  # the index's scores are estimates
            parts.append(grouping.candidate_arrays(live, neighbours, cosines, floor))
            k = grouping.NEIGHBOURS + 1
            closest = grouping.candidate_arrays(live, neighbours[:, :k], cosines[:, :k], floor)
            near.append(grouping.pair_keys(closest[0], closest[1]))
        if not parts:
            none = np.zeros(0, np.int64)
            return none, none, np.zeros(0, np.float32), np.zeros(0, np.bool_)
        a, b, cos = (np.concatenate(x) for x in zip(*parts, strict=True))
        keys = grouping.pair_keys(a, b)
        _, first = np.unique(keys, return_index=True)  # a pair found from both sides: once
        return a[first], b[first], cos[first], np.isin(keys[first], np.concatenate(near))

    def _widened(self) -> bool:
        """Whether the pairs the cells cannot fit are decided (a file check or the screen)."""
        return self.pair_check is None and (self.file_check is not None or self.screen is not None)

    def _floor(self) -> float:
        """The lowest cosine of a candidate pair: :data:`grouping.PREFILTER` (where the cells
        can fit a copy), down to :data:`grouping.CHANCE_COSINE` when the pairs the cells
        cannot fit are decided (:meth:`_unfitted`)."""
        if self._widened():
            return min(grouping.CHANCE_COSINE, grouping.PREFILTER)
        return grouping.PREFILTER

    def _neighbours(self) -> int:
        """Neighbours asked per photo (:data:`grouping.FILE_CHECK_NEIGHBOURS` when the pairs
        the cells cannot fit are decided, else :data:`grouping.NEIGHBOURS`)."""
        if self._widened():
            return max(grouping.FILE_CHECK_NEIGHBOURS, grouping.NEIGHBOURS)
        return grouping.NEIGHBOURS

    @staticmethod
    def _knn(index: VectorIndex, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32],
             count: int, threads: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """``count`` nearest neighbours of indexed photos (``ids``, with the ``vectors`` the
        index holds for them) at :data:`grouping.SEARCH_EF`, on ``threads`` threads; a photo
        that is not among its own neighbours was not reached by the narrow search (the graph
        led it astray), and is asked again at the index's own ef."""
        k = count + 1
        neighbours, cosines = index.knn(vectors, k, whitened=True, threads=threads,
                                        ef=grouping.SEARCH_EF)  # fmt: skip
        lost = np.flatnonzero(~(neighbours == ids[:, None]).any(axis=1))
        if len(lost) and neighbours.shape[1] == k:
            again, cos = index.knn(vectors[lost], k, whitened=True, threads=threads)
            if again.shape[1] == k:
                neighbours[lost], cosines[lost] = again, cos
        return neighbours, cosines

    def _verify(self, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64],
                cosine: npt.NDArray[np.float32], near: npt.NDArray[np.bool_] | None = None,
                threads: Callable[[], int | None] = lambda: None) -> Checked:  # fmt: skip
        """The cells' part of checking the pairs (``a[i]``, ``b[i]``): ``pair_check`` if one
        is set, else the default check in batches (:func:`lookalike.search.pair_batch.
        check_batch`) from the stored local features, read :data:`PAIR_BATCH` pairs at a time,
        of the ``near`` pairs (None: all) whose exact cosine is at or above
        :data:`grouping.PREFILTER`; the rest, and those the cells do not call a copy, are left
        for :meth:`_unfitted`. ``threads()``, asked per batch, gives the cells' threads (None:
        all cores; :meth:`update` asks for one while the next chunk's kNN runs on another)."""
        if self.pair_check is not None:
            check = self.pair_check
            pairs = zip(a.tolist(), b.tolist(), strict=True)
            none = np.zeros(0, np.int64)
            return Checked({p: self._hinted(p, e) for p in pairs
                            if (e := check(*p)).kind is not None},
                           (none, none, np.zeros(0, np.float32)), {})  # fmt: skip
        closest = np.ones(len(a), np.bool_) if near is None else np.asarray(near, np.bool_)
        cosine = np.asarray(cosine, np.float32).copy()
        # the exact cosines, from the catalog (the index's are estimates), of the pairs the
        # cells may check; the others keep the index's estimate: only the screen sees them,
        # from PROJECTED_MARGIN below the floor, as the kNN admitted them
        exact = closest & (cosine >= grouping.PREFILTER - grouping.PROJECTED_MARGIN)
        read = np.flatnonzero(exact)
        for start in range(0, len(read), COSINE_BATCH):
            part = read[start : start + COSINE_BATCH]
            with self._lock:
                cosine[part] = pair_cosines(self._catalog, self._index(), a[part], b[part])
        floor = np.where(exact, self._floor(), self._floor() - grouping.PROJECTED_MARGIN)
        above = cosine >= floor  # NaN (a photo gone meanwhile) is never above
        a, b, cosine, exact = a[above], b[above], cosine[above], exact[above]
        cells = (cosine >= grouping.PREFILTER) & exact
        out = Checked({}, (a[~cells], b[~cells], cosine[~cells]), {})
        a, b, cosine = a[cells], b[cells], cosine[cells]
        unfit: list[tuple[int, int, float]] = []  # those the cells do not call a copy
        for start in range(0, len(a), PAIR_BATCH):
            pa, pb = a[start : start + PAIR_BATCH].tolist(), b[start : start + PAIR_BATCH].tolist()
            with self._lock:
                blobs = self._catalog.locals_of(sorted(set(pa) | set(pb)))
            table = LocalsTable.from_blobs(blobs)
            found = check_batch_fits(table, pa, pb, cosine[start : start + PAIR_BATCH].tolist(),
                                     threads=threads() or os.cpu_count() or 1)  # fmt: skip
            for key, e in self._confirmed(list(zip(pa, pb, strict=True)), found, out.tested):
                if e.kind is not None:
                    out.edges[key] = self._hinted(key, e)
                if e.kind != "copy":
                    unfit.append((*key, e.cosine))
        if unfit:
            x, y, c = zip(*unfit, strict=True)
            ua, ub, uc = out.unfitted
            out.unfitted = (np.concatenate([ua, np.asarray(x, np.int64)]),
                            np.concatenate([ub, np.asarray(y, np.int64)]),
                            np.concatenate([uc, np.asarray(c, np.float32)]))  # fmt: skip
        return out

    def _confirmed(self, keys: Sequence[Pair], found: Sequence[Fitted],
                   tested: dict[Pair, npt.NDArray[np.float64]]
                   ) -> list[tuple[Pair, PairEvidence]]:  # fmt: skip
        """The cells' evidence of each pair, with the copy decided by the pixels
        (:func:`pixel_confirmed`) for the fits through the copy gate when :attr:`pixels` is
        set (the files are decoded in parallel: decoding and NumPy release the GIL); the maps
        the pixels judge are added to ``tested``."""
        out = [(k, e) for k, (e, _) in zip(keys, found, strict=True)]
        gated = [i for i, (e, fit) in enumerate(found) if fit is not None and copy_gate(e)]
        if not self.pixels or not gated:
            return out
        paths = self._paths({p for i in gated for p in keys[i]})
        for i in gated:  # the maps the pixels judge here: the screen need not try them again
            tested[keys[i]] = np.asarray(found[i][1], np.float64)

        def confirm(i: int) -> PairEvidence:
            (e, fit), (x, y) = found[i], keys[i]
            if fit is None or x not in paths or y not in paths:
                return replace(e, kind=None if e.kind == "copy" else e.kind)
            return pixel_confirmed(e, fit, (paths[x], paths[y]))

        with ThreadPoolExecutor(min(len(gated), os.cpu_count() or 1)) as pool:
            for i, e in zip(gated, pool.map(confirm, gated), strict=True):
                out[i] = (keys[i], e)
        return out

    def _unfitted(self, pairs: PairArrays,
                  tested: Mapping[Pair, npt.NDArray[np.float64]]) -> tuple[Edges, set[int]]:
        """The one place the pairs the cells cannot fit as a copy are decided: candidates that
        the cells' fit and its pixel test do not call a copy, and those below
        :data:`grouping.PREFILTER` (mirrored, turned and 320-px copies). :attr:`file_check`
        decides them from their files, else :attr:`screen` (thumbnails, then the pixels of
        the pairs that pass, but the maps in ``tested``, which the pixels already judged);
        their copies are returned (they replace a burst edge: a mirrored copy's cells can pass
        the burst test, a second take never passes a pixel alignment); with neither, nothing.

        Returns:
            The copies, and the photos whose pairs could not be screened yet (no thumbnail).
        """
        if not len(pairs[0]):
            return {}, set()
        if self.file_check is None and self.screen is not None:
            copies, deferred = self.screen.copies(pairs, tested)
            return {key: self._hinted(key, e) for key, e in copies.items()}, deferred
        if self.file_check is None:
            log.debug("duplicates: %d pairs without a cell fit left unchecked", len(pairs[0]))
            return {}, set()
        a, b, cos = (x.tolist() for x in pairs)
        check, paths = self.file_check, self._paths(set(a) | set(b))
        todo = [((x, y), c) for x, y, c in zip(a, b, cos, strict=True)
                if x in paths and y in paths]  # fmt: skip

        def run(item: tuple[Pair, float]) -> PairEvidence:
            (x, y), cosine = item
            return check(paths[x], paths[y], cosine)

        with ThreadPoolExecutor(min(len(todo), os.cpu_count() or 1) or 1) as pool:
            found = list(pool.map(run, todo))  # decoding and NumPy release the GIL
        return {key: self._hinted(key, e) for (key, _), e in zip(todo, found, strict=True)
                if e.kind == "copy"}, set()  # fmt: skip

    def _paths(self, ids: set[int]) -> dict[int, Path]:
        """Photo id → file, for the photos of ``ids`` still in the catalog."""
        with self._lock:
            rows = self._catalog.photos_by_ids(sorted(ids))
        return {photo_id: row.path for photo_id, row in rows.items()}

    def _hinted(self, key: Pair, found: PairEvidence) -> PairEvidence:
        """``found``, with one hint from EXIF: a pair the image calls a copy whose two files
        both carry a camera's original date, and different ones, is two takes: a burst."""
        if found.kind != "copy":
            return found
        fa, fb = self._facts(key[0]), self._facts(key[1])
        if fa and fb and fa.taken and fb.taken and fa.taken != fb.taken:
            return replace(found, kind="burst")
        return found

    def edges(self) -> Edges:
        return dict(row_evidence(r) for r in self.store.edges())

    def groups(self, kind: Kind | None = None) -> list[DuplicateGroup]:
        """Every group (of ``kind``), the most space to free first.

        Photos whose file cannot be read any more are left out (a group needs two).
        """
        edges = self.edges()
        kinds: Sequence[Kind] = ("copy", "burst") if kind is None else (kind,)
        refs = self.store.reference_folders()
        out = []
        for group in grouping.build_groups(edges, kinds):
            facts = [f for f in map(self._facts, group.members) if f is not None]
            if len(facts) > 1:
                out.append(describe(group.kind, facts, edges, refs))
        return sorted(out, key=lambda g: (-g.freeable_bytes, str(g.keep.path)))

    def _facts(self, photo_id: int) -> PhotoFacts | None:
        with self._lock:
            row = self._catalog.photo_by_id(photo_id)
        if row is None:
            return None
        try:
            width, height, fmt, camera, taken = read_header(row.path)
        except (UnreadablePhoto, OSError):
            return None
        return PhotoFacts(row.id, row.path, row.size_bytes, width, height, fmt, camera,
                          row.mtime_ns, taken)  # fmt: skip
