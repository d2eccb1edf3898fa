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
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from lookalike.search.rerank import (
    CHANCE_INLIERS,
    DEFAULT_PARAMS,
    mutual_from_similarity,
    ransac_affine,
)
from lookalike.types import Locals

Kind = Literal["copy", "burst"]

COPY_RATIO = 0.30
"""Inliers / mutual matches at or above which the map explains the pair as one image."""
COPY_COVERAGE = 0.70
"""Share of the smaller-covered side of the frame (bounding box of its inliers) at or above
which a photo is wholly inside the other."""
BURST_COSINE = 0.90
"""Global cosine at or above which a verified pair over most of the frame is a burst."""
BURST_COVERAGE = 0.50
"""Both photos' inliers must span at least this share of their frames to be a burst."""


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
        residual: median distance of the inliers from where the map puts them, in units of
            b's long side (a copy is mapped exactly: about a tenth of a 16-pixel cell).
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
"""``check(id_a, id_b) -> PairEvidence``: the interface a verifier implements to replace the
default (it may look up the photos itself)."""


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


def check_locals(a: Locals | None, b: Locals | None, cosine: float) -> PairEvidence:
    """The default pair check from two photos' local features and their global cosine.

    Args:
        a, b: (K, 2 + d) local features of each photo (None: only the cosine is known, which
            never makes an edge on its own).
        cosine: their global cosine similarity.

    Returns:
        The evidence, with ``kind`` decided by the module's thresholds.
    """
    if a is None or b is None or len(a) < 3 or len(b) < 3 or a.shape[1] != b.shape[1]:
        return PairEvidence(None, cosine)
    qa, qb = np.asarray(a, np.float32), np.asarray(b, np.float32)
    sim = np.ascontiguousarray(qa[:, 2:]) @ np.ascontiguousarray(qb[:, 2:]).T
    ia, ib = mutual_from_similarity(sim, DEFAULT_PARAMS.min_similarity)
    if len(ia) < 3:
        return PairEvidence(None, cosine)
    p = DEFAULT_PARAMS
    affine, mask = ransac_affine(qa[ia, :2], qb[ib, :2], p.tolerance, p.iterations, p.max_scale)
    inliers = int(mask.sum())
    if affine is None or inliers <= CHANCE_INLIERS:
        return PairEvidence(None, cosine, inliers)
    ratio = inliers / len(ia)
    cov_a = _coverage(qa[ia[mask], :2], qa[:, :2])
    cov_b = _coverage(qb[ib[mask], :2], qb[:, :2])
    turns, scale = _turns_and_scale(affine)
    moved = np.concatenate([qa[ia[mask], :2], np.ones((inliers, 1), np.float32)], axis=1)
    residual = float(np.median(np.linalg.norm(moved @ affine - qb[ib[mask], :2], axis=1)))
    kind: Kind | None = None
    if ratio >= COPY_RATIO and max(cov_a, cov_b) >= COPY_COVERAGE:
        kind = "copy"
    elif cosine >= BURST_COSINE and min(cov_a, cov_b) >= BURST_COVERAGE:
        kind = "burst"
    return PairEvidence(kind, cosine, inliers, ratio, cov_a, cov_b, turns, scale, residual)
