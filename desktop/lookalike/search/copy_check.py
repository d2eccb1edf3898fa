"""The same-photo test of a search: re-ranking's fit, confirmed on the pixels of both photos.

A shortlisted candidate is a copy of the query ("same_photo") when

1. its affine fit (:class:`lookalike.search.rerank.Fit`) passes the cell-level copy gate of
   duplicate grouping (:func:`copy_gate`: more inliers than chance, a high inlier ratio, most
   of one frame covered), and
2. the pixels confirm it (:mod:`lookalike.search.copy_pixels`): the map, refined on the pixels,
   carries every textured block of one photo onto the other to a fraction of a pixel, which a
   second shot's perspective never allows.

Mirrored, sideways and 320-px copies: the trunk's stride-16 codes are neither mirror- nor
rotation-invariant, affine RANSAC rejects mirror maps, and a 320-px copy's cells are 3x coarser,
so such copies often fail the cells' fit (or fit a map too rough for the pixel test). Their
global descriptor stays above chance (calibration bench: every copy pair, turned or not, has a
cosine above 0.55; unrelated pairs' p95 is 0.52), so a shortlisted candidate above
:data:`SUSPECT_COSINE` that the cells did not confirm is a suspect: :mod:`copy_align` searches
the query's eight dihedral variants, their scale and shift on both photos' thumbnails, and the
pixel test judges the map found (:meth:`CopyPixels.aligned_copy`). At most
:data:`MAX_ALIGNED` suspects per search, the closest in cosine first (each costs a decode, an
alignment and a pixel test). With ``SearchOptions.rotate`` the mirrored query is also embedded
for the suspects left (:data:`EMBEDDED_VARIANTS`). Measured cost: docs/QUALITY.md.

The query's pixels come through :class:`QueryImage`; candidates are decoded from their files
(``VectorStore.path_of``) at the query's pixel scale, only for the few candidates that pass
the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.cores import usable_cores
from lookalike.errors import KnownError
from lookalike.search.copy_align import AlignQuery, align, dihedral
from lookalike.search.copy_pixels import (
    SIDE,
    Affine,
    Gray,
    PixelEvidence,
    candidate_side,
    check_files,
    comparison_side,
    is_pixel_copy,
    pixel_check,
    retry_side,
    to_gray,
)
from lookalike.types import Locals

log = logging.getLogger(__name__)

Rgb = npt.NDArray[np.uint8]

EMBEDDED_VARIANTS = (4,)
"""With ``SearchOptions.rotate`` (whose turned queries are searched anyway), the mirrored query
is also embedded for the suspects the alignment did not confirm."""
SUSPECT_COSINE = 0.52
"""Global cosine from which a candidate the cells did not confirm may be a copy: the p95 of
unrelated pairs, below every copy pair (``benchmarks/verdict_calibrate.py`` on the calibration
copies bench, seed 1: unrelated p95 0.522, p99 0.602; copies min 0.55, turned copies p5 0.62;
the old mirror-only threshold 0.68 lost 15 % of the turned copies there, the p99 3 %). The
cost is bounded by :data:`MAX_ALIGNED`, not by this threshold."""
MAX_ALIGNED = 12
"""At most this many suspects aligned per search, the closest in cosine first: each costs a
decode of its file, an alignment and a pixel test (docs/QUALITY.md); a photo has rarely more
copies than this in one library, and a place with many other shots above
:data:`SUSPECT_COSINE` must not make every search pay for all of them."""

ALIGN_PATIENCE = 4
"""Suspects aligned in a row without a copy after which a search stops aligning: they come
closest in cosine first, so a shortlist of other shots of a place (bench/dev: nearly every
query's 50 candidates lie above :data:`SUSPECT_COSINE`) costs four alignments, while a photo
with many copies keeps finding them (up to :data:`MAX_ALIGNED`). Chosen on the seed-0 copies
bench (3 in a row lost 35 copy pairs there); checked on the seed-1 calibration bench, where 4
keeps same-photo recall 0.95 (``lookalike eval CALIB --task copies``)."""

QUERY_SIDE = 1024
"""Long side the query file is decoded at (the embedder's; the copy test shrinks it further)."""


@dataclass
class QueryImage:
    """The query's pixels for the copy test, decoded once, and its variants' local features.

    Attributes:
        source: the query file, or its upright (H, W, 3) uint8 pixels as embedded, or a
            callable that decodes them (raising ``KnownError`` when it cannot).
        embed_locals: pixels → local features (the search's embedder), for the mirrored and
            turned query (``CopyPixels.embedded``); None: such copies are not looked for.
        turn: the variant of the pixels as embedded for this search (``dihedral``).
    """

    source: Path | Rgb | Callable[[], Rgb]
    embed_locals: Callable[[Rgb], Locals | None] | None = None
    turn: int = 0
    _rgb: Rgb | None = field(default=None, repr=False)
    _variants: dict[int, Locals | None] = field(default_factory=dict, repr=False)
    _grays: dict[tuple[int, int], Gray] = field(default_factory=dict, repr=False)
    _aligner: AlignQuery | None = field(default=None, repr=False)

    def rgb(self) -> Rgb | None:
        """The pixels as embedded for this variant (None: unreadable)."""
        if self._rgb is None:
            try:
                base = (self.source if isinstance(self.source, np.ndarray)
                        else _decode(self.source) if isinstance(self.source, Path)
                        else self.source())  # fmt: skip
            except KnownError as exc:
                log.info("query pixels unreadable (%s): no pixel copy test", exc)
                return None
            self._rgb = np.asarray(dihedral(base, self.turn), np.uint8)
        return self._rgb

    def gray(self, variant: int = 0, side: int = SIDE) -> Gray | None:
        """Grey pixels, long side ``side``, as ``variant`` of this query (computed once).

        A query file is decoded at ``side`` itself, as the candidates are (JPEG DCT scaling,
        then an antialiased resize): one resampling for both photos, as in the calibration
        (``copy_pixels.check_files``). Pixels from elsewhere are box-averaged from the
        embedded ones (a different blur can move the blocks' shifts by a tenth of a pixel)."""
        key = (variant, side)
        if key not in self._grays:
            upright = self._grays.get((0, side))
            if upright is None:
                upright = self._upright_gray(side)
                if upright is None:
                    return None
                self._grays[(0, side)] = upright
            self._grays[key] = np.asarray(dihedral(upright, variant), np.float32)
        return self._grays[key]

    def _upright_gray(self, side: int) -> Gray | None:
        if isinstance(self.source, Path):
            try:
                decoded = _decode(self.source, side)
            except KnownError as exc:
                log.info("query pixels unreadable (%s): no pixel copy test", exc)
                return None
            return to_gray(np.asarray(dihedral(decoded, self.turn), np.uint8), side)
        rgb = self.rgb()
        return None if rgb is None else to_gray(rgb, side)

    def aligner(self) -> AlignQuery | None:
        """The query's grey pixels prepared for :func:`copy_align.align` (once; None:
        unreadable)."""
        if self._aligner is None:
            grey = self.gray(0, SIDE)
            if grey is None:
                return None
            self._aligner = AlignQuery(grey)
        return self._aligner

    def variant_locals(self, variant: int) -> Locals | None:
        """The local features of the query as ``variant`` (embedded once; None when not
        available, e.g. for a query that is itself a turned variant)."""
        if variant not in self._variants:
            rgb = self.rgb()
            ok = rgb is not None and self.embed_locals is not None and self.turn == 0
            self._variants[variant] = (self.embed_locals(np.asarray(dihedral(rgb, variant),
                                                                     np.uint8))
                                       if ok and rgb is not None and self.embed_locals
                                       else None)  # fmt: skip
        return self._variants[variant]

    def turned(self, turn: int) -> QueryImage:
        """The same query as its variant ``turn`` (no variants of a variant are embedded)."""
        return QueryImage(self.source, None, turn)


def _decode(path: Path, side: int = QUERY_SIDE) -> Rgb:
    from lookalike.decode.image import decode

    return decode(path, side).rgb


class CopyPixels:
    """The pixel test of one search: the query's pixels and a way to the candidates' files.

    Attributes:
        query: the query's pixels.
        embedded: the query's variants whose local features may be embedded for suspects
            (:data:`EMBEDDED_VARIANTS` with ``SearchOptions.rotate``, else none: each costs an
            embedding of the query).
    """

    def __init__(self, query: QueryImage, path_of: Callable[[int], Path | None],
                 embedded: tuple[int, ...] = ()) -> None:  # fmt: skip
        self.query = query
        self.embedded = embedded
        self._path_of = path_of
        self._decoded: dict[tuple[int, int], object] = {}  # (photo, side) -> decoded photo

    def _candidate(self, photo_id: int, path: Path, side: int) -> object:
        """The candidate decoded at ``side`` (once per search: its variants reuse it)."""
        from lookalike.decode.image import decode

        key = (photo_id, side)
        if key not in self._decoded:
            self._decoded[key] = decode(path, side)
        return self._decoded[key]

    def check(self, photo_id: int, affine: npt.NDArray[np.float64], variant: int = 0
              ) -> PixelEvidence:  # fmt: skip
        """Measure the copy test of one candidate under the fitted map of the query's
        ``variant`` onto the candidate (at ``copy_pixels.comparison_side``, or at twice that
        when too few blocks fall inside both there: ``copy_pixels.retry_side``)."""
        rgb = self.query.rgb()
        path = self._path_of(photo_id)
        if rgb is None or path is None or not str(path):
            return PixelEvidence()
        try:
            found: Any = self._candidate(photo_id, path, candidate_side(affine))
            side: int | None = comparison_side(max(rgb.shape[:2]), max(found.original_size),
                                               affine)  # fmt: skip
            evidence = PixelEvidence()
            while side is not None:
                found = self._candidate(photo_id, path, candidate_side(affine, side))
                grey = self.query.gray(variant, side)
                if grey is None:
                    return PixelEvidence()
                evidence = pixel_check(grey, to_gray(found.rgb, candidate_side(affine, side)),
                                       affine)  # fmt: skip
                side = retry_side(evidence, side)
        except (KnownError, OSError) as exc:
            log.info("photo %d unreadable for the copy test (%s)", photo_id, exc)
            return PixelEvidence()
        return evidence

    def aligned_copy(self, photo_id: int) -> tuple[int, Affine] | None:
        """The query's variant and map under which the pixels confirm the candidate as a copy,
        found on the pixels alone (:func:`copy_align.align`); None: no copy (or unreadable).
        A turned query (``SearchOptions.rotate``) aligns nothing: the upright query's search
        already tried every variant."""
        aligner = self.query.aligner() if self.query.turn == 0 else None
        path = self._path_of(photo_id)
        if aligner is None or path is None or not str(path):
            return None
        try:
            found: Any = self._candidate(photo_id, path, SIDE)
        except (KnownError, OSError) as exc:
            log.info("photo %d unreadable for the copy test (%s)", photo_id, exc)
            return None
        proposed = align(aligner, to_gray(found.rgb, SIDE))
        if proposed is None or not self.is_copy(photo_id, proposed[1], proposed[0]):
            return None
        return proposed

    def aligned_copies(self, photo_ids: Sequence[int], patience: int = ALIGN_PATIENCE
                       ) -> list[tuple[int, Affine] | None]:  # fmt: skip
        """:meth:`aligned_copy` of the candidates in order, until ``patience`` in a row were
        no copy (the rest: None), a few at a time on up to one thread per core (the FFTs,
        the decoding and the pixel test's array work run mostly without Python's lock)."""
        self.query.rgb()  # decoded once, before the threads share it (each would decode it)
        if self.query.turn == 0:
            self.query.aligner()
        out: list[tuple[int, Affine] | None] = [None] * len(photo_ids)
        workers, misses = max(1, min(len(photo_ids), usable_cores())), 0
        with ThreadPoolExecutor(workers, thread_name_prefix="copy-align") as pool:
            for start in range(0, len(photo_ids), workers):
                if misses >= patience:
                    break
                batch = photo_ids[start:start + workers]
                for k, found in enumerate(pool.map(self.aligned_copy, batch)):
                    out[start + k] = found
                    misses = 0 if found is not None else misses + 1
        return out

    def is_copy(self, photo_id: int, affine: npt.NDArray[np.float64] | None,
                variant: int = 0) -> bool:  # fmt: skip
        """Whether the pixels confirm a copy (False when they cannot be read)."""
        return affine is not None and is_pixel_copy(self.check(photo_id, affine, variant))


def copy_by_pixels(path_a: Path, path_b: Path, affine: Affine | None = None) -> PixelEvidence:
    """The pixel copy test of two photo files, with or without a map from their cells.

    With ``affine`` (e.g. a cells fit), that map is judged first; when there is none or the
    pixels reject it, :func:`copy_align.align` looks for the map of one of a's dihedral variants
    onto b on the pixels alone (turned, mirrored, cropped, framed copies) and that map is judged.

    Args:
        path_a: the first photo's file.
        path_b: the second photo's file.
        affine: (3, 2) map ``[x y 1] @ A`` of a's positions onto b's (long-side units), or None.

    Returns:
        The evidence of the better map (``copy_pixels.is_pixel_copy`` decides); no blocks when
        a file is unreadable or no map correlates.
    """
    evidence = PixelEvidence() if affine is None else check_files(path_a, path_b, affine)
    if is_pixel_copy(evidence):
        return evidence
    from lookalike.decode.image import decode

    try:
        grey_a = to_gray(decode(path_a, SIDE).rgb, SIDE)
        grey_b = to_gray(decode(path_b, SIDE).rgb, SIDE)
    except (KnownError, OSError):
        return evidence
    proposed = align(grey_a, grey_b)
    if proposed is None:
        return evidence
    return check_files(path_a, path_b, proposed[1], proposed[0])
