"""Two library photos → is one a copy of the other, or are they two takes of a burst?

The default pair check of duplicate grouping (:mod:`lookalike.search.grouping`), built from
what every photo already stores: its global cosine and its stride-16 local features. The
features of both photos are matched as mutual nearest neighbours and RANSAC fits one affine
map (as spatial re-ranking does, :mod:`lookalike.search.rerank`). Then:

- **copy**: the map carries most of one photo onto the other with a high inlier ratio, i.e.
  the same pixels, resized, recompressed, cropped or turned. A second shot of the same scene
  has inliers too, but on a part of the frame and with a lower ratio (parallax, other light).
- **burst**: not a copy, but a near-identical take: very high global cosine and verified
  (inliers above what chance gives) over most of the frame.

Any other pair is no edge. A later verifier (learned local features, a calibrated verdict) can
replace this by any callable with the same signature, :data:`PairCheck`.

All thresholds are module constants with the measurement they come from
(``benchmarks/duplicates_calibrate.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from lookalike.search.copy_pixels import check_files, is_pixel_copy
from lookalike.search.rerank import (
    CHANCE_INLIERS,
    DEFAULT_PARAMS,
    mutual_from_similarity,
    ransac_affine,
)
from lookalike.types import Locals

Kind = Literal["copy", "burst"]

COPY_RATIO = 0.30
"""Inliers / mutual matches at or above which the map explains the pair as one image (copies:
0.47-1.0; 320 px copies, which these features cannot verify, excepted)."""
COPY_COVERAGE = 0.65
"""Share of the frame (bounding box of the inliers) that the better-covered photo must reach:
one photo lies wholly inside the other."""
COPY_RESIDUAL = 0.004
"""Median distance (units of the long side; a quarter of a 16-pixel cell at 1024 px) of the
inliers from the refitted map when both photos' cells fall on one grid (see
:func:`_copy_residual` for when they do not). Measured (benchmarks/
duplicates_calibrate.py): same-scale copies (half size, quality 50, brighter) 0.0000-0.0029 (one
0.0055); 60 % crops 0.007-0.022 at scale 1.65; other shots of a scene 0.005-0.025, except photos
taken from a tripod with the frame unchanged (blur, light), which are pixel-aligned (0.0000)
and only EXIF can tell apart (see ``lookalike.library.duplicates``)."""
BURST_COSINE = 0.90
"""Global cosine at or above which a verified pair over most of the frame is a burst (copies:
0.86-0.99; other shots of a scene: median 0.88, p90 0.96; unrelated p99 0.68)."""
BURST_COVERAGE = 0.50
"""Both photos' inliers must span at least this share of their frames to be a burst."""
CHECK_ITERATIONS = 128
"""RANSAC hypotheses per pair (search uses 256). Copies and bursts have inlier ratios of 0.3 or
more, so 128 triples find a clean one with probability >= 1 - (1 - 0.3**3)**128 = 97 % (99.98 %
at 0.5), at half the cost."""


@dataclass(frozen=True)
class PairEvidence:
    """Why two photos are (or are not) duplicates.

    Attributes:
        kind: "copy", "burst" or None (not duplicates).
        cosine: global cosine similarity of the two photos.
        inliers: local features that the affine map carries onto their matches.
        ratio: inliers / mutual matches (0..1).
        coverage_a: share of photo a's frame (area of the bounding box of its inliers) covered.
        coverage_b: the same for photo b.
        turns: quarter turns (0..3, counter-clockwise) that bring b upright relative to a.
        scale: linear size of b relative to a in the map (1: same framing; < 1: b shows a
            larger part, i.e. a is cropped out of b).
        residual: median distance of the inliers from the refitted map, in units of b's long
            side (a copy is mapped exactly); 1.0 when not measured (ratio or coverage too low
            for a copy).
    """

    kind: Kind | None
    cosine: float
    inliers: int = 0
    ratio: float = 0.0
    coverage_a: float = 0.0
    coverage_b: float = 0.0
    turns: int = 0
    scale: float = 1.0
    residual: float = 1.0

    def strength(self) -> float:
        """Sort key: stronger edges first (copies before bursts, then cosine)."""
        return (2.0 if self.kind == "copy" else 1.0 if self.kind == "burst" else 0.0) + self.cosine


