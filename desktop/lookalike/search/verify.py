"""Geometric verification and the verdict: local features of two photos → same photo or place?

Pure functions, no I/O. The features are XFeat keypoints (``lookalike.embed.xfeat``): positions
in source pixels and unit 64-d descriptors. Steps:

1. Mutual nearest neighbours of the descriptors whose cosine is above a floor.
2. RANSAC for an affine map of the query plane onto the candidate's (minimal sample: 3 matches)
   in units of each photo's long side. Its inliers say whether the photos share a scene; two
   unrelated photos still reach a few by chance, so ``same_place`` needs clearly more than the
   chance level (``VerifyParams.place_inliers``, measured by ``benchmarks/verdict_bench.py``).
3. RANSAC for a similarity (rotation, uniform scale, shift; 2 matches), also with the query
   mirrored. A copy (crop, quarter turn, mirror, downscale, recolour, frame) carries almost every
   match onto its partner by such a map, to within the keypoints' own noise (a couple of pixels
   of the coarser photo), with an angle that is a multiple of 90°. Another shot of the scene,
   even from a tripod a step away, has parallax or perspective: fewer matches lie that close to
   the similarity, and a homography explains the others clearly better (``perspective_gain``:
   the ratio of the two fits' median residuals, about 1 for a copy). ``same_photo`` needs a
   quarter-turn similarity, enough of the matches within the pixel tolerance, inliers spread
   over the matched area (coverage), and no perspective gain.

A descriptor that is not rotation invariant (XFeat's) only matches a turned or mirrored copy
when the query's features were taken from the turned photo: :func:`dihedral_points` maps such
features back into the query's own frame, and :func:`verify_variants` keeps the best of several.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.embed.xfeat import Points as Points
from lookalike.search.geometry import (
    Affine,
    coverage,
    homog,
    perspective_gain,
    quarter_turn,
    ransac,
)

Floats = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class Verdict(str, enum.Enum):
    """How two photos are related, strongest first."""

    SAME_PHOTO = "same_photo"
    SAME_PLACE = "same_place"
    SIMILAR = "similar"


@dataclass(frozen=True)
class VerifyParams:
    """The knobs of verification (defaults from ``benchmarks/verdict_bench.py``, see MODELS.md).

    Attributes:
        min_cosine: descriptor cosine a mutual match needs.
        tolerance: affine inlier distance, in units of the candidate's long side.
        photo_tolerance_px: similarity inlier distance for the copy test, in pixels of the
            coarser photo (``Points.size`` should be the size the features were found at).
        iterations: RANSAC hypotheses per model.
        place_inliers: affine inliers for ``same_place`` (above the chance level).
        photo_inliers: similarity inliers for ``same_photo``.
        photo_ratio: share of the mutual matches on the similarity for ``same_photo``.
        photo_coverage: share of the shared area's grid cells holding a similarity inlier.
        max_turn_error_deg: how far the similarity's angle may be from a quarter turn.
        max_perspective_gain: largest :func:`perspective_gain` of a copy.
        seed: RANSAC's random seed (verification is deterministic).
    """

    min_cosine: float = 0.82
    tolerance: float = 0.02
    photo_tolerance_px: float = 2.5
    iterations: int = 256
    place_inliers: int = 16
    photo_inliers: int = 24
    photo_ratio: float = 0.3
    photo_coverage: float = 0.6
    max_turn_error_deg: float = 3.0
    max_perspective_gain: float = 1.3
    seed: int = 0


DEFAULT_VERIFY = VerifyParams()


@dataclass(frozen=True)
class Evidence:
    """Why a verdict was given.

    Attributes:
        verdict: the decision.
        matches: mutual descriptor matches above the cosine floor.
        inliers: matches on the best affine map.
        transform: that affine map (query → candidate, long-side units), or None.
        photo_inliers: matches on the best similarity map at the tight tolerance.
        photo_ratio: ``photo_inliers / matches``.
        coverage: share of the shared area's grid cells holding a similarity inlier.
        turn: the similarity's angle in quarter turns (0-3), with ``mirrored``.
        mirrored: whether the similarity mirrors the query.
        turn_error_deg: how far the similarity's angle is from that quarter turn.
        perspective: :func:`perspective_gain` of the similarity's matches.
        variant: index of the query variant that gave this evidence.
    """

    verdict: Verdict
    matches: int
    inliers: int
    transform: Affine | None
    photo_inliers: int = 0
    photo_ratio: float = 0.0
    coverage: float = 0.0
    turn: int = 0
    mirrored: bool = False
    turn_error_deg: float = 180.0
    perspective: float = 1.0
    variant: int = 0


def mutual_nn(
    query: Floats, candidate: Floats, min_cosine: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Mutual nearest neighbours of two sets of unit descriptors above a cosine floor.

    Args:
        query: (Nq, d) unit rows.
        candidate: (Nc, d) unit rows.
        min_cosine: pairs whose cosine is not above this are dropped.

    Returns:
        Indices into ``query`` and ``candidate`` of the matched pairs, by query index.
    """
    if len(query) == 0 or len(candidate) == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty
    sim = query @ candidate.T
    fwd = sim.argmax(axis=1)
    back = sim.argmax(axis=0)
    iq = np.arange(len(query))
    keep = (back[fwd] == iq) & (sim[iq, fwd] > min_cosine)
    return iq[keep], fwd[keep]


