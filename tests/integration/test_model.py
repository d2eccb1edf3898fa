"""The shipped ONNX R-MAC models, run for real with onnxruntime."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from PIL import Image

from lookalike import paths
from lookalike.embed.model import Embedder, input_size, make_peaks
from lookalike.embed.presets import PRESETS
from lookalike.embed.rmac import region_grid, rmac
from lookalike.embed.session import ModelInfo
from lookalike.errors import ModelMissing, UnreadablePhoto
from lookalike.types import PEAK_DTYPE

pytestmark = pytest.mark.integration


def whitening_of(model_path):
    """(shift, proj) baked into the graph, read back from its initializers."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(model_path)).graph.initializer}
    proj, bias = init["whiten_w"], init["whiten_b"]
    shift = np.linalg.lstsq(proj, -bias, rcond=None)[0].astype(np.float32)
    return shift, proj


@pytest.fixture(scope="module")
def lite0():
    return Embedder(paths.models_dir() / "rmac_lite0.onnx", scales=(256,), threads=1)


@pytest.mark.parametrize("name", sorted({p.model_file for p in PRESETS.values()}))
def test_shipped_model_metadata_is_complete(name):
    info = ModelInfo.from_onnx(paths.models_dir() / name)
    assert info.stride == 32 and info.size_multiple == 32 and info.levels == 3
    assert info.dim > 0 and info.channels > 0 and len(info.sha256) == 64
    assert len(info.mean) == 3 and len(info.std) == 3


