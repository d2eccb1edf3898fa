"""XFeat with the real ``models/xfeat.onnx``: a photo and its turned, cropped copy verify as the
same photo; a different scene does not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lookalike import paths
from lookalike.embed.xfeat import XFeatExtractor, nms, prepare
from lookalike.search.verify import Points, Verdict, undo_dihedral, verify, verify_variants

pytestmark = pytest.mark.integration


def _scene(seed: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """Rectangles, ellipses and lines on a plain background: corners for keypoints."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(8, 90, 2))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        shape = (draw.rectangle, draw.ellipse, draw.line)[int(rng.integers(0, 3))]
        shape([x0, y0, x0 + w, y0 + h], fill=colour)
    return np.asarray(img)


@pytest.fixture(scope="module")
def extractor() -> XFeatExtractor:
    return XFeatExtractor(paths.models_dir() / "xfeat.onnx", threads=1)


def _points(extractor: XFeatExtractor, rgb: np.ndarray, k: int = 0) -> Points:
    turned = np.ascontiguousarray(np.rot90(rgb, k))
    feats = extractor.extract(turned, 640, 512)
    size = (rgb.shape[1], rgb.shape[0])
    return Points(undo_dihedral(feats.xy, size, k) if k else feats.xy, feats.descriptors, size)


def test_features_are_in_source_pixels_and_sorted(extractor: XFeatExtractor) -> None:
    rgb = _scene(0, (900, 500))
    feats = extractor.extract(rgb, 448, 300)
    assert 100 < len(feats.xy) <= 300
    assert feats.descriptors.shape == (len(feats.xy), 64)
    np.testing.assert_allclose(np.linalg.norm(feats.descriptors, axis=1), 1.0, atol=1e-5)
    assert (np.diff(feats.scores) <= 0).all()
    assert feats.xy[:, 0].max() > 600  # scaled back from the 448-px input to 900 px
    assert (feats.xy >= 0).all() and (feats.xy[:, 0] < 900).all() and (feats.xy[:, 1] < 500).all()


def test_tiny_photo_is_padded_not_fatal(extractor: XFeatExtractor) -> None:
    rgb = _scene(1, (284, 25))
    # 284 px rounded down to 256, 25 px up to 32, then padded to 64
    assert prepare(rgb, 1024).image.shape[2:] == (64, 256)
    feats = extractor.extract(rgb, 1024, 100)
    assert (feats.xy[:, 1] < 25).all()


def test_nms_keeps_local_maxima_above_threshold() -> None:
    heat = np.zeros((10, 10), np.float32)
    heat[2, 3], heat[2, 4], heat[7, 7], heat[0, 9] = 0.5, 0.4, 0.2, 0.01
    assert nms(heat).tolist() == [[3, 2], [7, 7]]


def test_turned_cropped_copy_is_the_same_photo(extractor: XFeatExtractor) -> None:
    rgb = _scene(2)
    copy = np.ascontiguousarray(np.rot90(rgb[60:420, 100:560], -1))  # crop, turned clockwise
    w, h = copy.shape[1] * 3 // 4, copy.shape[0] * 3 // 4
    small = np.asarray(Image.fromarray(copy).resize((w, h), Image.Resampling.LANCZOS))
    candidate = _points(extractor, small)
    plain = verify(_points(extractor, rgb), candidate)
    assert plain.verdict is not Verdict.SAME_PHOTO  # descriptors are not rotation invariant
    variants = [_points(extractor, rgb, k) for k in range(4)]
    evidence = verify_variants(variants, candidate)
    assert evidence.verdict is Verdict.SAME_PHOTO, evidence
    assert evidence.variant == 3 and not evidence.mirrored  # the query turned clockwise
    assert evidence.turn_error_deg < 1.0
    other = verify_variants(variants, _points(extractor, _scene(3)))
    assert other.verdict is Verdict.SIMILAR
