"""Reading the catalog's ``vectors`` rows: searchable blocks, digests, local features, and
CRC-32 checks. :class:`~lookalike.store.catalog.Catalog` methods of the same names call these.
"""

from __future__ import annotations

import logging
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lookalike.errors import CatalogCorrupt
from lookalike.store.hnsw import Ids, VectorIndex
from lookalike.types import Vectors

if TYPE_CHECKING:
    from lookalike.store.catalog import Catalog

log = logging.getLogger(__name__)

SEARCHABLE = (
    "FROM vectors v INDEXED BY vectors_digest JOIN photos p ON p.id = v.photo_id "
    "JOIN roots r ON r.id = p.root_id "
    "WHERE v.model_id = ? AND p.status = 'indexed' AND r.online = 1"
)
"""Searchable vectors: indexed under the given model, on an online root."""


def locals_of(catalog: Catalog, photo_ids: Sequence[int]) -> dict[int, bytes]:
    """The stored local-feature blobs of these photos (those without any are left out, and
    so are damaged ones, whose CRC-32 does not match: logged, see :func:`damaged_locals`)."""
    out: dict[int, bytes] = {}
    wanted = sorted({int(i) for i in photo_ids})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = "SELECT photo_id, locals, locals_crc32 FROM vectors WHERE locals IS NOT NULL "
        sql += f"AND photo_id IN ({marks})"
        for pid, blob, crc in catalog._all(sql, chunk):
            if crc is not None and zlib.crc32(blob) != crc:
                log.warning("photo %d: its stored local features are damaged (checksum "
                            "mismatch); 'lookalike check' re-embeds it", pid)
                continue
            out[int(pid)] = bytes(blob)
    return out


def damaged_locals(catalog: Catalog) -> list[int]:
    """Ids of photos whose stored local features fail their CRC-32 (reads every blob)."""
    return _damaged(catalog, "locals", "locals_crc32 IS NOT NULL AND ")


def damaged_vectors(catalog: Catalog) -> list[int]:
    """Ids of photos whose stored vector fails its CRC-32 (reads every vector)."""
    return _damaged(catalog, "vector", "")


def _damaged(catalog: Catalog, column: str, condition: str) -> list[int]:
    """Ids of the ``vectors`` rows (matching ``condition``) whose ``column`` blob fails its
    ``{column}_crc32``, read 256 rows at a time by ascending id."""
    bad, last = [], -1
    sql = (f"SELECT photo_id, {column}, {column}_crc32 FROM vectors WHERE {condition}"
           "photo_id > ? ORDER BY photo_id LIMIT 256")  # fmt: skip
    while rows := catalog._all(sql, (last,)):
        last = int(rows[-1][0])
        bad += [int(r[0]) for r in rows if zlib.crc32(r[1] or b"") != r[2]]
    return bad


def iter_vectors(
    catalog: Catalog, model_id: str, batch: int = 4096, *, ids: Sequence[int] | None = None
) -> Iterator[tuple[Ids, Vectors]]:
    """Searchable vectors of a model ('indexed', on an online root), by ascending id.

    Args:
        catalog: the open catalog.
        model_id: the vector space.
        batch: most rows per block (at most 500 when ``ids`` is given).
        ids: only these photo ids (those not searchable are left out).

    Yields:
        ids (n,) int64 and vectors (n, D) float32. No lock is held between blocks, so
        writes made meanwhile may or may not show up.
    """
    select = f"SELECT v.photo_id, v.vector {SEARCHABLE} AND v.photo_id"
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        for start in range(0, len(wanted), min(batch, 500)):
            chunk = wanted[start : start + min(batch, 500)]
            marks = ",".join("?" * len(chunk))
            rows = catalog._all(f"{select} IN ({marks}) ORDER BY 1", (model_id, *chunk))
            if rows:
                yield _block(catalog, rows)
        return
    last = -1
    while rows := catalog._all(f"{select} > ? ORDER BY 1 LIMIT ?", (model_id, last, batch)):
        last = int(rows[-1][0])
        yield _block(catalog, rows)


