"""The match view's lines between matching points (spatial-verification inliers)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel
from tests.fakes import FakeEmbedder, write_photo

from lookalike.gui.match_view import (
    MAX_INLIER_LINES,
    DecodedCache,
    MatchDetail,
    MatchView,
    load_detail,
    long_side_to_fractions,
)
from lookalike.gui.results_model import PhotoItem
from lookalike.library import Explanation, SearchOptions
from lookalike.search.explanation import explain
from lookalike.search.similar import Verdict
from lookalike.types import Embedding


@pytest.mark.parametrize(
    ("width", "height", "xy", "fractions"),
    [
        # landscape 400×200: x is already a fraction, y runs to 0.5
        (400, 200, [(0.0, 0.0), (1.0, 0.5), (0.5, 0.25)], [(0, 0), (1, 1), (0.5, 0.5)]),
        # portrait 300×600: y is already a fraction, x runs to 0.5
        (300, 600, [(0.0, 0.0), (0.5, 1.0), (0.125, 0.75)], [(0, 0), (1, 1), (0.25, 0.75)]),
        # square: nothing changes
        (256, 256, [(0.3, 0.7)], [(0.3, 0.7)]),
    ],
)
def test_long_side_units_become_fractions_of_width_and_height(
    width: int, height: int, xy: list[tuple[float, float]], fractions: list[tuple[float, float]]
) -> None:
    out = long_side_to_fractions(np.asarray(xy, np.float32), width, height)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, fractions, atol=1e-6)


def _image(width: int, height: int) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor("#303030"))
    return image


def _detail(inliers: tuple[np.ndarray, np.ndarray] | None) -> MatchDetail:
    from lookalike.search.rerank import CHANCE_INLIERS

    item = PhotoItem(7, Path("/photos/result.jpg"), score=0.8, rank=2)
    q_xy, r_xy = inliers if inliers is not None else (None, None)
    n = 0 if q_xy is None else len(q_xy)
    explained = Explanation(7, item.path, (), None, q_xy, r_xy, n, n > CHANCE_INLIERS)
    return MatchDetail(item, _image(300, 600), explained)


def _view(qtbot: object) -> MatchView:
    view = MatchView()
    qtbot.addWidget(view)  # type: ignore[attr-defined]
    view.resize(900, 500)
    view.set_query(_image(400, 200))  # landscape query, portrait result
    view.show()
    return view


def test_matching_points_are_joined_across_the_two_photos(qtbot: object) -> None:
    view = _view(qtbot)
    n = MAX_INLIER_LINES + 20
    rng = np.random.default_rng(0)
    query_xy = (rng.random((n, 2)) * [1.0, 0.5]).astype(np.float32)  # long-side units
    result_xy = (rng.random((n, 2)) * [0.5, 1.0]).astype(np.float32)
    query_xy[0], result_xy[0] = (0.5, 0.25), (0.25, 0.5)  # the centres of the two photos
    view.show_detail(_detail((query_xy, result_xy)))
    assert f"{n} matching points" in _title(view)

    lines = view.point_lines()
    assert len(lines) == MAX_INLIER_LINES  # the best ones only
    left, right = view.query_canvas, view.result_canvas
    start, end = lines[0]
    centre_left = left.mapTo(left.parentWidget(), left.image_rect().center())
    centre_right = right.mapTo(right.parentWidget(), right.image_rect().center())
    assert (start - centre_left).manhattanLength() < 1e-3
    assert (end - centre_right).manhattanLength() < 1e-3
    left_box = left.geometry().toRectF()
    right_box = right.geometry().toRectF()
    assert all(left_box.contains(a) and right_box.contains(b) for a, b in lines)

    hidden = view.grab().toImage()
    view.set_lines_visible(True)
    shown = view.grab().toImage()
    assert _lime_pixels(shown, view) > 20 and _lime_pixels(hidden, view) == 0


def _title(view: MatchView) -> str:
    label = view.findChild(QLabel, "panelTitle")
    assert label is not None
    return label.text()


def _lime_pixels(image: QImage, view: MatchView) -> int:
    """Pixels of (roughly) the line colour, lime, in the gap between the two photos."""
    left, right = view.query_canvas, view.result_canvas
    x0 = left.mapTo(view, left.image_rect().topRight()).x() + 1
    x1 = right.mapTo(view, right.image_rect().topLeft()).x() - 1
    count = 0
    for x in range(int(x0), int(x1)):
        for y in range(image.height()):
            c = image.pixelColor(x, y)
            count += c.green() > 150 and c.green() - c.blue() > 60 and c.red() > 120
    return count


def test_no_more_points_than_chance_are_not_called_a_match(qtbot: object) -> None:
    from lookalike.search.rerank import CHANCE_INLIERS

    view = _view(qtbot)
    view.set_lines_visible(True)
    for n, claimed in ((CHANCE_INLIERS, False), (CHANCE_INLIERS + 1, True)):
        xy = np.full((n, 2), 0.25, np.float32)
        view.show_detail(_detail((xy, xy)))
        assert (f"{n} matching points" in _title(view)) is claimed
        assert ("no matching layout" in _title(view)) is not claimed
        assert len(view.point_lines()) == (n if claimed else 0)


def test_without_local_features_only_the_boxes_remain(qtbot: object) -> None:
    view = _view(qtbot)
    view.set_lines_visible(True)
    view.show_detail(_detail(None))
    assert view.point_lines() == []
    assert "matching point" not in _title(view)
    assert _lime_pixels(view.grab().toImage(), view) == 0
    view.set_query(None)  # no query photo: still nothing to join, nothing breaks
    assert view.point_lines() == []
    view.clear()
    assert view.point_lines() == []


class _Library:
    """Explains with the real function, from a fixed stored embedding."""

    def __init__(self, embedding: Embedding) -> None:
        self._embedding = embedding

    def explain(self, query: Embedding, photo_id: int, options: SearchOptions,
                verdict: Verdict | None = None) -> Explanation:  # fmt: skip
        return explain(query, self._embedding, photo_id, Path("r.png"), options.rerank_params,
                       verdict=verdict)  # fmt: skip


def test_load_detail_adds_matching_points_only_when_both_photos_have_locals(
    tmp_path: Path,
) -> None:
    photo = write_photo(tmp_path / "r.png", 3, size=(120, 160))
    plain = FakeEmbedder().embed_file(photo)
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((30, 16))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    xy = rng.random((30, 2)) * [0.75, 1.0]
    locals_ = np.concatenate([xy, codes], axis=1).astype(np.float16)
    with_locals = dataclasses.replace(plain, locals=locals_)
    item, cache = PhotoItem(1, photo), DecodedCache()

    def explained(stored: Embedding, query: Embedding) -> Explanation:
        found = load_detail(_Library(stored), query, item, cache).explanation
        assert found is not None
        return found

    assert explained(plain, with_locals).query_points is None
    assert explained(with_locals, plain).query_points is None
    detail = explained(with_locals, with_locals)
    q_xy, r_xy = detail.query_points, detail.result_points
    assert q_xy is not None and r_xy is not None
    assert len(q_xy) == len(r_xy) == detail.inliers == 30  # the same photo: all points match
    assert detail.is_match
    np.testing.assert_allclose(q_xy, r_xy)
