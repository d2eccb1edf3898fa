"""Two grey photos → the map that makes one a copy of the other, found on the pixels alone.

The same-photo test (:mod:`lookalike.search.copy_pixels`) judges a map between two photos; the
stride-16 cells of re-ranking give that map only for copies they can fit, and they are neither
rotation- nor mirror-invariant: a copy stored sideways or mirrored, *and* cropped or framed,
has no map to judge. A copy is, by construction, one of the eight dihedral variants of the other
photo (quarter turns, mirror), scaled and shifted. This module searches that space directly:

1. **coarse**: both photos as thumbnails (candidate long side :data:`COARSE` pixels); for each
   dihedral variant of the query and each relative scale of :data:`SCALES`, the normalised
   cross-correlation of the two over *every* shift at once (one FFT per hypothesis; the local
   means and energies of the overlap come from summed-area tables, so the correlation is exact
   for partial overlaps: crops and frames);
2. **fine**: the best variants again at :data:`FINE` pixels, scales a twelfth of an octave apart
   around the coarse one.

The best peak is a similarity map (scale and shift of a dihedral variant), which the pixel test
then refines and judges: this module only proposes, it never decides that two photos are copies
(another shot of the scene also correlates well). Pure NumPy; decoding is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.float32]
"""(H, W) float32 grey levels 0..255."""
Affine = npt.NDArray[np.float64]
"""(3, 2) map ``[x y 1] @ A`` of query positions onto candidate positions (long-side units)."""

COARSE = 24
"""Candidate long side (pixels) of the coarse search: a copy's thumbnail still correlates above
0.8 there, and one FFT of the padded pair costs tens of microseconds."""
FINE = 48
"""Candidate long side (pixels) of the fine search (a shift error of half a pixel there is 2.7
pixels at the pixel test's 256, within its first pass)."""
SCALES = tuple(float(2.0 ** (k / 4)) for k in range(-4, 5))
"""Relative scales searched (query long side in candidate long sides: 0.42-2.38, a quarter
octave apart): a 40 % crop against a framed copy is about 1.8, the reverse 0.55."""
FINE_STEPS = tuple(float(2.0 ** (k / 12)) for k in range(-2, 3))
"""Factors around the coarse scale tried by the fine search (a sixth of an octave either way,
covering the coarse step, in steps of a twelfth: a 3 % scale error at most)."""
KEEP = 2
"""Variants the fine search refines at most (the best coarse peak of each, best first), among
those within :data:`KEEP_MARGIN` of the best."""
KEEP_MARGIN = 0.1
"""Coarse correlation below the best at which a variant is not refined."""
COARSE_NCC = 0.4
"""Coarse correlation below which nothing is refined (no copy's thumbnail correlates so
little)."""
MIN_OVERLAP = 0.3
"""Smallest overlap of the two frames, as a fraction of the smaller one, at which a shift is
scored (smaller overlaps correlate well by chance)."""
MIN_VARIANCE = 4.0
"""Smallest grey-level variance of either side of an overlap (flat: no score)."""
MIN_NCC = 0.85
"""Fine correlation below which no map is proposed: below every copy pair of the calibration
bench (seed 1, 720 ordered pairs: min 0.865, p5 0.90, median 0.99); it spares the pixel test
most other shots of a place (bench/dev's shortlisted suspects: median 0.78-0.84)."""


def dihedral(image: npt.NDArray[np.generic], variant: int) -> npt.NDArray[np.generic]:
    """An image as variant ``variant`` (``decode.query.turns`` order: 0-3 quarter turns
    counter-clockwise, 4-7 the same of its left-right mirror)."""
    base = image[:, ::-1] if variant >= 4 else image
    return np.ascontiguousarray(np.rot90(base, variant % 4))


_SIGNED_PERMUTATIONS = np.array([[[a, 0], [0, b]] for a in (1, -1) for b in (1, -1)]
                                + [[[0, a], [b, 0]] for a in (1, -1) for b in (1, -1)], float)
"""(8, 2, 2) linear parts of the quarter turns and mirrors in long-side units."""


def distortion(affine: Affine) -> float:
    """How far a (3, 2) map's linear part, over its scale, lies from the nearest quarter turn
    or mirror (largest absolute entry difference: 0.017 is a one-degree rotation)."""
    lin = np.asarray(affine, np.float64)[:2]
    scale = np.sqrt(abs(float(np.linalg.det(lin))))
    if scale < 1e-9:
        return float("inf")
    return float(np.abs(lin / scale - _SIGNED_PERMUTATIONS).max(axis=(1, 2)).min())


@cache
def _area_weights(old: int, new: int) -> npt.NDArray[np.float32]:
    """(new, old) weights of an area (box) resampling of ``old`` pixels onto ``new``."""
    edges = np.arange(new + 1) * (old / new)
    left = np.arange(old)
    lo = np.maximum(edges[:-1, None], left[None, :])
    hi = np.minimum(edges[1:, None], left[None, :] + 1)
    return np.asarray(np.clip(hi - lo, 0, None) / (old / new), np.float32)


def resized(image: Gray, shape: tuple[int, int]) -> Gray:
    """(h, w) → ``shape`` by area averaging (pixel edges kept: pixel i covers [i, i + 1))."""
    h, w = image.shape
    out = _area_weights(h, shape[0]) @ image @ _area_weights(w, shape[1]).T
    return np.asarray(out, np.float32)


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (sizes pocketfft transforms fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < n:
                p5 *= 5
            best = min(best, p5)
            p3 *= 3
        p2 *= 2
    return best


@dataclass
class _Stack:
    """Images of one shape correlated together: pixels, summed-area tables and spectra.

    Attributes:
        images: (G, h, w) float32 grey images.
        variants: (G,) the query variant of each image (0 for a candidate).
        sums: (G, h + 1, w + 1) summed-area tables of ``images`` (float64).
        squares: the same of ``images ** 2``.
    """

    images: npt.NDArray[np.float32]
    variants: tuple[int, ...] = (0,)
    sums: npt.NDArray[np.float32] = field(init=False)
    squares: npt.NDArray[np.float32] = field(init=False)
    _spectra: dict[int, npt.NDArray[np.complex64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images - self.images.mean(), np.float32)  # float32 sums
        self.sums = _table(self.images)
        self.squares = _table(self.images * self.images)

    def spectrum(self, size: int) -> npt.NDArray[np.complex64]:
        """(G, size, size // 2 + 1) spectra of the images zero-padded to ``size`` (once)."""
        if size not in self._spectra:
            self._spectra[size] = np.fft.rfft2(self.images, s=(size, size)).astype(np.complex64)
        return self._spectra[size]


def _table(images: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """(G, h, w) → (G, h + 1, w + 1) summed-area tables (a zero first row and column)."""
    g, h, w = images.shape
    out = np.zeros((g, h + 1, w + 1), np.float32)
    out[:, 1:, 1:] = images.cumsum(axis=1).cumsum(axis=2)
    return out


def _box(table: npt.NDArray[np.float32], y: tuple[npt.NDArray[np.intp], ...],
         x: tuple[npt.NDArray[np.intp], ...]) -> npt.NDArray[np.float32]:  # fmt: skip
    """Sums over the rectangles [y0, y1) x [x0, x1) for every pair of (ny,) y and (nx,) x
    bounds → (G, ny, nx)."""
    rows = table[:, y[1]] - table[:, y[0]]
    return np.asarray(rows[:, :, x[1]] - rows[:, :, x[0]], np.float32)


def _bounds(nq: int, nc: int) -> tuple[tuple[npt.NDArray[np.intp], ...], ...]:
    """Overlap bounds along one axis for every shift t in [-(nq - 1), nc - 1] (query pixel i
    lands on candidate pixel i + t): (query lo, hi) and (candidate lo, hi)."""
    t = np.arange(-(nq - 1), nc)
    q0, q1 = np.maximum(0, -t), np.minimum(nq, nc - t)
    return (q0, q1), (q0 + t, q1 + t)


def correlation(query: _Stack, candidate: _Stack, size: int) -> npt.NDArray[np.float32]:
    """Normalised cross-correlation of query images with a candidate over every shift.

    Args:
        query: (G, hq, wq) images.
        candidate: (1, hc, wc) image.
        size: FFT side, at least hq + hc - 1 and wq + wc - 1.

    Returns:
        (G, hq + hc - 1, wq + wc - 1) correlations, -1 where the overlap is too small
        (:data:`MIN_OVERLAP`) or flat (:data:`MIN_VARIANCE`); index (ty + hq - 1, tx + wq - 1)
        for query pixel i landing on candidate pixel i + t.
    """
    (hq, wq), (hc, wc) = query.images.shape[1:], candidate.images.shape[1:]
    raw = np.fft.irfft2(np.conj(query.spectrum(size)) * candidate.spectrum(size),
                        s=(size, size))  # fmt: skip
    ys = np.arange(-(hq - 1), hc) % size
    xs = np.arange(-(wq - 1), wc) % size
    cross = raw[:, ys][:, :, xs].astype(np.float32)
    (qy, cy), (qx, cx) = _bounds(hq, hc), _bounds(wq, wc)
    n = np.outer(qy[1] - qy[0], qx[1] - qx[0]).astype(np.float32)[None]
    safe = np.maximum(n, np.float32(1.0))
    sq, sc = _box(query.sums, qy, qx), _box(candidate.sums, cy, cx)
    var_q = _box(query.squares, qy, qx) - sq * sq / safe
    var_c = _box(candidate.squares, cy, cx) - sc * sc / safe
    floor = np.float32(MIN_VARIANCE) * safe
    ok = (n >= MIN_OVERLAP * min(hq * wq, hc * wc)) & (var_q > floor) & (var_c > floor)
    ncc = (cross - sq * sc / safe) / np.sqrt(np.maximum(var_q, floor) * np.maximum(var_c, floor))
    return np.asarray(np.where(ok, ncc, np.float32(-1.0)), np.float32)


@dataclass(frozen=True)
class _Peak:
    """A hypothesis' best shift: correlation, variant, scale, the query thumbnail's (h, w)
    and its shift (ty, tx) on the candidate's (pixels at the search's resolution)."""

    ncc: float
    variant: int
    scale: float
    shape: tuple[int, int]
    shift: tuple[int, int]


class AlignQuery:
    """A query prepared for :func:`align` against many candidates: its grey pixels and the
    thumbnails of its variants at every scale searched, with their spectra (computed once).

    Attributes:
        image: (H, W) float32 grey query.
    """

    def __init__(self, image: Gray) -> None:
        self.image = np.asarray(image, np.float32)
        self._stacks: dict[tuple[float, int, tuple[int, ...]], _Stack] = {}

    def stack(self, scale: float, long_side: int, variants: tuple[int, ...]) -> _Stack:
        """The query's ``variants`` (all of one shape: even or odd turns) with their long
        side ``scale * long_side`` pixels."""
        key = (scale, long_side, variants)
        if key not in self._stacks:
            h, w = self.image.shape
            k = scale * long_side / max(h, w)
            upright = resized(self.image, (max(2, round(h * k)), max(2, round(w * k))))
            images = np.stack([dihedral(upright, v) for v in variants]).astype(np.float32)
            self._stacks[key] = _Stack(images, variants)
        return self._stacks[key]

    def shape(self, variant: int) -> tuple[int, int]:
        """(h, w) of the query as ``variant`` at full resolution."""
        h, w = self.image.shape
        return (int(w), int(h)) if variant % 2 else (int(h), int(w))


EVEN, ODD = (0, 2, 4, 6), (1, 3, 5, 7)
"""The variants whose frame has the query's (h, w), and those with (w, h)."""


def _thumbnail(image: Gray, long_side: int) -> _Stack:
    h, w = image.shape
    k = long_side / max(h, w)
    return _Stack(resized(image, (max(2, round(h * k)), max(2, round(w * k))))[None])


def _peaks(query: _Stack, candidate: _Stack, scale: float, size: int) -> list[_Peak]:
    """The best shift of each image of a query stack on the candidate."""
    ncc = correlation(query, candidate, size)
    flat = ncc.reshape(len(ncc), -1)
    at = flat.argmax(axis=1)
    hq, wq = query.images.shape[1:]
    width = ncc.shape[2]
    return [_Peak(float(flat[g, a]), v, scale, (hq, wq),
                  (int(a) // width - (hq - 1), int(a) % width - (wq - 1)))
            for g, (a, v) in enumerate(zip(at.tolist(), query.variants, strict=True))]


def _search(query: AlignQuery, candidate: Gray, hypotheses: list[tuple[float, tuple[int, ...]]],
            long_side: int) -> list[_Peak]:  # fmt: skip
    """The peak of each variant of each (scale, variants) hypothesis with the candidate at
    ``long_side`` pixels."""
    thumb = _thumbnail(candidate, long_side)
    biggest = max(s for s, _ in hypotheses)
    size = _fast_len(int(np.ceil(long_side * (biggest + 1))) + 2)
    return [p for s, vs in hypotheses
            for p in _peaks(query.stack(s, long_side, vs), thumb, s, size)]


def _affine(query: AlignQuery, candidate: Gray, peak: _Peak, long_side: int) -> Affine:
    """The peak's similarity map in long-side units (query variant → candidate)."""
    hq, wq = query.shape(peak.variant)
    hc, wc = candidate.shape
    thumb = _thumbnail(candidate, long_side).images.shape[1:]
    kq = (peak.shape[0] / hq, peak.shape[1] / wq)  # thumbnail pixels per query pixel
    kc = (thumb[0] / hc, thumb[1] / wc)
    lq, lc = max(hq, wq), max(hc, wc)
    out = np.zeros((3, 2))
    out[0, 0] = lq * kq[1] / (kc[1] * lc)
    out[1, 1] = lq * kq[0] / (kc[0] * lc)
    out[2, 0] = peak.shift[1] / (kc[1] * lc)
    out[2, 1] = peak.shift[0] / (kc[0] * lc)
    return out


def best_map(query: Gray | AlignQuery, candidate: Gray
             ) -> tuple[int, Affine, float] | None:  # fmt: skip
    """As :func:`align`, with the fine correlation of the map found, whatever it is (None only
    when nothing correlates even coarsely)."""
    prepared = query if isinstance(query, AlignQuery) else AlignQuery(query)
    candidate = np.asarray(candidate, np.float32)
    coarse = _search(prepared, candidate, [(s, vs) for s in SCALES for vs in (EVEN, ODD)],
                     COARSE)
    best: dict[int, _Peak] = {}
    for peak in sorted(coarse, key=lambda p: p.ncc):  # the best of each variant comes last
        best[peak.variant] = peak
    chosen = sorted(best.values(), key=lambda p: -p.ncc)[:KEEP]
    if chosen[0].ncc < COARSE_NCC:
        return None
    chosen = [p for p in chosen if p.ncc >= chosen[0].ncc - KEEP_MARGIN]
    fine = _search(prepared, candidate, [(p.scale * f, (p.variant,)) for p in chosen
                                         for f in FINE_STEPS], FINE)  # fmt: skip
    top = max(fine, key=lambda p: p.ncc)
    return top.variant, _affine(prepared, candidate, top, FINE), top.ncc


def align(query: Gray | AlignQuery, candidate: Gray) -> tuple[int, Affine] | None:
    """The dihedral variant of the query and the similarity map that best carry it onto the
    candidate, or None when no map correlates like a copy's (:data:`MIN_NCC`).

    Args:
        query: (hq, wq) float32 grey query (any size; 256 pixels on the long side is plenty),
            or an :class:`AlignQuery` prepared once for several candidates.
        candidate: (hc, wc) float32 grey candidate.

    Returns:
        ``(variant, affine)``: ``variant`` as in :func:`dihedral`, ``affine`` the (3, 2) map of
        the query's variant onto the candidate, long-side units, for
        ``copy_pixels.pixel_check(dihedral(query, variant), candidate, affine)``.
    """
    found = best_map(query, candidate)
    if found is None or found[2] < MIN_NCC:
        return None
    return found[0], found[1]
