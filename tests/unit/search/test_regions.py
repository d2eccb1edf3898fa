"""search/regions.py: explaining a match from the stored MAC peaks (pure NumPy, no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.search import regions
from lookalike.types import PEAK_DTYPE, Embedding

GRID = 16  # feature-map cells per side in these tests


def _peaks(rows: list[tuple[int, float, int, int]]) -> np.ndarray:
    """Peaks from (channel, value, cell column, cell row) on a GRID×GRID map."""
    out = np.zeros(len(rows), dtype=PEAK_DTYPE)
    for k, (channel, value, col, row) in enumerate(sorted(rows)):
        out[k] = (channel, value, (col + 0.5) / GRID, (row + 0.5) / GRID)
    return out


def _emb(rows: list[tuple[int, float, int, int]]) -> Embedding:
    return Embedding(vector=np.zeros(4, dtype=np.float32), peaks=_peaks(rows))


def test_explain_ranks_by_product_of_values_and_normalises() -> None:
    query = _emb([(1, 1.0, 2, 2), (2, 2.0, 10, 10), (3, 5.0, 5, 5)])
    result = _emb([(1, 3.0, 4, 4), (2, 1.0, 12, 3), (9, 9.0, 0, 0)])

    pairs = regions.explain(query, result)

    assert [p.channel for p in pairs] == [1, 2]  # 3 and 9 are not in both
    assert [p.weight for p in pairs] == pytest.approx([0.6, 0.4])
    assert pairs[0].query_xy == pytest.approx((2.5 / GRID, 2.5 / GRID), abs=1e-3)
    assert pairs[0].result_xy == pytest.approx((4.5 / GRID, 4.5 / GRID), abs=1e-3)


def test_explain_merges_pairs_within_one_cell_in_both_images() -> None:
    query = _emb([(1, 2.0, 5, 5), (2, 1.0, 6, 5), (3, 1.0, 6, 6), (4, 1.0, 12, 12)])
    # 2 is next to 1 in both images: merged. 3 is next to 1 in the query only: kept apart.
    result = _emb([(1, 2.0, 8, 8), (2, 1.0, 8, 9), (3, 1.0, 1, 1), (4, 1.0, 14, 14)])

    pairs = regions.explain(query, result)

    assert [p.channel for p in pairs] == [1, 3, 4]
    assert [p.weight for p in pairs] == pytest.approx([5 / 7, 1 / 7, 1 / 7])
    assert sum(p.weight for p in pairs) == pytest.approx(1.0)


@pytest.mark.parametrize("top", [0, 1, 3])
def test_explain_returns_at_most_top(top: int) -> None:
    rows = [(c, 1.0 + c, c % GRID, (3 * c) % GRID) for c in range(12)]
    pairs = regions.explain(_emb(rows), _emb(rows), top=top)
    assert len(pairs) == min(top, 12)
    if pairs:
        assert sum(p.weight for p in pairs) == pytest.approx(1.0)


def test_explain_without_shared_channels_is_empty() -> None:
    assert regions.explain(_emb([(1, 1.0, 0, 0)]), _emb([(2, 1.0, 0, 0)])) == []
    assert regions.explain(_emb([]), _emb([])) == []


@pytest.mark.parametrize("cells", [7, 16, 24, 32])
def test_cell_size_is_inferred_from_peak_centres(cells: int) -> None:
    rng = np.random.default_rng(cells)
    peaks = np.zeros(40, dtype=PEAK_DTYPE)
    peaks["channel"] = np.arange(40)
    peaks["value"] = 1.0
    peaks["x"] = (rng.integers(0, cells, 40) + 0.5) / cells
    peaks["y"] = (rng.integers(0, cells, 40) + 0.5) / cells
    assert regions.cell_size(peaks) == pytest.approx((1 / cells, 1 / cells))


def test_cell_size_falls_back_when_too_few_peaks() -> None:
    assert regions.cell_size(_peaks([(1, 1.0, 3, 3)])) == (
        regions.DEFAULT_CELL,
        regions.DEFAULT_CELL,
    )


@pytest.mark.parametrize(
    ("xy", "cell", "box"),
    [
        ((0.5, 0.5), 0.2, (0.4, 0.4, 0.6, 0.6)),
        ((0.0, 1.0), 0.2, (0.0, 0.8, 0.2, 1.0)),  # shifted inside, not shrunk
        ((0.95, 0.05), (0.1, 0.3), (0.9, 0.0, 1.0, 0.3)),
        ((0.5, 0.5), 2.0, (0.0, 0.0, 1.0, 1.0)),
    ],
)
def test_box_for(xy: tuple[float, float], cell: object, box: tuple[float, ...]) -> None:
    assert regions.box_for(xy, cell) == pytest.approx(box)  # type: ignore[arg-type]


def test_best_region_finds_the_cluster_of_shared_channels() -> None:
    # Query channels 0..5; the result shows them in its lower-right quarter, plus strong
    # unrelated channels (10..13) in the upper-left that the query lacks.
    query = _emb([(c, 1.0, 8, 8) for c in range(6)])
    shared = [(c, 1.0, 11 + c % 3, 11 + c // 3) for c in range(6)]
    clutter = [(10 + c, 3.0, 1 + c, 2) for c in range(4)]
    result = _emb(shared + clutter)

    box = regions.best_region(query, result, grid=GRID, min_side=0.1)

    assert box is not None
    x0, y0, x1, y1 = box
    assert 0.6 <= x0 < x1 <= 1.0 and 0.6 <= y0 < y1 <= 1.0
    for _, _, col, row in shared:  # every shared peak is inside the box
        assert x0 <= (col + 0.5) / GRID <= x1 and y0 <= (row + 0.5) / GRID <= y1


def test_best_region_respects_min_side_and_stays_tight() -> None:
    query = _emb([(1, 1.0, 0, 0)])
    result = _emb([(1, 1.0, 8, 8)])
    box = regions.best_region(query, result, grid=GRID, min_side=0.25)
    assert box is not None
    x0, y0, x1, y1 = box
    assert x1 - x0 == pytest.approx(0.25) and y1 - y0 == pytest.approx(0.25)
    assert x0 <= 8.5 / GRID <= x1 and y0 <= 8.5 / GRID <= y1


def test_best_region_prefers_dense_evidence_to_scattered_evidence() -> None:
    # Eight shared channels: five packed in the upper-left quarter, three spread elsewhere.
    cluster = [(c, 1.0, 2 + c % 3, 2 + c // 3) for c in range(5)]
    scattered = [(5, 1.0, 14, 1), (6, 1.0, 1, 14), (7, 1.0, 13, 13)]
    query = _emb([(c, 1.0, 8, 8) for c in range(8)])
    result = _emb(cluster + scattered)

    x0, y0, x1, y1 = regions.best_region(query, result, grid=GRID, min_side=0.1)

    assert x1 <= 0.5 and y1 <= 0.5  # the cluster, not a box stretched over every peak
    for _, _, col, row in cluster:
        assert x0 <= (col + 0.5) / GRID <= x1 and y0 <= (row + 0.5) / GRID <= y1


def test_best_region_without_shared_channels_is_none() -> None:
    assert regions.best_region(_emb([(1, 1.0, 0, 0)]), _emb([(2, 1.0, 0, 0)])) is None
