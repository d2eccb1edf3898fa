"""The library's side of a search: its index and catalog as a :class:`VectorStore`, and the
query image turned into embeddings (stored ones reused for library photos)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.decode.query import Crop, query_pixels, turns
from lookalike.library.writer import CatalogWriter
from lookalike.search.copy_check import QueryImage
from lookalike.search.defaults import DBA_K
from lookalike.search.pipeline import SearchOptions
from lookalike.settings import Settings
from lookalike.store.scope import Scope, knn_among, scope_ids
from lookalike.types import (
    CODE_STEP,
    Embedding,
    Locals,
    PhotoEmbedder,
    locals_from_bytes,
    locals_to_bytes,
)

log = logging.getLogger(__name__)

Image = Path | str | bytes | npt.NDArray[np.uint8]
Rgb = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
FileKey = tuple[str, int, int, bool, str]
"""A photo file as searched: resolved path, size, mtime (ns), with turns or not, model id."""


@dataclass(frozen=True)
class Prepared:
    """A photo file decoded and embedded before its search was asked for (while it is dragged
    over the window): the search of the same unchanged file in the same vector space starts
    from these instead of decoding and embedding it again.

    Attributes:
        key: the file and how it was embedded (see :func:`file_key`).
        pixels: (H, W, 3) uint8, the decoded upright photo.
        queries: its embeddings, upright first, then the turns (with ``rotate``).
    """

    key: FileKey
    pixels: Rgb
    queries: tuple[Embedding, ...]


def file_key(path: Path, rotate: bool, model_id: str) -> FileKey | None:
    """The key of a resolved photo path as it is now; None when it cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return None
    return str(path), info.st_size, info.st_mtime_ns, rotate, model_id


def search_options(settings: Settings, **changes: Any) -> SearchOptions:
    """The search options of the user's settings (DBA, re-ranking, rotation), with ``changes``
    (e.g. ``top=20``, or a command's flags) applied; built for each search."""
    options = SearchOptions(dba=DBA_K if settings.dba else 0, rerank=settings.rerank,
                            rotate=settings.rotate)  # fmt: skip
    return replace(options, **changes)


