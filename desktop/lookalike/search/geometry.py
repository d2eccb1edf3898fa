"""Plane geometry for verification: minimal-sample RANSAC of affine and similarity maps, their
least-squares refits, the homography check of a copy, and the spread of inliers. Pure NumPy.

Points are (M, 2) float64 in units of each photo's long side; a map is (3, 2) and acts as
``[x y 1] @ A``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Affine = F64
"""(3, 2): ``[x y 1] @ A`` maps a query point (long-side units) onto the candidate."""


def homog(points: F64) -> F64:
    return np.concatenate([points, np.ones((*points.shape[:-1], 1))], axis=-1)


def _fit_affine(src: F64, dst: F64) -> Affine:
    """Least-squares affine map of (M, 2) points onto theirs (M >= 3)."""
    solution, *_ = np.linalg.lstsq(homog(src), dst, rcond=None)
    return np.asarray(solution, np.float64)


def _fit_similarity(src: F64, dst: F64) -> Affine:
    """Least-squares similarity (rotation, uniform scale, shift) of (M, 2) points onto theirs."""
    rows = np.zeros((2 * len(src), 4))
    rows[0::2] = np.stack([src[:, 0], -src[:, 1], np.ones(len(src)), np.zeros(len(src))], axis=1)
    rows[1::2] = np.stack([src[:, 1], src[:, 0], np.zeros(len(src)), np.ones(len(src))], axis=1)
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, dst.reshape(-1), rcond=None)
    return np.array([[a, b], [-b, a], [tx, ty]])


def _fit_homography(src: F64, dst: F64) -> npt.NDArray[np.float64]:
    """Least-squares (DLT) homography of (M, 2) points onto theirs (M >= 4): (3, 3), acting on
    column vectors ``[x y 1]``."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    return np.asarray(vt[-1].reshape(3, 3), np.float64)


def _homography_residual(h: F64, src: F64, dst: F64) -> F64:
    mapped = homog(src) @ h.T
    w = np.where(np.abs(mapped[:, 2:]) > 1e-12, mapped[:, 2:], 1e-12)
    return np.asarray(np.sqrt(((mapped[:, :2] / w - dst) ** 2).sum(axis=1)), np.float64)


def perspective_gain(src: F64, dst: F64, similarity: Affine, mask: npt.NDArray[np.bool_]) -> float:
    """How much better a homography than the similarity explains the matches in ``mask``: the
    ratio of their median residuals (about 1 for a copy, whose residuals are only keypoint
    noise; clearly above 1 for another shot, whose residuals follow the perspective)."""
    if mask.sum() < 8:
        return 1.0
    s, d = src[mask], dst[mask]
    residual_sim = np.sqrt(((homog(s) @ similarity - d) ** 2).sum(axis=1))
    s_c, d_c = s - s.mean(axis=0), d - d.mean(axis=0)  # conditioning of the DLT
    residual_hom = _homography_residual(_fit_homography(s_c, d_c), s_c, d_c)
    return float(np.median(residual_sim) / max(float(np.median(residual_hom)), 1e-9))


def _similarity_maps(src: F64, dst: F64) -> F64:
    """(I, 3, 2) similarity maps from (I, 2, 2) point pairs onto theirs (degenerate → zeros)."""
    ps, qs = src[:, 1] - src[:, 0], dst[:, 1] - dst[:, 0]
    norm = (ps**2).sum(axis=1)
    norm = np.where(norm > 1e-12, norm, np.inf)
    a = (ps[:, 0] * qs[:, 0] + ps[:, 1] * qs[:, 1]) / norm
    b = (ps[:, 0] * qs[:, 1] - ps[:, 1] * qs[:, 0]) / norm
    maps = np.zeros((len(src), 3, 2))
    maps[:, 0, 0], maps[:, 0, 1], maps[:, 1, 0], maps[:, 1, 1] = a, b, -b, a
    maps[:, 2] = dst[:, 0] - np.einsum("ij,ijk->ik", src[:, 0], maps[:, :2])
    return maps


def _affine_maps(src: F64, dst: F64) -> F64:
    """(I, 3, 2) exact affine maps of (I, 3, 2) point triples (degenerate → zeros)."""
    hs = homog(src)
    det = np.linalg.det(hs)
    ok = np.abs(det) > 1e-9
    maps = np.zeros((len(src), 3, 2))
    if ok.any():
        maps[ok] = np.linalg.solve(hs[ok], dst[ok])
    return maps


def ransac(
    src: F64, dst: F64, tolerance: float, iterations: int, seed: int, similarity: bool
) -> tuple[Affine | None, npt.NDArray[np.bool_]]:
    """The map with the most inliers among random minimal samples, refitted on them.

    Args:
        src: (M, 2) query points, long-side units.
        dst: (M, 2) matched candidate points, long-side units.
        tolerance: inlier distance, long-side units of the candidate.
        iterations: hypotheses drawn.
        seed: random seed.
        similarity: fit similarity maps (2-point samples) instead of affine ones (3 points).

    Returns:
        The best map (None when there are too few matches) and the (M,) inlier mask.
    """
    sample = 2 if similarity else 3
    none = np.zeros(len(src), bool)
    if len(src) < sample + 1:
        return None, none
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(src), size=(iterations, sample))  # repeats: degenerate, no votes
    maps = (_similarity_maps if similarity else _affine_maps)(src[idx], dst[idx])
    projected = np.einsum("mk,ikc->imc", homog(src), maps)
    hits = ((projected - dst[None]) ** 2).sum(axis=2) < tolerance**2
    distinct = (idx[:, :, None] != idx[:, None, :]).sum(axis=(1, 2)) == sample * (sample - 1)
    hits &= distinct[:, None]
    best = int(hits.sum(axis=1).argmax())
    mask = hits[best]
    model = maps[best]
    if mask.sum() >= 4:
        refit = (_fit_similarity if similarity else _fit_affine)(src[mask], dst[mask])
        refit_mask = ((homog(src) @ refit - dst) ** 2).sum(axis=1) < tolerance**2
        if refit_mask.sum() >= mask.sum():
            model, mask = refit, refit_mask
    return model, mask


def quarter_turn(model: Affine) -> tuple[int, float]:
    """The nearest quarter turn (0-3) of a similarity map's angle and the error in degrees."""
    angle = np.degrees(np.arctan2(model[0, 1], model[0, 0])) % 360.0
    turn = int(np.round(angle / 90.0)) % 4
    error = abs((angle - 90.0 * turn + 180.0) % 360.0 - 180.0)
    return turn, float(error)


def coverage(src: F64, dst: F64, mask: npt.NDArray[np.bool_], grid: int = 4) -> float:
    """Share of the grid cells of the query's matched area that hold an inlier.

    The area is the bounding box of all matches in the query (long-side units), split into a
    ``grid`` x ``grid`` lattice; only cells holding at least one match count.

    Args:
        src: (M, 2) query points of the matches.
        dst: (M, 2) candidate points (unused; kept for symmetry of the call).
        mask: (M,) inlier mask.
        grid: cells per side.

    Returns:
        In 0..1; 0 when there are no inliers.
    """
    del dst
    if not mask.any():
        return 0.0
    low, high = src.min(axis=0), src.max(axis=0)
    cells = np.clip(((src - low) / np.maximum(high - low, 1e-9) * grid).astype(int), 0, grid - 1)
    flat = cells[:, 0] * grid + cells[:, 1]
    occupied = np.unique(flat)
    return float(len(np.unique(flat[mask])) / len(occupied))