PairCheck = Callable[[int, int], PairEvidence]
"""``check(id_a, id_b) -> PairEvidence``: what a verifier implements to replace the default
(set ``DuplicateFinder.pair_check``).

Contract: called with two catalog photo ids, ``id_a < id_b``, both indexed, whose global cosine
passed :data:`lookalike.search.grouping.PREFILTER`, from the thread that runs
``DuplicateFinder.update`` (not the GUI thread), without the library lock held (take it for
catalog reads). It looks the photos up itself and returns ``kind`` "copy" (same_photo), "burst"
(a near-identical take) or None; ``cosine`` as given by the index; ``inliers``, ``ratio``,
``coverage_a``/``coverage_b`` (share of each frame the matched region spans: they make the
"cropped" words), ``turns`` (quarter turns: "rotated"), ``scale`` and ``residual`` as far as
it knows them (defaults otherwise). It must not raise for an unreadable photo: return
``PairEvidence(None, cosine)``. A same-place verdict maps to None (never a duplicate)."""


FileCheck = Callable[[Path, Path, float], PairEvidence]
"""``check(path_a, path_b, cosine) -> PairEvidence``: the copy test of a pair from its two
files alone, for the candidate pairs that the stored local features cannot fit as a copy: no
fit through :func:`copy_gate`, or one the pixels rejected (bursts included: a copy it finds
replaces the burst edge; anything else leaves the burst as it is) (mirrored and turned
copies: the stride-16 codes are neither mirror- nor rotation-invariant, and a turned copy's
fit is often off; 320-px copies: too coarse). Set as ``DuplicateFinder``'s ``file_check``;
without one such pairs make no edge.

Contract: called from the thread that runs ``DuplicateFinder.update``, without the library lock,
for pairs whose global cosine reached :data:`lookalike.search.grouping.CHANCE_COSINE`; returns
``kind`` "copy" (the files are one image under one of the 8 quarter-turn/mirror variants) or
None (never "burst": bursts come from the cells' fit), ``cosine`` as given, ``turns`` when it
knows them, and ``coverage_a``/``coverage_b`` (share of each frame the other shows; 1.0 for an
uncropped copy: the keep suggestion words "cropped" from them). It must not raise for an
unreadable file: return ``PairEvidence(None, cosine)``."""


def _coverage(xy: npt.NDArray[np.float32], frame: npt.NDArray[np.float32]) -> float:
    """Area of the bounding box of ``xy`` over that of ``frame`` (both (n, 2) positions)."""
    if len(xy) < 3 or len(frame) < 3:
        return 0.0
    span = xy.max(axis=0) - xy.min(axis=0)
    whole = frame.max(axis=0) - frame.min(axis=0)
    if float(whole[0] * whole[1]) <= 0.0:
        return 0.0
    return float(min(1.0, span[0] * span[1] / (whole[0] * whole[1])))


def _turns_and_scale(affine: npt.NDArray[np.float64]) -> tuple[int, float]:
    """Quarter turns and linear scale of a (3, 2) map ``[x y 1] @ A`` (a onto b)."""
    linear = affine[:2, :]
    angle = float(np.degrees(np.arctan2(linear[0, 1], linear[0, 0])))
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    return round(angle / 90.0) % 4, scale


def _cell(xy: npt.NDArray[np.float32]) -> float:
    """The grid spacing of a photo's local features (units of its long side)."""
    xs = np.unique(np.round(xy[:, 0].astype(np.float64), 4))
    steps = np.diff(xs)
    return float(steps.min()) if len(steps) else 1.0


