"""The batched pair check gives the pair check's decisions (``check_locals``), pair for pair."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from lookalike.search import pair_batch
from lookalike.search.pair_batch import LocalsTable, check_batch, check_batch_fits
from lookalike.search.pair_check import PairEvidence, check_locals
from lookalike.types import locals_from_bytes, locals_to_bytes

DIM = 16


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = rng.standard_normal((n, DIM))
    return codes / np.linalg.norm(codes, axis=1, keepdims=True)


def _view(rng: np.random.Generator, xy: np.ndarray, codes: np.ndarray, keep: float,
          turn: float = 0.0, scale: float = 1.0, jitter: float = 0.002,
          own: int = 40) -> np.ndarray:  # fmt: skip
    """A photo of a scene: a share of its features through a similarity map, plus its own."""
    shown = rng.random(len(xy)) < keep
    c, s = np.cos(turn) * scale, np.sin(turn) * scale
    moved = (xy[shown] - 0.5) @ np.array([[c, s], [-s, c]]) + 0.5
    moved += rng.normal(0.0, jitter, moved.shape)
    noisy = codes[shown] + rng.normal(0.0, 0.05, codes[shown].shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    xy_all = np.concatenate([moved, rng.uniform(0, 1, (own, 2))])
    codes_all = np.concatenate([noisy, _codes(rng, own)])
    return np.concatenate([np.clip(xy_all, 0, 1), codes_all], axis=1).astype(np.float16)


def _library(seed: int = 0) -> dict[int, np.ndarray]:
    """Photos of three scenes: copies (exact, turned a quarter, cropped), other shots of the
    same scene (other parts, other framing), photos with few or no features, unrelated ones;
    every photo stored and read back as the catalog does (int8 codes)."""
    rng = np.random.default_rng(seed)
    photos: dict[int, np.ndarray] = {}
    for scene in range(3):
        xy = rng.uniform(0.1, 0.9, (150, 2))
        codes = _codes(rng, 150)
        base = 100 * scene
        photos[base] = _view(rng, xy, codes, 0.9, own=10)
        photos[base + 1] = photos[base].copy()  # an exact copy
        turned = photos[base].astype(np.float32).copy()
        turned[:, :2] = np.stack([turned[:, 1], 1.0 - turned[:, 0]], axis=1)  # a quarter turn
        photos[base + 2] = turned.astype(np.float16)
        crop = photos[base][photos[base][:, 0].astype(np.float32) < 0.6].astype(np.float32)
        crop[:, :2] /= 0.6  # the left 60 %, enlarged
        photos[base + 3] = np.clip(crop, -1, 1).astype(np.float16)
        for shot in range(4, 12):  # other shots: other parts, framing, parallax
            photos[base + shot] = _view(rng, xy, codes, rng.uniform(0.2, 0.9),
                                        turn=rng.uniform(-0.3, 0.3), scale=rng.uniform(0.8, 1.25),
                                        jitter=rng.uniform(0.002, 0.03))  # fmt: skip
    photos[900] = _view(rng, rng.uniform(0, 1, (100, 2)), _codes(rng, 100), 1.0)  # unrelated
    photos[901] = photos[0][:2].copy()  # two cells: never checked
    photos[902] = photos[0][:60].copy()  # fewer cells than the others
    return {i: locals_from_bytes(locals_to_bytes(p)) for i, p in photos.items()}


def _same(a: PairEvidence, b: PairEvidence) -> bool:
    fields = ("ratio", "coverage_a", "coverage_b", "scale", "residual")
    return (a.kind, a.inliers, a.turns) == (b.kind, b.inliers, b.turns) and all(
        getattr(a, f) == pytest.approx(getattr(b, f), rel=1e-6, abs=1e-9) for f in fields)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_pair_gets_the_pair_checks_evidence(seed: int) -> None:
    photos = _library(seed)
    ids = sorted(photos)
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    rng = np.random.default_rng(seed)
    cosines = rng.uniform(0.75, 1.0, len(pairs)).tolist()
    table = LocalsTable.from_blobs({i: locals_to_bytes(p) for i, p in photos.items()})
    got = check_batch(table, [a for a, _ in pairs], [b for _, b in pairs], cosines)
    want = [check_locals(photos[a].astype(np.float32), photos[b].astype(np.float32), c)
            for (a, b), c in zip(pairs, cosines, strict=True)]  # fmt: skip
    kinds = {w.kind for w in want}
    assert {"copy", None} <= kinds and len(pairs) > 2 * pair_batch.BATCH
    differ = [(p, w, g) for p, w, g in zip(pairs, want, got, strict=True) if not _same(w, g)]
    assert differ == []


def test_missing_and_unreadable_photos_make_no_edge(caplog: pytest.LogCaptureFixture) -> None:
    photos = _library()
    blobs = {0: locals_to_bytes(photos[0]), 1: locals_to_bytes(photos[1]), 5: b"\x01\x00"}
    with caplog.at_level(logging.WARNING, logger="lookalike.search.pair_batch"):
        table = LocalsTable.from_blobs(blobs)
    assert set(table.rows) == {0, 1}
    assert "photo 5: unreadable local features" in caplog.text
    found = check_batch(table, [0, 0, 1], [1, 5, 7], [0.99, 0.99, 0.99])
    assert [f.kind for f in found] == ["copy", None, None]
    assert [f.cosine for f in found] == [0.99, 0.99, 0.99]


def test_older_float16_rows_and_mixed_sizes_decode_like_the_catalog() -> None:
    photos = _library()
    legacy = photos[4].astype(np.float16)
    header = np.asarray([legacy.shape[1]], "<u4").tobytes()
    blobs = {4: header + legacy.astype("<f2").tobytes(), 0: locals_to_bytes(photos[0]),
             902: locals_to_bytes(photos[902])}  # fmt: skip
    table = LocalsTable.from_blobs(blobs)
    for photo_id, blob in blobs.items():
        row, want = table.rows[photo_id], locals_from_bytes(blob)
        k = int(table.count[row])
        assert k == len(want)
        assert np.array_equal(table.xy[row, :k], want[:, :2].astype(np.float32))
        assert np.array_equal(table.codes[row, :k], want[:, 2:])
        assert not table.codes[row, k:].any()  # padding: zero codes, never a match


def test_fits_carry_the_map_the_pixel_test_refines() -> None:
    photos = _library()
    table = LocalsTable.from_blobs({i: locals_to_bytes(p) for i, p in photos.items()})
    (copy, copy_map), (turned, turned_map), (none, none_map) = check_batch_fits(
        table, [0, 0, 0], [1, 2, 900], [0.99, 0.9, 0.8])
    assert copy.kind == "copy" and copy_map is not None
    assert np.allclose(copy_map, [[1, 0], [0, 1], [0, 0]], atol=0.01)  # an exact copy
    assert turned.kind == "copy" and turned.turns == 3 and turned_map is not None
    xy = photos[0][:5, :2].astype(np.float64)
    moved = np.concatenate([xy, np.ones((5, 1))], axis=1) @ turned_map
    assert np.allclose(moved, photos[2][:5, :2].astype(np.float64), atol=0.01)
    assert none.kind is None and none_map is None  # unrelated: no fit above chance
    assert [e for e, _ in check_batch_fits(table, [0], [1], [0.99])] == check_batch(
        table, [0], [1], [0.99])