class IndexStore:
    """The writer's hnswlib index and catalog seen as a ``search.pipeline.VectorStore``.

    The caller holds the writer's lock for the whole search (index and catalog together), and
    makes one store per search: the vectors it reads are kept for the rest of the search (the
    kNN's rescoring, DBA and DBA's own neighbour lookups read many of the same photos). With
    the writer's vector cache, whole vectors are read from its slots where they hold the
    index's current vector and from the catalog otherwise (those are then kept there).
    """

    def __init__(self, writer: CatalogWriter) -> None:
        self._writer = writer
        self._cache = writer.vectors
        self._read: dict[int, Floats] = {}  # id → index-space vector, read this search
        self._absent: set[int] = set()  # ids found not searchable this search

    @property
    def live_count(self) -> int:
        """Number of searchable vectors."""
        return self._writer.index.live_count

    def knn(self, queries: Floats, k: int) -> tuple[Ids, Floats]:
        """Nearest photos of (Q, D) index-space queries (all cores for a batch)."""
        return self._writer.index.knn(queries, k, whitened=True, threads=os.cpu_count() or 1)

    def knn_within(self, queries: Floats, k: int, scope: Scope) -> tuple[Ids, Floats]:
        """Nearest photos in ``scope``: its ids from the catalog, then exact or filtered kNN
        (``lookalike.store.scope.knn_among``)."""
        allowed = scope_ids(self._writer.catalog, scope)
        return knn_among(self._writer.catalog, self._writer.index, queries, k, allowed)

    def vectors(self, ids: Ids) -> Floats:
        """The exact index-space vectors of searchable ids, read from the catalog (the index
        may hold them projected); KeyError for any other id."""
        wanted = np.asarray(ids, np.int64).reshape(-1)
        known, vectors = self.vectors_of(wanted)
        row_of = {int(i): r for r, i in enumerate(known.tolist())}
        missing = [int(i) for i in wanted.tolist() if int(i) not in row_of]
        if missing:
            raise KeyError(f"not searchable: {missing[:5]}")
        return np.ascontiguousarray(vectors[[row_of[int(i)] for i in wanted.tolist()]])

    def vectors_of(self, ids: Ids) -> tuple[Ids, Floats]:
        """Those of ``ids`` the catalog holds searchable vectors for (ascending) and their
        (m, D) index-space vectors. A vector found in the cache is the one the index holds
        for that photo (same CRC-32), which the writer keeps equal to the catalog's: photos
        leave the index as they stop being searchable (removed, moved out, offline)."""
        index = self._writer.index
        wanted = sorted({int(i) for i in np.asarray(ids, np.int64).reshape(-1).tolist()})
        unread = [i for i in wanted if i not in self._read and i not in self._absent]
        if unread and self._cache is not None:
            hits, vectors = self._cache.read(index.model_id, index.dim, unread,
                                             index.digests_of(unread))  # fmt: skip
            self._read.update(zip(hits, index.to_index_space(vectors), strict=True))
            unread = [i for i in unread if i not in self._read]
        if unread:
            blocks = list(self._writer.catalog.iter_vectors(index.model_id, ids=unread))
            for block_ids, vectors in blocks:
                self._read.update(zip(block_ids.tolist(), index.to_index_space(vectors),
                                      strict=True))  # fmt: skip
                if self._cache is not None:
                    self._cache.write(index.model_id, block_ids.tolist(), vectors)
            self._absent.update(i for i in unread if i not in self._read)
        found = [i for i in wanted if i in self._read]
        if not found:
            return np.zeros(0, np.int64), np.zeros((0, index.dim), np.float32)
        return np.asarray(found, np.int64), np.stack([self._read[i] for i in found])

    def to_index_space(self, vectors: Floats) -> Floats:
        """Model vectors → index space (whitened if the library learned a whitening)."""
        return self._writer.index.to_index_space(vectors)

    def locals_of(self, ids: Sequence[int]) -> dict[int, Locals]:
        """Stored local features of those photos that have readable ones."""
        return decode_locals(self._writer.catalog.locals_of(list(ids)))

    def path_of(self, photo_id: int) -> Path | None:
        """The path of a searchable photo, else None."""
        row = self._writer.catalog.photo_by_id(photo_id)
        return row.path if row is not None and row.status == "indexed" else None

    def paths_of(self, ids: Sequence[int]) -> dict[int, Path]:
        """The paths of those of ``ids`` that are searchable photos (one catalog query)."""
        rows = self._writer.catalog.photos_by_ids(ids)
        return {i: row.path for i, row in rows.items() if row.status == "indexed"}


def query_embeddings(
    image: Image,
    crop: Crop | None,
    rotate: bool,
    writer: CatalogWriter,
    embedder: PhotoEmbedder,
    stored: Callable[[int], Embedding | None],
    on_pixels: Callable[[Rgb], object] | None = None,
    prepared: Prepared | None = None,
) -> tuple[list[Embedding], set[int]]:
    """The embeddings to search with (upright first, then turns) and the ids to leave out.

    A library photo without a crop reuses its stored embedding and is left out of its own
    results; anything else is decoded once (as indexing decodes: DCT-scaled to the model's
    size, so a copy of a library photo gets that photo's vector) and embedded.

    Args:
        image: a file, encoded bytes, or an (H, W, 3) uint8 RGB array.
        crop: fractions of the upright image to search for, or None.
        rotate: also embed the image turned by 90, 180 and 270 degrees.
        writer: the library's catalog (a path is looked up there).
        embedder: embeds decoded pixels.
        stored: a library photo's stored embedding by id.
        on_pixels: called (on this thread, before the embedding) with the decoded upright
            pixels, cropped if asked, when the image is decoded here: a window shows the query
            from them instead of decoding the photo a second time.
        prepared: a file embedded ahead (:func:`prepare`), used when ``image`` is that file,
            unchanged, searched whole (its pixels go to ``on_pixels``).

    Raises:
        UnreadablePhoto: the image cannot be decoded.
        KnownError: invalid crop or array.
    """
    exclude: set[int] = set()
    query: Embedding | None = None
    if isinstance(image, str | Path):
        image = Path(image).expanduser().resolve()
        with writer.lock:
            row = writer.catalog.get_photo(image)
        if row is not None:
            exclude.add(row.id)
            query = stored(row.id) if crop is None else None
        elif crop is None and prepared is not None \
                and prepared.key == file_key(image, rotate, embedder.model_id):
            if on_pixels is not None:
                on_pixels(prepared.pixels)
            return list(prepared.queries), exclude
    queries = [] if query is None else [query]
    if query is None or rotate:
        pixels = query_pixels(image, crop, embedder.max_side)
        if on_pixels is not None:
            on_pixels(pixels)
        variants = turns(pixels) if rotate else [pixels]
        queries += [embedder.embed_rgb(v) for v in variants[len(queries):]]
    return queries, exclude