def dihedral_points(xy: Floats, size: tuple[int, int], k: int) -> Floats:
    """Points of a photo carried into the photo turned by ``k % 4`` quarter turns counter-clockwise,
    mirrored left-right first when ``k >= 4`` (the 8 dihedral transforms).

    Args:
        xy: (N, 2) x, y in the photo's pixels.
        size: the photo's (width, height).
        k: 0-7.

    Returns:
        (N, 2) float32 positions in the transformed photo's pixels.
    """
    width, height = size
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    if k >= 4:
        x = width - x
    for _ in range(k % 4):  # one counter-clockwise quarter turn: (x, y) → (y, W - x)
        x, y = y, width - x
        width, height = height, width
    return np.stack([x, y], axis=1).astype(np.float32)


def undo_dihedral(xy: Floats, size: tuple[int, int], k: int) -> Floats:
    """Inverse of :func:`dihedral_points`: ``size`` is the ORIGINAL photo's (width, height)."""
    width, height = size
    turned = (height, width) if k % 2 else (width, height)
    out = xy
    for _ in range(4 - k % 4 if k % 4 else 0):
        out = dihedral_points(out, turned, 1)
        turned = (turned[1], turned[0])
    if k >= 4:
        out = dihedral_points(out, (width, height), 4)
    return out


def _copy_fit(
    src: F64, dst: F64, pixel: tuple[float, float], params: VerifyParams
) -> tuple[npt.NDArray[np.bool_], int, bool, float, float]:
    """The best similarity of the query (plain or mirrored) onto the candidate, and the matches
    it carries to within ``params.photo_tolerance_px`` pixels of the coarser photo.

    Args:
        src: (M, 2) query points, query long-side units.
        dst: (M, 2) candidate points, candidate long-side units.
        pixel: one pixel of the query and of the candidate, in their long-side units.
        params: the settings.

    Returns:
        The tight inlier mask, quarter turn, mirroring, angle error in degrees and
        :func:`perspective_gain` on the loose inliers.
    """
    best: tuple[npt.NDArray[np.bool_], int, bool, float, float] = (
        np.zeros(len(src), bool),
        0,
        False,
        180.0,
        1.0,
    )
    for mirrored in (False, True):
        points = src * np.array([-1.0, 1.0]) if mirrored else src
        model, loose = ransac(
            points, dst, params.tolerance, params.iterations, params.seed, similarity=True
        )
        if model is None:
            continue
        scale = float(np.hypot(model[0, 0], model[0, 1]))
        coarse = max(pixel[1], scale * pixel[0])  # the coarser pixel, in candidate units
        residual = np.sqrt(((homog(points) @ model - dst) ** 2).sum(axis=1))
        mask = residual < params.photo_tolerance_px * coarse
        if mask.sum() > best[0].sum():
            turn, error = quarter_turn(model)
            best = (mask, turn, mirrored, error, perspective_gain(points, dst, model, loose))
    return best


