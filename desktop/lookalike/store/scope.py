"""Search scopes: the photos of some folders and of a date range, as catalog ids, and the
k nearest among them.

A photo's date is its EXIF DateTimeOriginal (``photos.taken_ns``, written when the photo is
embedded; the camera's wall clock read as this computer's local time), else its file time
(``mtime_ns``): the catalog's ``photos_date`` index covers ``COALESCE(taken_ns, mtime_ns)``.
Photos embedded before schema v7 have no ``taken_ns`` and so count by file time until they are
embedded again (nothing is read from disk for them).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import path_key
from lookalike.store.hnsw import Ids, VectorIndex

Floats = npt.NDArray[np.float32]

EXACT_MAX = 1_000
"""Scopes of at most this many photos are searched exactly: one (n, D) product over their
vectors read from the catalog, about 40 µs a photo (``benchmarks/scope_speed.py``, D=1280:
100 ids 1.6 ms, 1,000 ids 42 ms). hnswlib's filtered search walks the graph until k photos
pass, so it slows down and misses neighbours when few pass: 100 of 8,000 took 21 ms, 100 of
30,000 152 ms (34x the unscoped query); 1,000 of 8,000 13 ms at recall@60 0.98."""
SPARSE_EXACT_MAX = 10_000
"""Larger scopes are still searched exactly when under :data:`SPARSE_SHARE` of the index
passes the filter (where hnswlib degrades most), up to this many photos (~0.4 s)."""
SPARSE_SHARE = 0.05

_DATE = "COALESCE(taken_ns, mtime_ns)"  # the expression of the photos_date index


@dataclass(frozen=True)
class Scope:
    """Which photos a search may return.

    Attributes:
        folders: absolute folders; photos inside any of them (at any depth) are in scope.
            Empty: every folder.
        from_ns: start of the date range, nanoseconds since the epoch, inclusive; None: open.
        to_ns: end of the date range, nanoseconds since the epoch, exclusive; None: open.
    """

    folders: tuple[Path, ...] = ()
    from_ns: int | None = None
    to_ns: int | None = None

    @property
    def unlimited(self) -> bool:
        """True when the scope lets every photo through."""
        return not self.folders and self.from_ns is None and self.to_ns is None

    def admits(self, path: Path, date_ns: int | None) -> bool:
        """Whether a photo at ``path`` dated ``date_ns`` (None: unknown) is in scope."""
        if self.folders and not any(path.is_relative_to(f) for f in self.folders):
            return False
        if self.from_ns is not None and (date_ns is None or date_ns < self.from_ns):
            return False
        return self.to_ns is None or (date_ns is not None and date_ns < self.to_ns)


def local_day_ns(day: dt.date) -> int:
    """Local midnight at the start of ``day``, in nanoseconds since the epoch."""
    return int(dt.datetime(day.year, day.month, day.day).timestamp()) * 10**9


def days_scope(folders: Iterable[Path] = (), first: dt.date | None = None,
               last: dt.date | None = None) -> Scope:  # fmt: skip
    """The scope of ``folders`` and the days ``first``..``last`` (both included, local time)."""
    return Scope(
        folders=tuple(Path(f) for f in folders),
        from_ns=None if first is None else local_day_ns(first),
        to_ns=None if last is None else local_day_ns(last + dt.timedelta(days=1)),
    )


def exif_time_ns(text: str | None) -> int | None:
    """An EXIF date ("2023:05:01 12:00:03", also with '-' in the date) read as local time, in
    nanoseconds since the epoch; None for a missing, blank ("0000:00:00 ...") or malformed one."""
    if not text:
        return None
    value = text.strip("\x00 ").replace("-", ":")
    try:
        stamp = dt.datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
        return int(stamp.timestamp() * 10**9)
    except (ValueError, OverflowError, OSError):
        return None


def set_taken(catalog: Catalog, taken: dict[int, int | None]) -> None:
    """Record the EXIF dates of photos (photo id → ns since the epoch, None: none)."""
    with catalog.transaction():
        for photo_id, taken_ns in taken.items():
            catalog._write("UPDATE photos SET taken_ns = ? WHERE id = ?", (taken_ns, photo_id))


def scope_ids(catalog: Catalog, scope: Scope) -> set[int]:
    """The ids of the indexed photos in ``scope`` (one query; the path test is a range on the
    ``path`` UNIQUE index per folder, the dates a range on ``photos_date``)."""
    where: list[str] = ["status = 'indexed'"]
    args: list[bytes | int] = []
    if scope.folders:
        sep = path_key(os.sep)
        ranges = []
        for folder in scope.folders:
            prefix = path_key(folder).rstrip(sep) + sep
            ranges.append("(path >= ? AND path < ?)")
            args += [prefix, prefix[:-1] + bytes([sep[0] + 1])]
        where.append("(" + " OR ".join(ranges) + ")")
    if scope.from_ns is not None:
        where.append(f"{_DATE} >= ?")
        args.append(scope.from_ns)
    if scope.to_ns is not None:
        where.append(f"{_DATE} < ?")
        args.append(scope.to_ns)
    rows = catalog._all("SELECT id FROM photos WHERE " + " AND ".join(where), args)
    return {int(row[0]) for row in rows}


def knn_among(catalog: Catalog, index: VectorIndex, queries: Floats, k: int,
              allowed: Collection[int]) -> tuple[Ids, Floats]:  # fmt: skip
    """The ``k`` nearest of the ``allowed`` ids to (Q, D) index-space queries.

    Small scopes (:data:`EXACT_MAX`, or :data:`SPARSE_EXACT_MAX` when they are a small share
    of the index): exact cosine over their vectors read from the catalog (SQLite hands them
    over faster than hnswlib's ``get_items``), in the index's space; others: hnswlib with a
    filter (one thread, as hnswlib requires).

    Returns:
        ids (Q, k') and scores (Q, k'), best first; k' ≤ min(k, searchable allowed ids).
    """
    n_allowed = len(allowed)
    sparse = n_allowed <= SPARSE_EXACT_MAX and n_allowed < SPARSE_SHARE * index.live_count
    if n_allowed > EXACT_MAX and not sparse:
        members = allowed if isinstance(allowed, set | frozenset) else set(allowed)
        return index.knn(queries, k, members.__contains__, whitened=True)
    q = np.asarray(queries, np.float32).reshape(-1, index.dim)
    blocks = list(catalog.iter_vectors(index.model_id, ids=list(allowed)))
    n = min(int(k), sum(len(ids) for ids, _ in blocks))
    if n <= 0:
        return np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
    ids = np.concatenate([block_ids for block_ids, _ in blocks])
    vectors = index.to_index_space(np.concatenate([v for _, v in blocks]))
    sims = q @ vectors.T
    best = np.argsort(-sims, axis=1, kind="stable")[:, :n]
    return ids[best], np.take_along_axis(sims, best, 1).astype(np.float32)
