"""The duplicate finder's copy test of the candidate pairs its cells cannot fit: the stored
thumbnails screen them (:mod:`lookalike.search.copy_screen`, no file read), and only the pairs
that pass are decoded for the pixel test (``copy_pixels.check_files``) under the map found.

Photos embedded before the catalog stored thumbnails (schema v8) have none: the first time
one is needed, it is made from the file (a small decode) and stored, at most :data:`BACKFILL`
photos per update (:meth:`CopyScreen.reset`); the pairs of the photos left over are not
screened and those photos are reported back (``deferred``), for the finder to check them again
at its next update.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.decode.image import decode
from lookalike.decode.thumb import THUMB_SIDE, grey_thumb
from lookalike.errors import KnownError
from lookalike.search.copy_pixels import check_files, is_pixel_copy
from lookalike.search.copy_screen import (
    SCREEN_NCC,
    SCREEN_SIDE,
    frame_map,
    screen,
    signatures,
)
from lookalike.search.grouping import Pair
from lookalike.search.pair_check import PairEvidence
from lookalike.store.catalog import Catalog
from lookalike.store.thumbs import put_thumbs, thumbs_of
from lookalike.types import Thumb

log = logging.getLogger(__name__)

PairArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]
"""(P,) a, (P,) b photo ids and (P,) the pairs' global cosines."""

BACKFILL = 2000
"""Thumbnails made from files per update, for photos stored without one (a 12 MP JPEG takes
about 60 ms to decode even at 1/8 scale: at most about two minutes of CPU per update)."""
SAME_MAP = 0.01
"""Largest difference of any entry (long-side units: 2.6 pixels at the pixel test's 256) between
a map the pixel test already rejected and a pair's whole-frame map for it not to be tested
again: the pixel test searches several pixels around the map it is given (``copy_pixels``)."""
BACKFILL_SIDE = 4 * THUMB_SIDE
"""Long side (pixels) a file is decoded at to make its missing thumbnail."""


def _from_file(path: Path) -> Thumb | None:
    try:
        return grey_thumb(decode(path, BACKFILL_SIDE, exact=False).rgb)
    except (KnownError, OSError) as exc:
        log.debug("no thumbnail for %s: %s", path, exc)
        return None