def verify(query: Points, candidate: Points, params: VerifyParams = DEFAULT_VERIFY) -> Evidence:
    """Match two photos' features, fit the maps and decide the verdict.

    Args:
        query: the query's features (positions in its own frame).
        candidate: the candidate's features.
        params: thresholds and RANSAC settings.

    Returns:
        The verdict and its evidence.
    """
    iq, ic = mutual_nn(query.descriptors, candidate.descriptors, params.min_cosine)
    if len(iq) < 4:
        return Evidence(Verdict.SIMILAR, len(iq), 0, None)
    src = query.xy[iq].astype(np.float64) / max(query.size)
    dst = candidate.xy[ic].astype(np.float64) / max(candidate.size)
    model, mask = ransac(src, dst, params.tolerance, params.iterations, params.seed, False)
    inliers = int(mask.sum())
    if inliers < min(params.place_inliers, params.photo_inliers):  # neither verdict can hold
        return Evidence(Verdict.SIMILAR, len(iq), inliers, model)
    pixel = (1.0 / max(query.size), 1.0 / max(candidate.size))
    copy_mask, turn, mirrored, error, gain = _copy_fit(src, dst, pixel, params)
    photo_inliers = int(copy_mask.sum())
    ratio = photo_inliers / len(iq)
    cover = coverage(src, dst, copy_mask)
    verdict = decide(inliers, photo_inliers, ratio, cover, error, gain, params)
    return Evidence(
        verdict, len(iq), inliers, model, photo_inliers, ratio, cover, turn, mirrored, error, gain
    )


def decide(
    inliers: int,
    photo_inliers: int,
    ratio: float,
    cover: float,
    turn_error_deg: float,
    perspective: float,
    params: VerifyParams = DEFAULT_VERIFY,
) -> Verdict:
    """The verdict from the measured evidence (see :class:`Evidence` for the quantities)."""
    if (
        photo_inliers >= params.photo_inliers
        and ratio >= params.photo_ratio
        and cover >= params.photo_coverage
        and turn_error_deg <= params.max_turn_error_deg
        and perspective <= params.max_perspective_gain
    ):
        return Verdict.SAME_PHOTO
    if inliers >= params.place_inliers:
        return Verdict.SAME_PLACE
    return Verdict.SIMILAR


_STRENGTH = {Verdict.SAME_PHOTO: 2, Verdict.SAME_PLACE: 1, Verdict.SIMILAR: 0}


def verify_variants(
    variants: Sequence[Points], candidate: Points, params: VerifyParams = DEFAULT_VERIFY
) -> Evidence:
    """:func:`verify` for several versions of the query (e.g. features of its quarter turns, their
    positions mapped back with :func:`undo_dihedral`); the strongest evidence wins.

    Args:
        variants: at least one set of query features, all in the query's own frame.
        candidate: the candidate's features.
        params: thresholds and RANSAC settings.

    Returns:
        The evidence with the strongest verdict, then the most inliers; ``variant`` says which.
    """
    if not variants:
        raise ValueError("verify_variants needs at least one query variant")
    best: Evidence | None = None
    for index, variant in enumerate(variants):
        found = verify(variant, candidate, params)
        key = (_STRENGTH[found.verdict], found.photo_inliers, found.inliers)
        if best is None or key > (_STRENGTH[best.verdict], best.photo_inliers, best.inliers):
            best = Evidence(**{**found.__dict__, "variant": index})
    assert best is not None
    return best
