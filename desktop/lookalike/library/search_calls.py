"""The Library's search calls: search, prepare, search by library photo, explain, and the
stored embeddings they start from (a part of :class:`lookalike.library.facade.Library`, kept
here so that each module holds one job)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from lookalike.decode.query import Crop
from lookalike.errors import KnownError
from lookalike.library import searching
from lookalike.library.results import SearchResult
from lookalike.library.searching import (
    Image,
    IndexStore,
    copy_image,
    decode_locals,
    query_embeddings,
)
from lookalike.library.writer import CatalogWriter
from lookalike.search import explanation, pipeline
from lookalike.search.explanation import Explanation
from lookalike.search.pipeline import DEFAULT_OPTIONS, SearchOptions
from lookalike.search.similar import Verdict
from lookalike.store.catalog import Catalog
from lookalike.types import Embedding, PhotoEmbedder, peaks_from_bytes


class SearchCalls:
    """Search over the library's index and catalog (mixed into ``Library``, which sets the
    attributes below in its constructor)."""

    _writer: CatalogWriter
    _catalog: Catalog
    _lock: threading.RLock
    _embedder: PhotoEmbedder
    _prepared: searching.Prepared | None

    def search(
        self, image: Image, options: SearchOptions = DEFAULT_OPTIONS, crop: Crop | None = None,
        on_pixels: Callable[[searching.Rgb], object] | None = None,
    ) -> SearchResult:
        """Find the photos most similar to an image.

        Args:
            image: a file path (a library photo without ``crop`` reuses its stored vector),
                encoded image bytes, or an upright (H, W, 3) uint8 RGB array.
            options: how to search (top, DBA, QE, re-ranking, rotation).
            crop: ``(x0, y0, x1, y1)`` fractions (0..1) of the upright image to search for.
            on_pixels: called with the query's pixels once decoded, if the search decodes the
                image (see ``searching.query_embeddings``): a window shows them.

        Returns:
            The matches, best first; a library photo used as the query is never among them.

        Raises:
            UnreadablePhoto: the image cannot be decoded.
            KnownError: invalid crop or array.
        """
        started, space = time.perf_counter(), self._writer.model_id
        decoded: list[searching.Rgb] = []  # the pixels embedded, kept for the copy test

        def keep(rgb: searching.Rgb) -> None:
            decoded.append(rgb)
            if on_pixels is not None:
                on_pixels(rgb)

        queries, exclude = query_embeddings(image, crop, options.rotate, self._writer,
                                            self._embedder, self.embedding, keep,
                                            self._prepared)  # fmt: skip
        pixels = copy_image(decoded[0] if decoded else image, None if decoded else crop,
                            self._embedder)  # fmt: skip
        with self._lock:
            if space != self._writer.model_id:  # a switch swapped meanwhile: embed again
                return self.search(image, options, crop)
            store = IndexStore(self._writer)
            matches = pipeline.search(store, queries, options, exclude, pixels)
        return SearchResult(queries[0], matches, time.perf_counter() - started)

    def prepare(self, path: Path, rotate: bool = False) -> None:
        """Decode and embed a photo file ahead of its search (while it is dragged over the
        window); :meth:`search` of the same unchanged file then only searches. Raises
        ``UnreadablePhoto``."""
        self._prepared = searching.prepare(path, rotate, self._writer, self._embedder,
                                           self._prepared)  # fmt: skip

    def search_photo(self, photo_id: int, options: SearchOptions = DEFAULT_OPTIONS
                     ) -> SearchResult:  # fmt: skip
        """Find the photos most similar to a library photo (never itself; no turns).

        Raises:
            KnownError: the photo has no vector.
        """
        started = time.perf_counter()
        query = self.embedding(photo_id)
        if query is None:
            raise KnownError(f"photo {photo_id} is not indexed")
        with self._lock:
            row = self._catalog.photo_by_id(photo_id)
            image = None if row is None else copy_image(row.path, None, self._embedder)
            store = IndexStore(self._writer)
            matches = pipeline.search(store, [query], options, {photo_id}, image)
        return SearchResult(query, matches, time.perf_counter() - started)

    def explain(
        self, query: Embedding, photo_id: int, options: SearchOptions = DEFAULT_OPTIONS,
        verdict: Verdict | None = None,
    ) -> Explanation:
        """Why a photo matches a query: numbered regions, best box, verified point pairs.

        Args:
            query: the query's embedding (``SearchResult.query``).
            photo_id: the result.
            options: the search's options (its re-ranking parameters check the points).
            verdict: the search's verdict of this result (``Match.verdict``), which the
                explanation then shows; None: decided from the local features alone.

        Raises:
            KnownError: the photo has no vector.
        """
        stored = self.embedding(photo_id)
        with self._lock:
            row = self._catalog.photo_by_id(photo_id)
        if stored is None or row is None:
            raise KnownError(f"photo {photo_id} is not indexed")
        return explanation.explain(query, stored, photo_id, row.path, options.rerank_params,
                                   verdict=verdict)  # fmt: skip

    def query_embedding(self, image: Image, crop: Crop | None = None) -> Embedding:
        """The embedding a search with ``image`` uses (a library photo's stored one).

        Raises:
            UnreadablePhoto: the image cannot be decoded.
        """
        return query_embeddings(image, crop, False, self._writer, self._embedder,
                                self.embedding)[0][0]  # fmt: skip

    def photo_id(self, path: Path) -> int | None:
        """The catalog id of the photo at ``path``, or None."""
        with self._lock:
            row = self._catalog.get_photo(Path(path).expanduser().resolve())
        return None if row is None else row.id

    def embedding(self, photo_id: int) -> Embedding | None:
        """A photo's stored vector, peaks and local features, or None if it has none."""
        with self._lock:
            stored = self._catalog.vector(photo_id)
            blob = self._catalog.locals_of([photo_id]).get(photo_id) if stored else None
        if stored is None:
            return None
        locals_ = decode_locals({photo_id: blob}).get(photo_id) if blob is not None else None
        return Embedding(stored[0], peaks_from_bytes(stored[1]), locals_)
