"""Static int8 quantization of the Lite2 R-MAC model's trunk (onnxruntime, QDQ).

Dev tooling (onnx + onnxruntime only; no torch). One command re-creates the shipped file::

    pip download --no-deps scikit-image==0.26.0 scikit-learn==1.9.1 matplotlib==3.11.2 \\
        -d /tmp/wheels
    mkdir -p /tmp/wphotos && for w in /tmp/wheels/*.whl; do unzip -j -o -q "$w" \\
        'skimage/data/*.png' 'skimage/data/*.jpg' 'sklearn/datasets/images/*.jpg' \\
        'matplotlib/mpl-data/sample_data/*.jpg' 'matplotlib/mpl-data/sample_data/*.png' \\
        -d /tmp/wphotos; done
    python models/export/quantize_int8.py                  # → models/rmac_lite2_int8.onnx

``models/export/int8_study.py`` compares the calibration methods and measures each layer's
sensitivity on photos held apart from the calibration (``HELD_OUT``).

Recipe: ``quant_pre_process(skip_symbolic_shape=True)``, then ``quantize_static`` in QDQ format
with per-channel symmetric int8 weights and asymmetric uint8 activations. Only the trunk's
``Conv``, ``Clip`` (ReLU6) and ``Add`` nodes are quantized (``nodes_to_quantize``); the R-MAC
head (region pooling, L2, whitening, sum), ``mac``/``argmax`` and the ``features``/
``fine_features`` outputs stay float, and so do the layers in ``KEEP_FLOAT`` (the most
sensitive ones, measured by ``int8_study.py --sensitivity``).

Calibration: one pass of the float model over every view records each activation's histogram
(2,048 bins, widened as needed, of every 8th value) and its per-view minimum and maximum; every
method's ranges come from those statistics (``ranges``), written as onnxruntime's calibration
cache, so comparing methods or float layers costs no further pass. Views: the sample photos shipped
inside the scikit-image, scikit-learn and matplotlib wheels (never a bench photo) minus
``HELD_OUT``, each turned into ``--views`` views (the photo, its mirror image, random crops of
40-90 % of each side with brightness/contrast/colour jitter) at a long side drawn from 512-1024
px, rounded to the model's size multiple and normalised as the app does. Deterministic for the
same photos, seed, Pillow and onnxruntime versions.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import pickle
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from PIL import Image, ImageEnhance, ImageOps

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "desktop"))

from lookalike.embed.rmac import region_grid  # noqa: E402

SOURCE = REPO / "models" / "rmac_lite2.onnx"
OUT = REPO / "models" / "rmac_lite2_int8.onnx"
PHOTOS = Path("/tmp/wphotos")
CACHE = Path(tempfile.gettempdir()) / "lookalike-int8"
MEAN, STD, MULTIPLE, STRIDE, LEVELS = 127.0, 128.0, 32, 32, 3
SIDES = (512, 640, 768, 896, 1024)
HELD_OUT = ("astronaut", "chelsea", "china", "coffee", "grace_hopper", "rocket")
"""Six of the sample photos never used for calibration: the set on which methods and layer
sensitivity are measured (natural photos, the app's kind of input)."""
METHODS = ("minmax", "minmax-avg", "percentile", "percentile-99.99", "entropy")
METHOD = "minmax"
ALWAYS_FLOAT = (
    "/_conv_stem/Conv",  # the first layer: raw pixels, 3 input channels
    "/_conv_head/Conv",  # the 1280-channel pre-clip head every descriptor is pooled from
)
KEEP_FLOAT = (
    "/_conv_stem/Conv",
    # The stride-2 block: int8, it alone costs twice the descriptor error of blocks 1 and 2
    # together, and gains no time (int8_study.py --keep-blocks; MODELS.md, "Which blocks stay
    # float"). The order is written into the file's metadata: keep it.
    "/_blocks.0/",
    "/_conv_head/Conv",
)
"""Trunk nodes left in float (``int8_study.py --sensitivity`` measured each layer; ``--keep-blocks``
each choice of float blocks, with its speed)."""


def views(im: Image.Image, rng: np.random.Generator, count: int) -> list[Image.Image]:
    """The photo, its mirror image and random crops with colour jitter: ``count`` images."""
    out = [im, ImageOps.mirror(im)]
    while len(out) < count:
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.4, 0.9)), int(h * rng.uniform(0.4, 0.9))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        view = im.crop((x, y, x + cw, y + ch))
        view = ImageEnhance.Brightness(view).enhance(float(rng.uniform(0.6, 1.4)))
        view = ImageEnhance.Contrast(view).enhance(float(rng.uniform(0.7, 1.3)))
        out.append(ImageEnhance.Color(view).enhance(float(rng.uniform(0.6, 1.4))))
    return out[:count]