@pytest.mark.parametrize(("height", "width"), [(256, 192), (192, 320), (96, 64)])
def test_onnx_descriptor_equals_the_numpy_reference(lite0, height, width):
    rng = np.random.default_rng(height * width)
    x = rng.normal(0, 0.6, (1, 3, height, width)).astype(np.float32)
    desc, fmap = lite0.run(x, ("descriptor", "features"))
    shift, proj = whitening_of(lite0.info.path)
    ref = rmac(fmap[0], region_grid(height // 32, width // 32, lite0.info.levels), shift, proj)
    np.testing.assert_allclose(desc[0], ref, atol=1e-4)
    assert np.isclose(np.linalg.norm(desc[0]), 1.0, atol=1e-5)


def test_mac_and_argmax_outputs_agree_with_the_feature_map(lite0):
    x = np.random.default_rng(3).normal(0, 0.6, (1, 3, 128, 160)).astype(np.float32)
    mac, argmax, fmap = lite0.run(x, ("mac", "argmax", "features"))
    flat = fmap[0].reshape(fmap.shape[1], -1)
    np.testing.assert_allclose(mac[0], flat.max(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(argmax[0], flat.argmax(axis=1))


def _scene(seed: int, size=(480, 360)) -> np.ndarray:
    """A colourful synthetic 'scene' with structure a CNN responds to."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x0, y0 = rng.integers(0, size[0]), rng.integers(0, size[1])
        w, h = rng.integers(10, 120, 2)
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
    return np.asarray(img)


def test_a_crop_of_a_scene_is_closer_to_it_than_other_scenes(lite0):
    scenes = [_scene(s) for s in range(4)]
    vecs = [lite0.embed_rgb(s).vector for s in scenes]
    crop = scenes[0][30:330, 40:440]
    q = lite0.embed_rgb(np.ascontiguousarray(crop)).vector
    sims = [float(q @ v) for v in vecs]
    assert int(np.argmax(sims)) == 0, sims


def test_small_photos_are_never_upscaled():
    assert input_size(200, 150, 1024, 32) == (192, 128)
    assert input_size(4032, 3024, 1024, 32) == (1024, 768)
    assert input_size(3024, 4032, 768, 32) == (576, 768)
    assert input_size(10, 10, 1024, 32) == (32, 32)


def test_embedding_has_unit_vector_and_peaks_inside_the_image(lite0):
    emb = lite0.embed_rgb(_scene(7))
    assert emb.vector.shape == (lite0.dim,) and emb.vector.dtype == np.float32
    assert np.isclose(np.linalg.norm(emb.vector), 1.0, atol=1e-5)
    assert emb.peaks.dtype == PEAK_DTYPE and 0 < len(emb.peaks) <= lite0.info.channels
    assert (emb.peaks["x"] > 0).all() and (emb.peaks["x"] < 1).all()
    assert (emb.peaks["y"] > 0).all() and (emb.peaks["y"] < 1).all()


def test_make_peaks_keeps_the_strongest_channels_with_cell_centres():
    mac = np.array([0.1, 5.0, 0.0, 3.0], np.float32)
    argmax = np.array([0, 5, 0, 2], np.int64)  # on a 2 x 3 map
    peaks = make_peaks(mac, argmax, fh=2, fw=3, top=2)
    assert peaks["channel"].tolist() == [1, 3]
    np.testing.assert_allclose(peaks["x"], [2.5 / 3, 2.5 / 3], atol=1e-3)
    np.testing.assert_allclose(peaks["y"], [0.75, 0.25], atol=1e-3)


def test_embed_files_reports_unreadable_files_in_order(lite0, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_scene(1)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    results = list(lite0.embed_files([good, bad, good]))
    assert [p for p, _ in results] == [good, bad, good]
    assert isinstance(results[1][1], UnreadablePhoto) and results[1][1].reason
    np.testing.assert_allclose(results[0][1].vector, results[2][1].vector, atol=1e-6)


def test_parallel_workers_give_the_same_vectors_in_input_order(tmp_path):
    photos = []
    for i in range(5):
        photos.append(tmp_path / f"{i}.png")
        Image.fromarray(_scene(i)).save(photos[-1])
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    order = [photos[0], bad, *photos[1:]]
    model = paths.models_dir() / "rmac_lite0.onnx"
    serial = Embedder(model, scales=(256,), threads=1)
    parallel = Embedder(model, scales=(256,), threads=2, workers=3)
    assert serial.batch_session() is serial._session
    assert parallel.batch_session() is not parallel._session  # one intra-op thread per photo
    a, b = list(serial.embed_files(order)), list(parallel.embed_files(order))
    assert [p for p, _ in b] == order
    assert isinstance(b[1][1], UnreadablePhoto)
    for (_, x), (_, y) in zip(a, b, strict=True):
        if not isinstance(x, UnreadablePhoto):
            np.testing.assert_allclose(x.vector, y.vector, atol=1e-5)


def test_sizes_one_cell_off_the_stride_are_cropped_not_resampled():
    embedder = Embedder(paths.models_dir() / "rmac_lite0.onnx", scales=(1024,), threads=1)
    rgb = np.random.default_rng(0).integers(0, 256, (756, 1008, 3), dtype=np.uint8)
    (x,) = embedder.tensors(rgb)
    assert x.shape == (1, 3, 736, 992)
    # centre crop: the pixel at (10, 8) of the photo is the tensor's first, normalised
    expected = (rgb[10, 8].astype(np.float32) - embedder._mean) * embedder._inv_std
    np.testing.assert_allclose(x[0, :, 0, 0], expected, rtol=1e-6)
    (y,) = embedder.tensors(rgb[:, :670])  # 670 -> 640 is 4.5 %: resampled, not cropped
    assert y.shape == (1, 3, 736, 640)
    cropped = (rgb[10, 15].astype(np.float32) - embedder._mean) * embedder._inv_std
    assert not np.allclose(y[0, :, 0, 0], cropped)


def test_missing_or_foreign_model_is_a_known_error(tmp_path):
    with pytest.raises(ModelMissing):
        Embedder(tmp_path / "nope.onnx", scales=(256,))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelMissing):
        Embedder(junk, scales=(256,))
    with pytest.raises(ModelMissing):
        Embedder.from_preset("ultra")


def test_local_features_are_only_computed_when_asked(lite0):
    assert lite0.embed_rgb(_scene(5)).locals is None
    with_locals = Embedder(lite0.info.path, scales=(256,), threads=1, local_features=True)
    assert with_locals.embed_rgb(_scene(5)).locals is not None


def test_tensors_collapse_scales_above_a_small_photos_size():
    embedder = Embedder(paths.models_dir() / "rmac_lite0.onnx", scales=(1024, 768, 512), threads=1)
    small = _scene(3, size=(400, 300))
    assert [x.shape for x in embedder.tensors(small)] == [(1, 3, 288, 384)]
    big = np.zeros((1200, 1600, 3), np.uint8)
    assert [x.shape[2:] for x in embedder.tensors(big)] == [(768, 1024), (576, 768), (384, 512)]


def test_positions_of_a_cropped_input_are_on_the_whole_image():
    embedder = Embedder(
        paths.models_dir() / "rmac_lite0.onnx", scales=(1024,), threads=1, local_features=True
    )
    rgb = np.asarray(Image.fromarray(_scene(3)).resize((1008, 756)))  # cropped to 992 x 736
    raw = embedder.embed_tensors(embedder.tensors(rgb))  # positions on the crop
    whole = embedder.embed_rgb(rgb)  # positions on the image
    np.testing.assert_allclose(whole.peaks["x"], (8 + raw.peaks["x"] * 992) / 1008, rtol=1e-5)
    np.testing.assert_allclose(whole.peaks["y"], (10 + raw.peaks["y"] * 736) / 756, rtol=1e-5)
    assert raw.locals is not None and whole.locals is not None
    expect = (raw.locals[:, :2].astype(np.float32) * 992 + [8, 10]) / 1008
    np.testing.assert_allclose(whole.locals[:, :2].astype(np.float32), expect, atol=2e-3)
    np.testing.assert_array_equal(whole.locals[:, 2:], raw.locals[:, 2:])
    np.testing.assert_array_equal(whole.vector, raw.vector)


def test_threads_change_without_a_restart(tmp_path):
    """``Library.set_threads`` rebuilds the embedder's sessions: the next batch runs on them,
    with the same vectors."""
    from tests.fakes import write_library

    from lookalike.library import Library

    emb = Embedder(paths.models_dir() / "rmac_lite0.onnx", scales=(256,), threads=2)
    assert emb.batch_session() is not emb._session  # 2 workers, one thread each
    photos = write_library(tmp_path / "photos", 4)
    rgb = np.asarray(Image.open(photos[0]).convert("RGB"))
    before = emb.embed_rgb(rgb).vector
    with Library.open(tmp_path / "home", emb) as library:
        library.add_root(tmp_path / "photos")
        assert list(library.sync())[-1].phase == "done"
        assert library.set_threads(1) is True
        assert library.set_threads(1) is False  # already so
        assert emb._session.get_session_options().intra_op_num_threads == 1
        assert emb.batch_session() is emb._session  # the next batch: one worker, new session
        write_library(tmp_path / "photos", 2, first_seed=50)
        assert list(library.sync())[-1].phase == "done"
        assert library.status().indexed == 6
    np.testing.assert_allclose(emb.embed_rgb(rgb).vector, before, atol=1e-5)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_release_memory_frees_the_arena_and_keeps_the_vectors():
    model = paths.models_dir() / PRESETS["balanced"].model_file
    embedder = Embedder(model, scales=(1024,), threads=1, local_features=True)
    rgb = np.repeat(np.repeat(_scene(3), 8, axis=0), 8, axis=1)[:768, :1024]
    start = _rss_mib()
    before = embedder.embed_rgb(rgb)
    grown = _rss_mib()
    embedder.release_memory()
    released = _rss_mib()
    after = embedder.embed_rgb(rgb)
    np.testing.assert_allclose(before.vector, after.vector, atol=1e-5)
    if sys.platform.startswith("linux"):  # /proc: a 1024 x 768 run grows the arena ~70 MB
        assert grown - start > 30, (start, grown)
        assert grown - released > 0.4 * (grown - start), (start, grown, released)