def prepare(
    path: Path,
    rotate: bool,
    writer: CatalogWriter,
    embedder: PhotoEmbedder,
    held: Prepared | None = None,
) -> Prepared | None:
    """Decode and embed a photo file ahead of its search.

    Returns:
        What :func:`query_embeddings` takes as ``prepared``: ``held`` itself when it is this
        file already, None for a library photo (its stored vector is searched) or a file that
        cannot be read now.

    Raises:
        UnreadablePhoto: the file cannot be decoded.
    """
    path = Path(path).expanduser().resolve()
    key = file_key(path, rotate, embedder.model_id)
    if key is None or (held is not None and held.key == key):
        return held if key is not None else None
    with writer.lock:
        if writer.catalog.get_photo(path) is not None:
            return None
    pixels: list[Rgb] = []
    queries, _ = query_embeddings(path, None, rotate, writer, embedder, lambda _id: None,
                                  pixels.append)  # fmt: skip
    return Prepared(key, pixels[0], tuple(queries))


def copy_image(image: Image, crop: Crop | None, embedder: PhotoEmbedder) -> QueryImage:
    """The query's pixels for the same-photo verdict's pixel test (``search.copy_check``): a
    file, bytes, an array or a crop, decoded there only when a test needs them (pass the
    pixels :func:`query_embeddings` already decoded, with no crop, to decode nothing again).
    The embedder gives the mirrored query's local features on demand."""
    def embed_locals(rgb: npt.NDArray[np.uint8]) -> Locals | None:
        return embedder.embed_rgb(rgb).locals

    source = Path(image).expanduser().resolve() if isinstance(image, str | Path) else image
    if isinstance(source, Path) and crop is None:
        return QueryImage(source, embed_locals)
    return QueryImage(lambda: query_pixels(source, crop, embedder.max_side), embed_locals)


def decode_locals(blobs: dict[int, bytes]) -> dict[int, Locals]:
    """Parse stored local-feature blobs; a malformed one is logged and left out.

    Blobs of one length in the compact format (int8 codes) are parsed together, the same
    values as :func:`lookalike.types.locals_from_bytes` gives one by one (a search reads 50:
    ~7 ms one by one, ~1 ms together); any other blob is parsed alone.
    """
    out: dict[int, Locals] = {}
    by_size: dict[int, list[int]] = {}
    for photo_id, blob in blobs.items():
        by_size.setdefault(len(blob), []).append(photo_id)
    for ids in by_size.values():
        together = _same_size_locals([blobs[i] for i in ids]) if len(ids) > 1 else None
        if together is not None:
            out.update(zip(ids, together, strict=True))
            continue
        for photo_id in ids:
            try:
                out[photo_id] = locals_from_bytes(blobs[photo_id])
            except ValueError as exc:
                log.warning("photo %d: unreadable local features (%s)", photo_id, exc)
    return out


_CODE_VALUES = (np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32) * CODE_STEP
                ).astype(np.float16)  # fmt: skip
"""The float16 code value of each int8 step, by its byte (as ``locals_from_bytes`` rounds)."""


def _same_size_locals(blobs: list[bytes]) -> Locals | None:
    """(n, K, 2 + d) float16 local features of n blobs of one length that all carry the
    compact format's header of the first, else None (parse them one by one)."""
    try:
        first = locals_from_bytes(blobs[0])
    except ValueError:
        return None
    k, width = first.shape
    head = np.frombuffer(locals_to_bytes(np.zeros((0, width), np.float32)), np.uint8)
    raw = np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), -1)
    if not k or raw.shape[1] != len(head) + k * (4 + width - 2) \
            or not (raw[:, : len(head)] == head).all():
        return None  # the older float16 rows, or headers that differ
    body = raw[:, len(head):]
    out: Locals = np.empty((len(blobs), k, width), np.float16)
    out[:, :, :2] = np.ascontiguousarray(body[:, : 4 * k]).view("<f2").reshape(-1, k, 2)
    codes = np.take(_CODE_VALUES.view(np.uint16), body[:, 4 * k:])  # bit patterns: no casts
    out.view(np.uint16)[:, :, 2:] = codes.reshape(-1, k, width - 2)
    return out