def to_input(im: Image.Image, side: int) -> np.ndarray:
    """(1, 3, H, W) float32 as the app feeds the model: long side ``side``, multiple of 32."""
    w, h = im.size
    f = side / max(w, h)
    size = (max(MULTIPLE, round(w * f / MULTIPLE) * MULTIPLE),
            max(MULTIPLE, round(h * f / MULTIPLE) * MULTIPLE))  # fmt: skip
    a = np.asarray(im.resize(size, Image.Resampling.BILINEAR), np.float32)
    return np.ascontiguousarray(((a - MEAN) / STD).transpose(2, 0, 1)[None])


def feeds(x: np.ndarray) -> dict[str, np.ndarray]:
    """The model's two inputs for one image tensor (the R-MAC boxes of its feature map)."""
    boxes = region_grid(x.shape[2] // STRIDE, x.shape[3] // STRIDE, LEVELS)
    rois = np.zeros((len(boxes), 5), np.float32)
    rois[:, 1:] = boxes
    return {"image": x, "rois": rois}


def sources(folder: Path, held_out: bool = False) -> list[Path]:
    """Photos of ``folder`` with a short side >= 128 px, sorted by name: the calibration
    photos, or with ``held_out`` the ``HELD_OUT`` ones."""
    out = []
    for path in sorted(folder.iterdir()):
        usable = path.suffix.lower() in (".jpg", ".png") and min(Image.open(path).size) >= 128
        if usable and (path.stem in HELD_OUT) == held_out:
            out.append(path)
    if not out:
        raise SystemExit(f"no photos in {folder} (see the docstring for how to extract them)")
    return out


def calibration(
    paths: list[Path], per_photo: int, seed: int, sides: tuple[int, ...] = SIDES
) -> Iterator[dict[str, np.ndarray]]:
    """Model inputs for every view of every photo in ``paths`` (deterministic)."""
    for path in paths:
        rng = np.random.default_rng([seed, zlib.crc32(path.name.encode())])
        im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        for view in views(im, rng, per_photo):
            yield feeds(to_input(view, int(rng.choice(sides))))


def trunk_nodes(model: onnx.ModelProto, keep_float: Iterable[str]) -> list[str]:
    """Names of the trunk's Conv, Clip (ReLU6) and Add nodes, minus those kept in float
    (``keep_float``: node names, or prefixes ending in ``/`` such as ``/_blocks.0/``).

    The Clip nodes must be listed: a listed ReLU6 is folded into its conv (the conv's output is
    quantized on the clipped 0..6 range); an unlisted one leaves the conv's raw output (range
    ~ -70..90) quantized before the clip, ~10 levels for 0..6, 40-50 % relative error at the
    stride-16 output after a few blocks (measured).
    """
    keep = tuple(keep_float)
    return [n.name for n in model.graph.node
            if n.op_type in ("Conv", "Clip", "Add") and n.name.startswith("/_")
            and not any(n.name == k or (k.endswith("/") and n.name.startswith(k))
                        for k in keep)]  # fmt: skip


def constants_as_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn ``Constant`` nodes into initializers (the quantizer folds a ``Clip`` into its conv
    only when it can read its bounds; a guard for re-exports, a no-op on the current file)."""
    from onnx import numpy_helper

    keep = []
    for node in model.graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and value is not None and len(node.attribute) == 1:
            array = numpy_helper.to_array(value.t)
            model.graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def preprocess(source: Path, cache: Path) -> Path:
    """``quant_pre_process`` of ``source`` into ``cache`` (once per source file)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    pre = cache / f"pre_{digest}.onnx"
    if not pre.exists():
        cache.mkdir(parents=True, exist_ok=True)
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        onnx.save(constants_as_initializers(onnx.load(str(pre))), str(pre))
    return pre


@dataclass
class Stats:
    """Calibration statistics of every calibrated activation over all views."""

    hist: dict[str, tuple] = field(default_factory=dict)  # type: ignore[type-arg]
    """onnxruntime ``HistogramCollector`` entries: (counts, edges, min, max, threshold)."""
    lows: dict[str, list[float]] = field(default_factory=dict)
    highs: dict[str, list[float]] = field(default_factory=dict)
    views: int = 0


def collect(pre: Path, data: Iterable[dict[str, np.ndarray]], count: int) -> Stats:
    """Run the float model over every view, one at a time, and record ``Stats``."""
    import onnxruntime as ort
    from onnxruntime.quantization.calibrate import HistogramCalibrater, HistogramCollector

    stats = Stats()
    with tempfile.TemporaryDirectory() as tmp:
        # a private copy: the calibrater writes a shape-inferred file beside the model
        own = Path(tmp) / pre.name
        shutil.copyfile(pre, own)
        cal = HistogramCalibrater(own, ["Conv", "Clip", "Add"], str(Path(tmp) / "aug.onnx"))
        cal.augment_graph()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False  # views differ in size: an arena only grows
        session = ort.InferenceSession(cal.augmented_model_path, opts, ["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    wanted = set(cal.tensors_to_calibrate)
    hist = HistogramCollector("percentile", False, 2048, 128, 99.999, "same")
    for i, feed in enumerate(data):
        out = {n: a for n, a in zip(names, session.run(None, feed), strict=True) if n in wanted}
        for name, a in out.items():
            stats.lows.setdefault(name, []).append(float(a.min()))
            stats.highs.setdefault(name, []).append(float(a.max()))
        with contextlib.redirect_stdout(io.StringIO()):  # every 8th value: 8x less work
            hist.collect({n: np.ascontiguousarray(a.ravel()[::8]) for n, a in out.items()})
        stats.views = i + 1
        if i % 25 == 0:
            print(f"calibrated {i}/{count} views", file=sys.stderr, flush=True)
    stats.hist = hist.histogram_dict
    return stats


def _collect_shard(job: tuple[Path, list[Path], int, int]) -> dict[str, object]:
    pre, paths, per_photo, seed = job
    return vars(collect(pre, calibration(paths, per_photo, seed), per_photo * len(paths)))


def _merged(a: tuple, b: tuple) -> tuple:  # type: ignore[type-arg]
    """Two histogram entries as one, on the wider one's bins (the other's counts placed by
    their bin centres: at most one bin of error)."""
    if a[4] < b[4]:
        a, b = b, a
    centres = (b[1][:-1] + b[1][1:]) / 2
    moved, _ = np.histogram(centres, bins=a[1], weights=b[0])
    return a[0] + moved.astype(a[0].dtype), a[1], min(a[2], b[2]), max(a[3], b[3]), a[4]


def cached_stats(
    pre: Path, photos: Path, per_photo: int, seed: int, cache: Path, jobs: int = 2
) -> Stats:
    """``collect`` over the calibration views (``jobs`` processes, one thread each, photos
    dealt out in turn), kept in ``cache`` for later runs."""
    import multiprocessing

    paths = sources(photos)
    key = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:12]
    path = cache / f"stats_{pre.stem}_{key}_v{per_photo}_s{seed}.pkl"
    if path.exists():
        with path.open("rb") as f:
            saved = _Unpickler(f).load()
        return saved if isinstance(saved, Stats) else Stats(**saved)
    shards = [(pre, paths[i::jobs], per_photo, seed) for i in range(jobs)]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        parts = [Stats(**d) for d in pool.map(_collect_shard, shards)]  # type: ignore[arg-type]
    stats = parts[0]
    for part in parts[1:]:
        stats.views += part.views
        for n in part.lows:
            stats.lows[n] += part.lows[n]
            stats.highs[n] += part.highs[n]
            stats.hist[n] = _merged(stats.hist[n], part.hist[n])
    with path.open("wb") as f:
        pickle.dump(vars(stats), f)
    return stats


class _Unpickler(pickle.Unpickler):
    """Reads statistics pickled as ``__main__.Stats`` by an earlier version."""

    def find_class(self, module: str, name: str) -> object:
        return Stats if name == "Stats" else super().find_class(module, name)


def _rebinned(entry: tuple, factor: int) -> tuple:  # type: ignore[type-arg]
    """A symmetric histogram entry with ``factor`` neighbouring bins merged (zero stays a bin
    edge in the middle)."""
    counts, edges, lo, hi, thr = entry
    n = len(counts)
    pad = (-(n // 2)) % factor
    width = edges[1] - edges[0]
    counts = np.concatenate([np.zeros(pad, counts.dtype), counts, np.zeros(pad, counts.dtype)])
    thr2 = np.float32(thr + pad * width)
    merged = counts.reshape(-1, factor).sum(axis=1)
    return merged, np.linspace(-thr2, thr2, len(merged) + 1, dtype=np.float32), lo, hi, thr2


def ranges(stats: Stats, method: str) -> dict[str, tuple[float, float]]:
    """Each activation's quantization range under ``method`` (one of ``METHODS``).

    ``minmax``: the extremes over all views. ``minmax-avg``: the mean of the per-view
    extremes (what onnxruntime's moving-average MinMax approaches). ``percentile[-P]``: the
    P-th percentile at each end (99.999 by default). ``entropy``: the range that minimises the
    KL divergence of the 128-level quantized histogram (TensorRT's method; onnxruntime's code on
    512-bin histograms).
    """
    from onnxruntime.quantization.calibrate import HistogramCollector

    if method == "minmax":
        return {n: (min(stats.lows[n]), max(stats.highs[n])) for n in stats.lows}
    if method == "minmax-avg":
        return {n: (float(np.mean(stats.lows[n])), float(np.mean(stats.highs[n])))
                for n in stats.lows}  # fmt: skip
    if method.startswith("percentile"):
        pct = float(method.split("-")[1]) if "-" in method else 99.999
        col = HistogramCollector("percentile", False, 2048, 128, pct, "same")
        col.histogram_dict = stats.hist
        with contextlib.redirect_stdout(io.StringIO()):
            out = col.compute_percentile()
    elif method == "entropy":
        col = HistogramCollector("entropy", False, 512, 128, 99.999, "same")
        col.histogram_dict = {n: _rebinned(e, 4) for n, e in stats.hist.items()}
        with contextlib.redirect_stdout(io.StringIO()):
            out = col.compute_entropy()
    else:
        raise ValueError(f"unknown method {method!r}")
    return {n: (float(v[0]), float(v[1])) for n, v in out.items()}


def quantize(
    pre: Path, out: Path, rng: dict[str, tuple[float, float]], keep_float: Iterable[str]
) -> None:
    """Quantize the pre-processed model ``pre`` into ``out`` with the activation ranges ``rng``
    (through onnxruntime's calibration cache: no calibration pass here)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    data = {n: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
            for n, (lo, hi) in rng.items()}  # fmt: skip
    nodes = trunk_nodes(onnx.load(str(pre)), keep_float)
    with tempfile.TemporaryDirectory() as tmp:
        own = Path(tmp) / pre.name  # quantize_static writes a shape-inferred file beside it
        shutil.copyfile(pre, own)
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), cache)
        quantize_static(
            str(own), str(out), None, quant_format=QuantFormat.QDQ, per_channel=True,
            weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax, nodes_to_quantize=nodes,
            calibration_cache_path=str(cache),
        )  # fmt: skip


def stamp(out: Path, how: str) -> None:
    """Copy the source's ``metadata_props`` into ``out`` and say how it was quantized."""
    model, src = onnx.load(str(out)), onnx.load(str(SOURCE), load_external_data=False)
    meta = {p.key: p.value for p in src.metadata_props}
    meta["lookalike.trunk"] += " int8"
    meta["lookalike.quantization"] = how
    meta["lookalike.source_sha256"] = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name, model.producer_version = "lookalike quantize_int8", "2"
    onnx.save(model, str(out))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache", type=Path, default=CACHE, help="pre-processed model, statistics")
    ap.add_argument("--method", default=METHOD, choices=METHODS)
    ap.add_argument("--views", type=int, default=10, help="calibration views per photo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="calibration processes")
    ap.add_argument("--keep-float", nargs="*", default=list(KEEP_FLOAT))
    args = ap.parse_args()

    pre = preprocess(SOURCE, args.cache)
    stats = cached_stats(pre, args.photos, args.views, args.seed, args.cache, args.jobs)
    quantize(pre, args.out, ranges(stats, args.method), args.keep_float)
    n_photos = len(sources(args.photos))
    stamp(args.out, (
        f"onnxruntime static QDQ, per-channel int8 weights, uint8 activations, {args.method} "
        f"ranges from {stats.views} views of {n_photos} package sample photos (seed "
        f"{args.seed}); float: {', '.join(args.keep_float)}"))  # fmt: skip
    print(args.out, hashlib.sha256(args.out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