def _block(catalog: Catalog, rows: list[sqlite3.Row]) -> tuple[Ids, Vectors]:
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    if flat.size % len(rows):
        raise CatalogCorrupt(f"{catalog.path}: vectors of one model differ in length")
    return ids, flat.reshape(len(rows), -1).copy()


def vector_digests(catalog: Catalog, model_id: str) -> tuple[Ids, npt.NDArray[np.uint32]]:
    """Ids (n,) int64 and vector CRC-32s (n,) uint32 of what :func:`iter_vectors` yields."""
    rows = catalog._all(f"SELECT v.photo_id, v.vector_crc32 {SEARCHABLE}", (model_id,))
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    return ids, np.fromiter((r[1] for r in rows), np.uint32, len(rows))


def count_indexed(catalog: Catalog, model_id: str) -> int:
    """How many vectors :func:`iter_vectors` would yield."""
    return int(catalog._one(f"SELECT count(*) {SEARCHABLE}", (model_id,)))


CHECKSUM_PRIME = 2147483647
"""2**31 - 1: each row's terms stay below 2**62 in SQLite's 64-bit integers."""
_TERM = f"((v.photo_id * 1000003 + v.vector_crc32) % {CHECKSUM_PRIME})"


def digests_checksum(ids: Ids, crcs: npt.NDArray[np.integer]) -> tuple[int, int, int]:
    """An order-free checksum of (photo id, vector CRC-32) pairs: their count, the sum of
    ``t = (id * 1000003 + crc) mod p`` and the sum of ``t * t mod p`` (``p`` =
    :data:`CHECKSUM_PRIME`). Two sets that differ (a pair missing, extra or changed) give the
    same three numbers only by an accident far rarer than a damaged disk sector.

    Args:
        ids: (n,) int64 photo ids.
        crcs: (n,) their vector CRC-32s (0..2**32 - 1).
    """
    t = (np.asarray(ids, np.int64) * 1000003 + np.asarray(crcs, np.int64)) % CHECKSUM_PRIME
    return len(t), int(t.sum()), int((t * t % CHECKSUM_PRIME).sum())


def vector_checksum(catalog: Catalog, model_id: str) -> tuple[int, int, int]:
    """:func:`digests_checksum` of :func:`vector_digests`, summed inside SQLite: one row comes
    back (about 3x faster than the 100k rows at 100k photos), and SQLite computes it without
    Python's lock, so it can run while another thread loads the index."""
    sql = f"SELECT count(*), sum({_TERM}), sum({_TERM} * {_TERM} % {CHECKSUM_PRIME}) {SEARCHABLE}"
    count, first, second = catalog._all(sql, (model_id,))[0]
    return int(count), int(first or 0), int(second or 0)


PAIR_BLOCK = 4096
"""Pairs whose vectors :func:`pair_cosines` reads at a time (at most 2 x 4,096 vectors, ~40 MB)."""


def pair_cosines(catalog: Catalog, index: VectorIndex, a: Ids, b: Ids) -> npt.NDArray[np.float32]:
    """Exact index-space cosines of the photo pairs (``a[i]``, ``b[i]``), from the catalog's
    vectors (the index holds them projected: its scores are estimates, see
    ``lookalike.store.projection``); NaN for a pair with a photo no longer searchable."""
    out = np.full(len(a), np.nan, np.float32)
    for start in range(0, len(a), PAIR_BLOCK):
        pa, pb = a[start : start + PAIR_BLOCK], b[start : start + PAIR_BLOCK]
        wanted = np.unique(np.concatenate([pa, pb]))
        blocks = list(iter_vectors(catalog, index.model_id, ids=wanted.tolist()))
        if not blocks:
            continue
        ids = np.concatenate([blk[0] for blk in blocks])
        vectors = index.to_index_space(np.concatenate([blk[1] for blk in blocks]))
        row = {int(i): r for r, i in enumerate(ids.tolist())}
        ra = np.asarray([row.get(int(i), -1) for i in pa.tolist()], np.intp)
        rb = np.asarray([row.get(int(i), -1) for i in pb.tolist()], np.intp)
        ok = (ra >= 0) & (rb >= 0)
        dots = np.einsum("ij,ij->i", vectors[ra[ok]], vectors[rb[ok]])
        out[start : start + PAIR_BLOCK][ok] = dots
    return out