class CopyScreen:
    """Screens pairs on stored thumbnails and confirms the survivors on their files' pixels.

    Args:
        catalog: the library's catalog (read and written under ``lock``).
        lock: the library's lock.
        paths: photo ids → their files (those still in the catalog).
    """

    def __init__(self, catalog: Catalog, lock: threading.RLock,
                 paths: Callable[[set[int]], dict[int, Path]]) -> None:  # fmt: skip
        self._catalog, self._lock, self._paths = catalog, lock, paths
        self.screened = 0
        """Pairs scored so far (a measurement)."""
        self.tested = 0
        """Pairs that passed the screen and were pixel-tested so far."""
        self.reset()

    def reset(self) -> None:
        """Start an update: forget the signatures read (a photo's thumbnail may have changed
        since), and :data:`BACKFILL` thumbnails may be made from files again."""
        self.backfill_left = BACKFILL
        self._row_of = np.full(0, -1, np.intp)  # photo id -> row of _sigs and _sizes (-1: none)
        self._loaded = 0  # rows of _sigs and _sizes in use
        self._sigs = np.zeros((0, SCREEN_SIDE, SCREEN_SIDE), np.float32)
        self._sizes = np.zeros((0, 2), np.int64)
        self._absent: set[int] = set()  # no thumbnail: unreadable, or left for later
        self._left: set[int] = set()  # left for the next update (BACKFILL reached)

    def copies(self, pairs: PairArrays,
               tested: Mapping[Pair, npt.NDArray[np.float64]] | None = None
               ) -> tuple[dict[Pair, PairEvidence], set[int]]:  # fmt: skip
        """The pairs (with their global cosine) that are whole-frame copies.

        Args:
            pairs: (P,) a, (P,) b photo ids (a < b) and (P,) their global cosines.
            tested: the maps (3, 2) that the pixel test already rejected for some pairs (the
                cells' fits): a pair whose whole-frame map lies within :data:`SAME_MAP` of it
                is not tested again (a burst's second take passes the screen, and its cells'
                fit was that map).

        Returns:
            Copy evidence per pair (coverage 1.0 both ways, the variant's quarter turns), and
            both photos of every pair not screened because a thumbnail could not be made in
            this update.
        """
        a, b = np.asarray(pairs[0], np.int64), np.asarray(pairs[1], np.int64)
        cosine = np.asarray(pairs[2], np.float32)
        if not len(a):
            return {}, set()
        self._load(np.unique(np.concatenate([a, b])))
        # both photos of a pair left unscreened: the one being checked is not marked done, so
        # the pair is screened at a later update even when the other was checked long ago
        deferred: set[int] = set()
        if self._left:
            left = np.fromiter(self._left, np.int64, len(self._left))
            waits = np.isin(a, left) | np.isin(b, left)
            deferred = set(a[waits].tolist()) | set(b[waits].tolist())
        ra, rb = self._lookup(a), self._lookup(b)
        todo = np.flatnonzero((ra >= 0) & (rb >= 0))
        if not len(todo):
            return {}, deferred
        score, variant = screen(self._sigs, self._sizes, ra[todo], rb[todo])
        hits = np.flatnonzero(score >= SCREEN_NCC)
        passed = [((int(a[todo[i]]), int(b[todo[i]])), float(cosine[todo[i]]), int(variant[i]))
                  for i in hits.tolist()]  # fmt: skip
        passed = [t for t in passed if not self._judged(t[0], t[2], tested or {})]
        self.screened += len(todo)
        self.tested += len(passed)
        found = self._confirm(passed)
        return found, deferred

    def _lookup(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Rows of ``_sigs`` of the photos ``ids`` (-1: no thumbnail)."""
        inside = ids < len(self._row_of)
        if not len(self._row_of):
            return np.full(len(ids), -1, np.intp)
        return np.where(inside, self._row_of[np.where(inside, ids, 0)], -1)

    def _size(self, photo: int) -> tuple[int, int]:
        width, height = self._sizes[self._lookup(np.asarray([photo]))[0]].tolist()
        return int(width), int(height)

    def _judged(self, key: Pair, variant: int,
                tested: Mapping[Pair, npt.NDArray[np.float64]]) -> bool:  # fmt: skip
        """Whether the pixel test already judged (nearly) this whole-frame map of the pair."""
        fit = tested.get(key)
        if fit is None or variant != 0:
            return False
        frame = frame_map(0, self._size(key[0]), self._size(key[1]))
        return bool(np.abs(np.asarray(fit, np.float64) - frame).max() <= SAME_MAP)

    def _load(self, ids: npt.NDArray[np.int64]) -> None:
        """Read (or make) the thumbnails of the photos ``ids`` not read yet in this update and
        keep their signatures (100k photos: 100 MB)."""
        new = set(ids[self._lookup(ids) < 0].tolist()) - self._absent
        if not new:
            return
        with self._lock:
            thumbs = thumbs_of(self._catalog, sorted(new))
        left = self._backfill(new - set(thumbs), thumbs)
        self._left |= left
        self._absent |= new - set(thumbs)
        if not thumbs:
            return
        order = sorted(thumbs)
        start, count = self._loaded, len(order)
        if start + count > len(self._sigs):  # grow by doubling
            grown = max(start + count, 2 * len(self._sigs))
            sigs = np.zeros((grown, SCREEN_SIDE, SCREEN_SIDE), np.float32)
            sizes = np.zeros((grown, 2), np.int64)
            sigs[:start], sizes[:start] = self._sigs[:start], self._sizes[:start]
            self._sigs, self._sizes = sigs, sizes
        self._sigs[start : start + count] = signatures(np.stack([thumbs[i].pixels for i in order]))
        self._sizes[start : start + count] = [(thumbs[i].width, thumbs[i].height) for i in order]
        self._loaded += count
        if order[-1] >= len(self._row_of):  # photo ids grow: so does the lookup
            lookup = np.full(max(order[-1] + 1, 2 * len(self._row_of)), -1, np.intp)
            lookup[: len(self._row_of)] = self._row_of
            self._row_of = lookup
        self._row_of[order] = np.arange(start, start + count)

    def _backfill(self, missing: set[int], thumbs: dict[int, Thumb]) -> set[int]:
        """Make and store the thumbnails of ``missing`` from their files (added to
        ``thumbs``), as many as :attr:`backfill_left` allows; returns the photos left over
        (an unreadable file is not left over: it has no thumbnail, and its pairs no screen)."""
        wanted = sorted(missing)[: max(0, self.backfill_left)]
        left = missing - set(wanted)
        if not wanted:
            return left
        self.backfill_left -= len(wanted)
        paths = self._paths(set(wanted))
        ids = [pid for pid in wanted if pid in paths]
        with ThreadPoolExecutor(max(1, min(len(ids), os.cpu_count() or 1))) as pool:
            made = list(pool.map(_from_file, [paths[pid] for pid in ids]))
        fresh = {pid: t for pid, t in zip(ids, made, strict=True) if t is not None}
        if fresh:
            with self._lock:
                put_thumbs(self._catalog, fresh)
        thumbs.update(fresh)
        log.info("duplicates: %d thumbnails made from files (photos stored before them)%s",
                 len(fresh), f", {len(left)} left for the next update" if left else "")
        return left

    def _confirm(self, passed: list[tuple[Pair, float, int]]) -> dict[Pair, PairEvidence]:
        """The pixel test of each screened pair under its whole-frame map (files decoded in
        parallel: decoding and NumPy release the GIL)."""
        if not passed:
            return {}
        paths = self._paths({p for key, _, _ in passed for p in key})
        todo = [t for t in passed if t[0][0] in paths and t[0][1] in paths]

        def test(item: tuple[Pair, float, int]) -> bool:
            (x, y), _, variant = item
            affine = frame_map(variant, self._size(x), self._size(y))
            return is_pixel_copy(check_files(paths[x], paths[y], affine, variant))

        with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            verdicts = list(pool.map(test, todo))
        found = zip(todo, verdicts, strict=True)
        return {key: PairEvidence("copy", cosine, coverage_a=1.0, coverage_b=1.0,
                                  turns=variant % 4)
                for (key, cosine, variant), ok in found if ok}  # fmt: skip