def _copy_residual(qa: npt.NDArray[np.float32], qb: npt.NDArray[np.float32], scale: float
                   ) -> float:  # fmt: skip
    """The largest residual of a copy: :data:`COPY_RESIDUAL` when both photos' cells fall on
    one grid (same framing, same cell size), else half the coarser cell (the cells of a copy at
    another resolution, or of a crop, lie up to half a cell off the other's grid)."""
    mapped, own = _cell(qa[:, :2]) * scale, _cell(qb[:, :2])
    coarse = max(mapped, own)
    same_grid = abs(scale - 1.0) < 0.05 and abs(mapped - own) < 0.1 * coarse
    return COPY_RESIDUAL if same_grid else max(COPY_RESIDUAL, coarse / 2)


def _tight_residual(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32],
                    affine: npt.NDArray[np.float64]) -> float:  # fmt: skip
    """Median distance of the inliers from a map refitted on the best-fitting half of them.

    RANSAC's tolerance (three cells) lets a nearly right map through; refitting on the half that
    agrees best finds the exact map of a copy (residuals of a fraction of a cell), while two
    shots of a scene keep their parallax (residuals of a cell or more).
    """
    homog = np.ones((len(src), 3), np.float64)
    homog[:, :2] = src
    target = dst.astype(np.float64)
    for _ in range(2):
        off = homog @ affine - target
        dist = np.sqrt((off * off).sum(axis=1))
        best = dist <= np.median(dist)
        if best.sum() < 3:
            break
        # least squares by the normal equations (a 3 x 3 solve; duplicate grouping runs this
        # for every fit that could be a copy): the same map as lstsq up to rounding
        h, t = homog[best], target[best]
        lhs = h.T @ h
        if abs(np.linalg.det(lhs)) <= 1e-12:  # the points lie on one line: keep the map
            break
        affine = np.linalg.solve(lhs, h.T @ t)
    off = homog @ affine - target
    return float(np.median(np.sqrt((off * off).sum(axis=1))))


def check_locals(a: Locals | None, b: Locals | None, cosine: float,
                 sim: npt.NDArray[np.float32] | None = None,
                 paths: tuple[Path, Path] | None = None) -> PairEvidence:  # fmt: skip
    """The default pair check from two photos' local features and their global cosine.

    Args:
        a, b: (Ka, 2 + d) and (Kb, 2 + d) local features of each photo (None: only the cosine
            is known, which never makes an edge on its own).
        cosine: their global cosine similarity.
        sim: (Ka, Kb) cosines of their codes, if already computed (in a batch).
        paths: the two photos' files: a copy must then pass the pixel test
            (:func:`pixel_confirmed`), which keeps other shots of a scene out of copy groups;
            None: the cells' copy test only.

    Returns:
        The evidence, with ``kind`` decided by the module's thresholds.
    """
    if a is None or b is None or len(a) < 3 or len(b) < 3 or a.shape[1] != b.shape[1]:
        return PairEvidence(None, cosine)
    qa, qb = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if sim is None:
        # einsum, not matmul: one small product per pair, and BLAS's threads wake up slowly on a
        # busy machine (256 x 256 x 64: matmul 23-46 ms, einsum 5 ms on the loaded 2-core box)
        sim = np.einsum("ik,jk->ij", qa[:, 2:], qb[:, 2:])
    ia, ib = mutual_from_similarity(sim, DEFAULT_PARAMS.min_similarity)
    if len(ia) <= CHANCE_INLIERS:  # inliers <= matches: nothing above chance is possible
        return PairEvidence(None, cosine)
    p = DEFAULT_PARAMS
    affine, mask = ransac_affine(qa[ia, :2], qb[ib, :2], p.tolerance, CHECK_ITERATIONS,
                                 p.max_scale)  # fmt: skip
    evidence = judge_fit(qa[:, :2], qb[:, :2], qa[ia, :2], qb[ib, :2], affine, mask, cosine)
    if paths is None or affine is None:
        return evidence
    return pixel_confirmed(evidence, affine, paths)


