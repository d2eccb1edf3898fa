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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lookalike.decode.image import read_header
from lookalike.errors import UnreadablePhoto
from lookalike.search import grouping
from lookalike.search.grouping import Edges, Pair
from lookalike.search.keep_choice import PhotoFacts, explain_group
from lookalike.search.pair_check import Kind, PairCheck, PairEvidence, check_locals
from lookalike.store.catalog import Catalog
from lookalike.store.duplicates_store import DuplicatesStore, EdgeRow
from lookalike.store.hnsw import VectorIndex
from lookalike.types import Locals, locals_from_bytes

log = logging.getLogger(__name__)

CHUNK = 1024
"""Photos queried and checked per catalog transaction."""


@dataclass(frozen=True)
class DuplicatePhoto:
    """One photo of a group, as shown and printed.

    Attributes:
        path: the file.
        size_bytes: its size.
        width, height: upright pixels.
        format: "JPEG", "PNG", ...
        taken: the EXIF original date ("2024:04:01 10:00:00") or None.
        mtime_ns: the file's modification time, ns since the epoch.
        keep: True for the photo suggested to keep.
        reason: for the kept photo, why; for the others, how they differ ("smaller, cropped").
        reference: in a reference folder: never offered for removal.
    """

    path: Path
    size_bytes: int
    width: int
    height: int
    format: str
    taken: str | None
    mtime_ns: int
    keep: bool
    reason: str
    reference: bool


@dataclass(frozen=True)
class DuplicateGroup:
    """A group of copies or burst takes; ``photos`` has the one to keep first."""

    kind: Kind
    photos: tuple[DuplicatePhoto, ...]

    @property
    def keep(self) -> DuplicatePhoto:
        return self.photos[0]

    @property
    def freeable_bytes(self) -> int:
        """Bytes freed by removing every photo but the one kept (reference photos stay)."""
        return sum(p.size_bytes for p in self.photos[1:] if not p.reference)


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
    """

    def __init__(self, catalog: Catalog, index: Callable[[], VectorIndex], lock: threading.RLock,
                 model_id: str, store: DuplicatesStore,
                 pair_check: PairCheck | None = None) -> None:  # fmt: skip
        self._catalog, self._index, self._lock = catalog, index, lock
        self._model_id, self.store, self.pair_check = model_id, store, pair_check

    def update(self, cancel: threading.Event | None = None) -> int:
        """Check the photos that are new or changed since their last check.

        Returns:
            How many photos were checked.
        """
        with self._lock:
            ids, crcs = self._catalog.vector_digests(self._model_id)
        done = self.store.checked()
        todo = [(int(i), int(c)) for i, c in zip(ids, crcs, strict=True) if done.get(int(i)) != c]
        for start in range(0, len(todo), CHUNK):
            if cancel is not None and cancel.is_set():
                return start
            self._check_chunk(dict(todo[start : start + CHUNK]))
        if todo:
            log.info("duplicates: checked %d photos", len(todo))
        return len(todo)

    def _check_chunk(self, chunk: dict[int, int]) -> None:
        """Query the neighbours of ``chunk`` (id → CRC), check the close pairs, store edges."""
        ids = np.fromiter(chunk, np.int64, len(chunk))
        with self._lock:
            index = self._index()
            digests = index.digests()
            live = [i for i in ids.tolist() if i in digests]
            found = np.asarray(live, np.int64)
            vectors = index.vectors(found) if len(found) else None
            if vectors is not None:
                neighbours, cosines = index.knn(vectors, grouping.NEIGHBOURS + 1, whitened=True)
        if vectors is None:
            self.store.replace(chunk, [])
            return
        pairs = grouping.candidate_pairs(found, neighbours, cosines)
        check = self.pair_check or self._default_check(pairs)
        edges = grouping.check_pairs(pairs, self._with_exif_hint(check))
        self.store.replace(chunk, [evidence_row(k, e) for k, e in edges.items()])

    def _default_check(self, pairs: dict[Pair, float]) -> PairCheck:
        """The check from stored local features, for the photos of ``pairs``."""
        wanted = sorted({p for key in pairs for p in key})
        with self._lock:
            blobs = self._catalog.locals_of(wanted)
        locals_: dict[int, Locals] = {}
        for photo_id, blob in blobs.items():
            try:
                locals_[photo_id] = locals_from_bytes(blob).astype(np.float32)
            except ValueError as exc:
                log.warning("photo %d: unreadable local features (%s)", photo_id, exc)

        def check(a: int, b: int) -> PairEvidence:
            return check_locals(locals_.get(a), locals_.get(b), pairs[grouping.pair(a, b)])

        return check

    def _with_exif_hint(self, check: PairCheck) -> PairCheck:
        """``check``, with one hint from EXIF: a pair the image calls a copy whose two files
        both carry a camera's original date, and different ones, is two takes: a burst."""

        def hinted(a: int, b: int) -> PairEvidence:
            found = check(a, b)
            if found.kind != "copy":
                return found
            fa, fb = self._facts(a), self._facts(b)
            if fa and fb and fa.taken and fb.taken and fa.taken != fb.taken:
                return replace(found, kind="burst")
            return found

        return hinted

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
                out.append(_describe(group.kind, facts, edges, refs))
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


def _in(path: Path, folders: Sequence[Path]) -> bool:
    return any(path.is_relative_to(f) for f in folders)


def _describe(kind: Kind, facts: list[PhotoFacts], edges: Edges, refs: Sequence[Path]
              ) -> DuplicateGroup:  # fmt: skip
    """A group as shown: the photo to keep first (a reference photo if there is one)."""
    in_ref = [f for f in facts if _in(f.path, refs)]
    keep, reason, diffs = explain_group(facts, edges, in_ref)
    if in_ref:
        reason = f"in a reference folder; {reason}"
        for f in in_ref:
            diffs.setdefault(f.id, []).insert(0, "in a reference folder")
    photos = [_photo(keep, True, reason, refs)]
    photos += [_photo(f, False, ", ".join(diffs[f.id]), refs)
               for f in sorted(facts, key=lambda f: str(f.path)) if f is not keep]  # fmt: skip
    return DuplicateGroup(kind, tuple(photos))


def _photo(f: PhotoFacts, keep: bool, reason: str, refs: Sequence[Path]) -> DuplicatePhoto:
    return DuplicatePhoto(f.path, f.size_bytes, f.width, f.height, f.format, f.taken,
                          f.mtime_ns, keep, reason, _in(f.path, refs))  # fmt: skip
