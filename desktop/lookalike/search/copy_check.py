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
so such copies often fail the cells' fit. Their global descriptor stays close (copies bench:
mirror pairs' cosine p5 0.69, median 0.89), so a shortlisted candidate with a cosine above
chance (:data:`MIRROR_COSINE`) that failed the copy gate is a suspect: the pixel test tries it
with the identity map of the query's framing, mirrored and turned (:data:`FRAMED_VARIANTS`;
no embedding), and with ``SearchOptions.rotate`` against the mirrored query's own fit
(:data:`EMBEDDED_VARIANTS`: one more embedding, only for a query with suspects left). The
turned queries are searched by ``rotate`` itself. Measured cost: docs/QUALITY.md.

The query's pixels come through :class:`QueryImage`; candidates are decoded from their files
(``VectorStore.path_of``) at the query's pixel scale, only for the few candidates that pass
the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import KnownError
from lookalike.search.copy_pixels import (
    SIDE,
    Gray,
    PixelEvidence,
    candidate_side,
    comparison_side,
    is_pixel_copy,
    pixel_check,
    to_gray,
)
from lookalike.types import Locals

log = logging.getLogger(__name__)

Rgb = npt.NDArray[np.uint8]

FRAMED_VARIANTS = (0, 4, 1, 3)
"""The query's variants whose identity map is tried on the pixels for candidates it could not
verify: a copy with the query's framing, resized (e.g. 320 px at JPEG quality 25, whose cells
rarely verify), mirrored, or stored sideways (no EXIF). No embedding: a wrong variant fails
the first, half-size pass of the pixel test."""
EMBEDDED_VARIANTS = (4,)
"""With ``SearchOptions.rotate`` (whose turned queries are searched anyway), the mirrored query
is also embedded for the candidates left: a mirrored copy that is also cropped or framed."""
MIRROR_COSINE = 0.68
"""Global cosine above which an unverified candidate may be a mirrored copy: the p99 of
unrelated pairs (duplicate grouping's calibration, ``pair_check.BURST_COSINE``'s measurement;
copies bench: unrelated p99 0.57, mirrored copies p5 0.69)."""

MAX_SUSPECTS = 3
"""At most this many suspects per search, the closest in cosine first: each costs a decode of
its file and up to four pixel tests, and a mirrored or resized copy is among the closest
(copies bench: mirrored copies' median cosine 0.89), while a place with many other shots above
:data:`MIRROR_COSINE` made every dev query pay for all of them."""

QUERY_SIDE = 1024
"""Long side the query file is decoded at (the embedder's; the copy test shrinks it further)."""


def dihedral(image: npt.NDArray[np.generic], variant: int) -> npt.NDArray[np.generic]:
    """An image as variant ``variant`` (``decode.query.turns`` order: 0-3 quarter turns
    counter-clockwise, 4-7 the same of its left-right mirror)."""
    base = image[:, ::-1] if variant >= 4 else image
    return np.ascontiguousarray(np.rot90(base, variant % 4))


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
        """Grey pixels, long side ``side``, as ``variant`` of this query (computed once)."""
        key = (variant, side)
        if key not in self._grays:
            rgb = self.rgb()
            if rgb is None:
                return None
            upright = self._grays.get((0, side))
            if upright is None:
                upright = self._grays[(0, side)] = to_gray(rgb, side)
            self._grays[key] = np.asarray(dihedral(upright, variant), np.float32)
        return self._grays[key]

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


def _decode(path: Path) -> Rgb:
    from lookalike.decode.image import decode

    return decode(path, QUERY_SIDE).rgb


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
        ``variant`` onto the candidate (at ``copy_pixels.comparison_side``)."""
        rgb = self.query.rgb()
        path = self._path_of(photo_id)
        if rgb is None or path is None or not str(path):
            return PixelEvidence()
        try:
            found: Any = self._candidate(photo_id, path, candidate_side(affine))
            side = comparison_side(max(rgb.shape[:2]), max(found.original_size), affine)
            if side != SIDE:
                found = self._candidate(photo_id, path, candidate_side(affine, side))
        except (KnownError, OSError) as exc:
            log.info("photo %d unreadable for the copy test (%s)", photo_id, exc)
            return PixelEvidence()
        grey = self.query.gray(variant, side)
        if grey is None:
            return PixelEvidence()
        return pixel_check(grey, to_gray(found.rgb, candidate_side(affine, side)), affine)

    def is_copy(self, photo_id: int, affine: npt.NDArray[np.float64] | None,
                variant: int = 0) -> bool:  # fmt: skip
        """Whether the pixels confirm a copy (False when they cannot be read)."""
        return affine is not None and is_pixel_copy(self.check(photo_id, affine, variant))
