"""Verdict rules on synthetic evidence and synthetic local features (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from lookalike.search.metrics import verdict_scores
from lookalike.search.pair_check import PairEvidence
from lookalike.search.similar import Match
from lookalike.search.verdict import (
    SAME_PHOTO_RESIDUAL,
    SAME_PLACE_INLIERS,
    at_least,
    decide,
    fits_by_id,
    verified_matches,
)


@pytest.mark.parametrize(
    ("evidence", "verdict"),
    [
        (PairEvidence("copy", 0.9, 200, 0.9, 0.95, 0.95, residual=0.001), "same_photo"),
        # a copy within half a cell but not exact: maybe a tripod second shot, not a copy
        (PairEvidence("copy", 0.95, 200, 0.9, 0.95, 0.95, residual=SAME_PHOTO_RESIDUAL + 0.005),
         "same_place"),
        (PairEvidence("copy", 0.9, SAME_PLACE_INLIERS, 0.9, 0.9, 0.9, residual=0.0), "similar"),
        (PairEvidence("burst", 0.97, 150, 0.5, 0.8, 0.8), "same_place"),
        (PairEvidence(None, 0.7, SAME_PLACE_INLIERS + 1, 0.2), "same_place"),
        (PairEvidence(None, 0.7, SAME_PLACE_INLIERS), "similar"),  # at chance: not verified
        (PairEvidence(None, 0.99), "similar"),  # a high cosine alone verifies nothing
    ],
)
def test_decide(evidence: PairEvidence, verdict: str) -> None:
    assert decide(evidence) == verdict


def test_at_least_orders_the_verdicts() -> None:
    assert at_least("same_photo", "same_place") and at_least("same_place", "same_place")
    assert not at_least("similar", "same_place") and at_least("similar", "similar")


def _grid(rng: np.random.Generator, n: int = 16, dim: int = 16) -> npt.NDArray[np.float32]:
    """(n*n, 2 + dim) locals on a regular grid (stride 1/n of the long side), random codes."""
    xs = (np.arange(n) + 0.5) / n
    xy = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    codes = rng.standard_normal((n * n, dim))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    return np.concatenate([xy, codes], axis=1).astype(np.float32)


def _match(photo_id: int, score: float) -> Match:
    return Match(photo_id, Path(f"/p/{photo_id}.jpg"), score, photo_id)


def test_verified_matches_tell_a_copy_a_shot_and_an_unrelated_photo_apart() -> None:
    rng = np.random.default_rng(0)
    query = _grid(rng)
    copy = query.copy()
    copy[:, 2:] += 0.05 * rng.standard_normal(copy[:, 2:].shape).astype(np.float32)
    shot = query.copy()  # the same codes, but a third of them moved: parallax, another view
    moved = rng.random(len(shot)) < 0.3
    shot[moved, :2] = rng.random((int(moved.sum()), 2)).astype(np.float32)
    shot[~moved, :2] += rng.normal(0, 0.012, (int((~moved).sum()), 2)).astype(np.float32)
    other = _grid(rng)
    matches = [_match(1, 0.5), _match(2, 0.6), _match(3, 0.7)]
    cosines = {1: 0.97, 2: 0.88, 3: 0.4}
    found = verified_matches(matches, query, {1: copy, 2: shot, 3: other}, cosines, top=3)
    verdicts = {m.photo_id: (m.verdict, m.inliers) for m in found}
    assert verdicts[1][0] == "same_photo" and verdicts[1][1] > 200
    assert verdicts[2][0] == "same_place" and verdicts[2][1] > SAME_PLACE_INLIERS
    assert verdicts[3][0] == "similar" and verdicts[3][1] <= SAME_PLACE_INLIERS
    assert [m.rank for m in found] == [1, 2, 3]
    assert found[-1].photo_id == 3  # the verified photos were boosted above it


def test_verdict_scores_count_positives_over_the_shortlist() -> None:
    def m(j: int, verdict: str) -> Match:
        return Match(j, Path("x"), 1.0, 1, 20, verdict)  # type: ignore[arg-type]

    rankings = [[m(1, "same_photo"), m(2, "same_place"), m(3, "same_place"), m(4, "similar")],
                [], [], [], []]  # fmt: skip
    place = [0, 0, 0, 1, 0]  # image 2: another shot of the query's place; 4: missed by verdicts
    photo = [0, 0, -1, 1, -1]
    s = verdict_scores(rankings, place, photo, depth=50)
    assert (s.same_place_precision, s.same_place_recall) == (round(2 / 3, 4), round(2 / 3, 4))
    assert (s.same_photo_precision, s.same_photo_recall) == (1.0, 1.0)
    cut = verdict_scores(rankings, place, photo, depth=1)
    assert cut.same_place_recall == 1.0


def test_a_suspect_the_cells_cannot_fit_is_aligned_on_the_pixels_and_ranks_first(
        tmp_path: Path) -> None:  # fmt: skip
    from PIL import Image
    from tests.unit.search.test_copy_pixels import _shot, _texture

    from lookalike.search.copy_check import SUSPECT_COSINE, CopyPixels, QueryImage

    rgb = _texture(21)
    Image.fromarray(rgb).save(tmp_path / "query.png")
    crop = Image.fromarray(rgb).crop((120, 60, 700, 540)).rotate(270, expand=True)
    crop.save(tmp_path / "turned_crop.jpg", quality=85)  # turned and cropped, no EXIF
    _shot(rgb, 0.05).save(tmp_path / "shot.jpg", quality=90)
    files = {1: tmp_path / "turned_crop.jpg", 2: tmp_path / "shot.jpg",
             3: tmp_path / "turned_crop.jpg"}  # fmt: skip
    rng = np.random.default_rng(3)
    query = _grid(rng)  # unrelated cells: nothing the cells could fit
    locals_ = {i: _grid(rng) for i in files}
    cosines = {1: SUSPECT_COSINE + 0.01, 2: 0.9, 3: SUSPECT_COSINE - 0.01}
    matches = [_match(2, 0.9), _match(1, SUSPECT_COSINE + 0.01), _match(3, 0.5)]
    pixels = CopyPixels(QueryImage(tmp_path / "query.png"), files.get)
    found = verified_matches(matches, query, locals_, cosines, top=3, pixels=pixels)
    assert [(m.photo_id, m.verdict) for m in found] == [
        (1, "same_photo"), (2, "similar"), (3, "similar")]  # 3: below chance, never aligned


def test_fits_computed_ahead_give_the_same_ranking() -> None:
    """The pipeline computes the shortlist's fits while DBA reorders it
    (``fits_by_id``); the verdicts, inliers and scores are those of fitting in place."""
    rng = np.random.default_rng(1)
    query = _grid(rng)
    near = query.copy()
    near[:, 2:] += 0.05 * rng.standard_normal(near[:, 2:].shape).astype(np.float32)
    shot = query.copy()
    shot[::3, :2] = rng.random((len(shot[::3]), 2)).astype(np.float32)
    locals_ = {1: near, 2: shot, 3: _grid(rng), 4: _grid(rng)}
    matches = [_match(4, 0.8), _match(2, 0.7), _match(1, 0.6), _match(3, 0.5), _match(5, 0.4)]
    cosines = {m.photo_id: m.score for m in matches}
    ahead = fits_by_id(query, [3, 1, 5, 2, 4], locals_)  # another order: DBA reordered them
    assert ahead[5] is None and ahead[1] is not None
    plain = verified_matches(matches, query, locals_, cosines, top=5)
    given = verified_matches(matches, query, locals_, cosines, top=5, fits=ahead)
    assert given == plain
    partial = {k: v for k, v in ahead.items() if k != 2}  # one missing: fitted in place
    assert verified_matches(matches, query, locals_, cosines, top=5, fits=partial) == plain