def copy_gate(evidence: PairEvidence) -> bool:
    """Whether a fit's cell-level evidence allows a copy: more inliers than chance, inlier
    ratio >= :data:`COPY_RATIO`, one frame covered >= :data:`COPY_COVERAGE` (copies bench:
    294 of the 316 pixel-confirmed copy fits pass, 5 of 248 unrelated fits)."""
    return (evidence.inliers > CHANCE_INLIERS and evidence.ratio >= COPY_RATIO
            and max(evidence.coverage_a, evidence.coverage_b) >= COPY_COVERAGE)  # fmt: skip


def pixel_confirmed(evidence: PairEvidence, affine: npt.NDArray[np.float64],
                    paths: tuple[Path, Path]) -> PairEvidence:  # fmt: skip
    """The evidence with its copy decided by the pixels (:mod:`lookalike.search.copy_pixels`):
    a fit through the :func:`copy_gate` is a copy when the map of a onto b, refined on the
    pixels, carries every textured block exactly; otherwise the pair can still be a burst.

    Args:
        evidence: the cells' evidence (``judge_fit``).
        affine: the (3, 2) map of a's positions onto b's (long-side units).
        paths: a's and b's files (unreadable: no copy).
    """
    if not copy_gate(evidence):
        return evidence
    pixels = check_files(paths[0], paths[1], affine)
    if is_pixel_copy(pixels):
        return replace(evidence, kind="copy")
    burst = (evidence.cosine >= BURST_COSINE
             and min(evidence.coverage_a, evidence.coverage_b) >= BURST_COVERAGE)  # fmt: skip
    return replace(evidence, kind="burst" if burst else None)


def judge_fit(a_xy: npt.NDArray[np.float32], b_xy: npt.NDArray[np.float32],
              a_matched: npt.NDArray[np.float32], b_matched: npt.NDArray[np.float32],
              affine: npt.NDArray[np.float64] | None, mask: npt.NDArray[np.bool_],
              cosine: float) -> PairEvidence:  # fmt: skip
    """Copy, burst or neither from one affine fit: the one test both duplicate grouping and the
    search's verdict (:mod:`lookalike.search.verdict`, from re-ranking's own fit) apply.

    The coverages, turns, scale and residual are measured only where one of the two tests can
    still pass (an inlier ratio of :data:`COPY_RATIO` or a cosine of :data:`BURST_COSINE`):
    duplicate grouping judges ~10 fits a photo, most of them neither.

    Args:
        a_xy, b_xy: (Ka, 2) and (Kb, 2) positions of all local features of each photo.
        a_matched, b_matched: (m, 2) positions of the mutual matches, aligned.
        affine: the (3, 2) map of a onto b RANSAC found (None: none).
        mask: (m,) its inliers.
        cosine: the photos' global cosine.
    """
    inliers = int(mask.sum())
    if affine is None or inliers <= CHANCE_INLIERS:
        return PairEvidence(None, cosine, inliers)
    ratio = inliers / len(mask)
    if ratio < COPY_RATIO and cosine < BURST_COSINE:  # neither test can pass: not measured
        return PairEvidence(None, cosine, inliers, ratio)
    cov_a = _coverage(a_matched[mask], a_xy)
    cov_b = _coverage(b_matched[mask], b_xy)
    turns, scale = _turns_and_scale(affine)
    residual = 1.0
    kind: Kind | None = None
    if ratio >= COPY_RATIO and max(cov_a, cov_b) >= COPY_COVERAGE:
        residual = _tight_residual(a_matched[mask], b_matched[mask], affine)
        kind = "copy" if residual <= _copy_residual(a_xy, b_xy, scale) else None
    if kind is None and cosine >= BURST_COSINE and min(cov_a, cov_b) >= BURST_COVERAGE:
        kind = "burst"
    return PairEvidence(kind, cosine, inliers, ratio, cov_a, cov_b, turns, scale, residual)
