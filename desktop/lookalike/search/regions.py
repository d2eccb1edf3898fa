"""Why two photos match: the MAC channels that drive their similarity, located in both photos.

Pure NumPy (no Qt): the GUI draws what these functions return.

What is stored per photo is an :class:`~lookalike.types.Embedding` whose ``peaks`` hold, for the
strongest MAC channels only, the channel's maximum activation and where that maximum lies (the
centre of its feature-map cell, as a fraction 0..1 of the upright image's width and height).
Everything here works from those peaks; no feature map is recomputed.

Coordinates: points are ``(x, y)`` and boxes ``(x0, y0, x1, y1)``, fractions 0..1 of the upright
image, x to the right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.types import Embedding, Peaks

Point = tuple[float, float]
Box = tuple[float, float, float, float]

DEFAULT_CELL = 1.0 / 16.0
"""Cell size assumed when it cannot be inferred from the peak positions (too few peaks)."""

_MAX_GRID = 128
"""Largest feature-map side :func:`cell_size` tries."""

_GRID_TOLERANCE = 0.12
"""How far from a cell centre (in cells) a float16 peak coordinate may lie and still fit a grid."""


@dataclass(frozen=True)
class RegionPair:
    """One reason two photos match: a MAC channel that fires strongly in both.

    Attributes:
        channel: the feature channel index (of the most important channel of a merged group).
        weight: its share of the explained similarity; the weights of one :func:`explain` call
            sum to 1.
        query_xy: where the channel peaks in the query, (x, y) fractions 0..1.
        result_xy: where it peaks in the result, (x, y) fractions 0..1.
    """

    channel: int
    weight: float
    query_xy: Point
    result_xy: Point


def cell_size(peaks: Peaks) -> Point:
    """The feature-map cell size (width, height) as fractions of the image, inferred from peaks.

    Peak positions are cell centres ``(i + 0.5) / W``; the smallest grid ``W`` that puts every
    stored x on a cell centre (within float16 precision) is taken as the map width, likewise for
    the height. With fewer than 3 distinct positions on an axis, :data:`DEFAULT_CELL` is used.

    Args:
        peaks: (K,) PEAK_DTYPE records.

    Returns:
        ``(1 / W, 1 / H)``.
    """
    return (
        _axis_cell(np.asarray(peaks["x"], dtype=np.float64)),
        _axis_cell(np.asarray(peaks["y"], dtype=np.float64)),
    )


def _axis_cell(coords: npt.NDArray[np.float64]) -> float:
    values = np.unique(coords)
    if len(values) < 3:
        return DEFAULT_CELL
    for cells in range(1, _MAX_GRID + 1):
        offsets = values * cells - 0.5
        if np.abs(offsets - np.round(offsets)).max() <= _GRID_TOLERANCE:
            return 1.0 / cells
    return DEFAULT_CELL


def explain(
    query: Embedding,
    result: Embedding,
    top: int = 8,
    cell: Point | None = None,
) -> list[RegionPair]:
    """The channels that contribute most to the similarity of two photos, located in both.

    Each channel present in both peak sets contributes ``value_query · value_result`` (the
    channel's term of the dot product of the two MAC vectors). Channels whose peaks fall within
    one feature cell of an already kept pair, in the query *and* in the result, are merged into it
    (their contributions add up), so boxes don't pile up on one spot.

    Args:
        query: embedding of the query photo (or crop).
        result: embedding of the matched photo.
        top: most pairs returned.
        cell: ``(width, height)`` of one feature cell as fractions of the image; inferred from the
            peaks when None (see :func:`cell_size`).

    Returns:
        Up to ``top`` pairs, strongest first, weights summing to 1; empty when the two peak sets
        share no channel.
    """
    common, q_idx, r_idx = np.intersect1d(
        query.peaks["channel"], result.peaks["channel"], return_indices=True
    )
    if top <= 0 or len(common) == 0:
        return []
    q, r = query.peaks[q_idx], result.peaks[r_idx]
    contrib = q["value"].astype(np.float64) * r["value"].astype(np.float64)
    order = np.argsort(-contrib, kind="stable")
    q_cell = cell or cell_size(query.peaks)
    r_cell = cell or cell_size(result.peaks)

    kept: list[list[float]] = []  # [channel, weight, qx, qy, rx, ry]
    for i in order:
        if contrib[i] <= 0:
            break
        qx, qy, rx, ry = (float(q["x"][i]), float(q["y"][i]), float(r["x"][i]), float(r["y"][i]))
        for pair in kept:
            if _near((qx, qy), (pair[2], pair[3]), q_cell) and _near(
                (rx, ry), (pair[4], pair[5]), r_cell
            ):
                pair[1] += float(contrib[i])
                break
        else:
            kept.append([float(common[i]), float(contrib[i]), qx, qy, rx, ry])
    kept.sort(key=lambda pair: -pair[1])
    kept = kept[:top]
    total = sum(pair[1] for pair in kept)
    if total <= 0:
        return []
    return [RegionPair(int(ch), w / total, (qx, qy), (rx, ry)) for ch, w, qx, qy, rx, ry in kept]


def _near(a: Point, b: Point, cell: Point) -> bool:
    """Whether two points lie within about one feature cell of each other on both axes."""
    return abs(a[0] - b[0]) <= cell[0] * 1.01 and abs(a[1] - b[1]) <= cell[1] * 1.01


def box_for(xy: Point, cell: Point | float = DEFAULT_CELL) -> Box:
    """A box of one ``cell`` around a peak, shifted (not shrunk) to stay inside the image.

    Args:
        xy: the peak, (x, y) fractions 0..1.
        cell: the box's (width, height) as fractions of the image, or one fraction for both.

    Returns:
        ``(x0, y0, x1, y1)`` fractions 0..1.
    """
    w, h = (cell, cell) if isinstance(cell, (int, float)) else cell
    w, h = min(max(float(w), 0.0), 1.0), min(max(float(h), 0.0), 1.0)
    x0 = min(max(xy[0] - w / 2, 0.0), 1.0 - w)
    y0 = min(max(xy[1] - h / 2, 0.0), 1.0 - h)
    return (x0, y0, x0 + w, y0 + h)


def best_region(
    query: Embedding,
    result: Embedding,
    grid: int = 16,
    min_side: float = 0.1,
) -> Box | None:
    """The region of the result that best matches the query (a coarse localisation).

    Tolias et al. (2016), "Particular object retrieval with integral max-pooling of CNN
    activations", localise the query in a database image by searching, with integral images, for
    the box whose max-pooled feature vector is most similar to the query's. We no longer have
    the result's feature maps, only the cell where each of its strongest channels peaks, so this
    function keeps the search (every box of a ``grid × grid`` partition, with integral images)
    and changes what a box is scored on:

    - each channel stored for both photos is *evidence* located at the result's peak, weighing
      ``value_query · value_result`` (its term of the similarity), normalised to sum to 1;
    - a box scores ``evidence inside − area`` (both fractions of the total): it must hold more
      of the shared evidence than its share of the image, so the winner is where the evidence
      is densest, not simply the whole image (which is what cosine similarity on single-peak
      channels picks, every stored channel being a spike that only adds to the match).

    What this cannot see: activation away from a channel's maximum, channels below the stored
    top-K, and a channel peaking in two places. It answers "where in the result does the
    evidence for this match concentrate"; for a query that is a region of a scene (a crop) that
    is usually the region shown, for a whole-photo query it is the part of the scene that
    agrees most. A hint for the eye, not a detection.

    Args:
        query: embedding of the query photo (or crop).
        result: embedding of the matched photo.
        grid: cells per side of the candidate partition.
        min_side: smallest box side, as a fraction of the image, so one lone peak cannot win.

    Returns:
        ``(x0, y0, x1, y1)`` fractions 0..1, or None when the photos share no stored channel
        or no box holds more evidence than its area.
    """
    common, q_idx, r_idx = np.intersect1d(
        query.peaks["channel"], result.peaks["channel"], return_indices=True
    )
    peaks = result.peaks[r_idx]
    weights = np.maximum(
        query.peaks["value"][q_idx].astype(np.float64) * peaks["value"].astype(np.float64), 0.0
    )
    if len(common) == 0 or weights.sum() <= 0:
        return None
    weights /= weights.sum()
    cols = np.clip((peaks["x"].astype(np.float64) * grid).astype(int), 0, grid - 1)
    rows = np.clip((peaks["y"].astype(np.float64) * grid).astype(int), 0, grid - 1)
    evidence = np.zeros((grid, grid))
    np.add.at(evidence, (rows, cols), weights)
    sides = np.arange(grid + 1)
    side = sides[None, :] - sides[:, None]  # side[a, b] = b - a, in cells
    area = side[:, None, :, None] * side[None, :, None, :] / float(grid * grid)
    score = _box_sums(evidence) - area
    min_cells = max(1, math.ceil(min_side * grid - 1e-9))
    too_small = side < min_cells
    score[too_small[:, None, :, None] | too_small[None, :, None, :]] = -np.inf
    top_score = float(score.max())
    if not np.isfinite(top_score) or top_score <= 0:
        return None
    centre = (
        float((weights * peaks["x"]).sum()),
        float((weights * peaks["y"]).sum()),
    )
    y0, x0, y1, x1 = _tightest(score >= top_score - 1e-9, centre, grid)
    return (x0 / grid, y0 / grid, x1 / grid, y1 / grid)


def _tightest(
    winners: npt.NDArray[np.bool_], centre: Point, grid: int
) -> tuple[int, int, int, int]:
    """Among tied best boxes (adding empty cells doesn't change a score), the smallest one,
    then the one centred nearest the weighted centroid of the shared channels."""
    y0, x0, y1, x1 = np.nonzero(winners)
    area = (y1 - y0) * (x1 - x0)
    small = area == area.min()
    y0, x0, y1, x1 = y0[small], x0[small], y1[small], x1[small]
    dist = ((x0 + x1) / (2 * grid) - centre[0]) ** 2 + ((y0 + y1) / (2 * grid) - centre[1]) ** 2
    k = int(np.argmin(dist))
    return int(y0[k]), int(x0[k]), int(y1[k]), int(x1[k])


def _box_sums(cells: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sums of every box of a (G, G) array via an integral image ``I``.

    Returns:
        (G+1, G+1, G+1, G+1) array ``s[y0, x0, y1, x1]`` = sum of ``cells[y0:y1, x0:x1]``
        ``= I[y1, x1] - I[y0, x1] - I[y1, x0] + I[y0, x0]`` (meaningless where ``y1 <= y0`` or
        ``x1 <= x0``; callers mask those).
    """
    g = cells.shape[0]
    i = np.zeros((g + 1, g + 1))
    i[1:, 1:] = cells.cumsum(axis=0).cumsum(axis=1)
    return (
        i[None, None, :, :]  # I[y1, x1]
        - i[:, None, None, :]  # I[y0, x1]
        - i.T[None, :, :, None]  # I[y1, x0]
        + i[:, :, None, None]  # I[y0, x0]
    )
