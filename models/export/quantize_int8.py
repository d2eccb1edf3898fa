"""Static int8 quantization of the Lite2 R-MAC model's trunk (onnxruntime, QDQ).

Dev tooling (onnx + onnxruntime only; no torch). One command re-creates the shipped file::

    pip download --no-deps scikit-image scikit-learn matplotlib -d /tmp/wheels
    mkdir -p /tmp/wphotos && for w in /tmp/wheels/*.whl; do unzip -j -o -q "$w" \\
        'skimage/data/*.png' 'skimage/data/*.jpg' 'sklearn/datasets/images/*.jpg' \\
        'matplotlib/mpl-data/sample_data/*.jpg' -d /tmp/wphotos; done
    python models/export/quantize_int8.py                  # → models/rmac_lite2_int8.onnx
    python models/export/quantize_int8.py --views 10       # a few hundred views (see MODELS.md)

    python models/export/quantize_int8.py --compare        # the three calibration methods
    python models/export/quantize_int8.py --sensitivity    # per-layer SQNR of the activations

Recipe: ``quant_pre_process(skip_symbolic_shape=True)``, then ``quantize_static`` in QDQ format
with per-channel symmetric int8 weights and asymmetric uint8 activations. Only the trunk's
``Conv`` and ``Add`` nodes are quantized (``nodes_to_quantize``); the R-MAC head (region
pooling, L2, whitening, sum), ``mac``/``argmax`` and the ``features``/``fine_features`` outputs
stay float, and the layers in ``KEEP_FLOAT`` (the most sensitive ones, measured with
``--sensitivity``) are left in float as well.

Calibration data: the sample photos shipped inside the scikit-image, scikit-learn and
matplotlib wheels (never a bench photo), each turned into ``--views`` views (the photo, its
mirror image, random crops of 40-90 % of each side, colour/brightness jitter), resized to a long
side drawn from 512-1024 px and rounded to the model's size multiple, normalised as the app
does. Views are drawn from a generator seeded by ``--seed`` and the photo's name: the output
is deterministic for the same photos, seed, Pillow and onnxruntime versions.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
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
MEAN, STD, MULTIPLE, STRIDE, LEVELS = 127.0, 128.0, 32, 32, 3
SIDES = (512, 640, 768, 896, 1024)
KEEP_FLOAT = (
    "/_conv_stem/Conv",  # the first layer: raw pixels, 3 input channels
    "/_conv_head/Conv",  # the 1280-channel pre-clip head every descriptor is pooled from
)
"""Trunk nodes left in float: the usual choice for the first and last layers (MODELS.md says
what was measured; the per-layer ``--sensitivity`` sweep is the next step)."""


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


def sources(folder: Path) -> list[Path]:
    """Photos of ``folder`` with a short side of at least 128 px, sorted by name."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".jpg", ".png") and min(Image.open(path).size) >= 128:
            out.append(path)
    if not out:
        raise SystemExit(f"no photos in {folder} (see the docstring for how to extract them)")
    return out


def calibration(folder: Path, per_photo: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """Model inputs for every view of every source photo (deterministic)."""
    for path in sources(folder):
        rng = np.random.default_rng([seed, zlib.crc32(path.name.encode())])
        im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        for view in views(im, rng, per_photo):
            yield feeds(to_input(view, int(rng.choice(SIDES))))


class Reader:
    """onnxruntime's ``CalibrationDataReader`` over a list of feeds."""

    def __init__(self, data: Iterable[dict[str, np.ndarray]]) -> None:
        self._it = iter(data)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def trunk_nodes(model: onnx.ModelProto, keep_float: tuple[str, ...]) -> list[str]:
    """Names of the trunk's Conv, Clip (ReLU6) and Add nodes, minus those kept in float.

    The Clip nodes must be listed: a listed ReLU6 is folded into its conv (the conv's output is
    quantized on the clipped 0..6 range); an unlisted one leaves the conv's raw output (range
    ~ -70..90) quantized before the clip, ~10 levels for 0..6, 40-50 % relative error at the
    stride-16 output after a few blocks (measured).
    """
    return [n.name for n in model.graph.node
            if n.op_type in ("Conv", "Clip", "Add") and n.name.startswith("/_")
            and n.name not in keep_float]  # fmt: skip


def constants_as_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn ``Constant`` nodes into initializers (the exporter writes ReLU6's bounds as
    ``Constant`` nodes; the quantizer folds a ``Clip`` into its conv only when it can read them).
    On the current file ``quant_pre_process`` has already folded them: this is a no-op there
    (same output sha256 with and without it), kept as a guard for re-exports."""
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


def quantize(
    source: Path, out: Path, data: Callable[[], Iterator[dict[str, np.ndarray]]], method: str,
    keep_float: tuple[str, ...], count: int, reduce_range: bool = False,
) -> None:  # fmt: skip
    """Pre-process, calibrate and quantize ``source`` into ``out`` (metadata carried over)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}  # fmt: skip
    one_at_a_time(count)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        model = constants_as_initializers(onnx.load(str(pre)))
        onnx.save(model, str(pre))
        nodes = trunk_nodes(model, keep_float)
        quantize_static(
            str(pre), str(out), Reader(data()), quant_format=QuantFormat.QDQ,
            per_channel=True, reduce_range=reduce_range, weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=methods[method], nodes_to_quantize=nodes,
            extra_options={"CalibMovingAverage": method == "minmax",
                           "CalibPercentile": 99.999, "CalibTensorRangeSymmetric": False},
        )  # fmt: skip
    stamp(source, out, method, count, keep_float)


def one_at_a_time(count: int) -> None:
    """Make onnxruntime's calibrators take the views one by one.

    Its histogram calibrators keep every intermediate output of the whole reader in memory
    (hundreds of MB per 1024-px view) and stack views of different sizes; their histograms
    merge across ``collect_data`` calls, so one call per view is equivalent and bounded.
    """
    import onnxruntime.quantization  # noqa: F401  (loads the module below)

    ort_quantize = sys.modules["onnxruntime.quantization.quantize"]

    if getattr(ort_quantize.create_calibrator, "one_at_a_time", False):
        return
    make = ort_quantize.create_calibrator

    def create(*args: object, **kwargs: object) -> object:
        calibrator = make(*args, **kwargs)
        collect = calibrator.collect_data

        def per_view(reader: Reader) -> None:
            for i, feed in enumerate(iter(reader.get_next, None)):
                collect(Reader([feed]))
                if i % 50 == 0:
                    print(f"calibrated {i}/{count} views", file=sys.stderr, flush=True)

        calibrator.collect_data = per_view
        return calibrator

    create.one_at_a_time = True  # type: ignore[attr-defined]
    ort_quantize.create_calibrator = create


def stamp(source: Path, out: Path, method: str, views: int, keep: tuple[str, ...]) -> None:
    """Copy the source's ``metadata_props`` and say how the file was quantized."""
    model, src = onnx.load(str(out)), onnx.load(str(source), load_external_data=False)
    meta = {p.key: p.value for p in src.metadata_props}
    meta["lookalike.trunk"] += " int8"
    meta["lookalike.quantization"] = (
        f"onnxruntime static QDQ, per-channel int8 weights, uint8 activations, {method} "
        f"calibration on {views} views of package sample photos; float: {', '.join(keep)}"
    )
    meta["lookalike.source_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name, model.producer_version = "lookalike quantize_int8", "1"
    onnx.save(model, str(out))


def compare(fp32: Path, int8: Path, data: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Descriptor cosine and fine-feature relative error of int8 vs fp32 on held-out views."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    a = ort.InferenceSession(str(fp32), opts, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(int8), opts, providers=["CPUExecutionProvider"])
    cos, rel = [], []
    for feed in data:
        (da, fa), (db, fb) = (s.run(["descriptor", "fine_features"], feed) for s in (a, b))
        cos.append(float(da[0] @ db[0]))
        rel.append(float(np.linalg.norm(fa - fb) / np.linalg.norm(fa)))
    return {"cos_mean": float(np.mean(cos)), "cos_min": float(np.min(cos)),
            "fine_rel_err": float(np.mean(rel))}  # fmt: skip


def sensitivity(fp32: Path, int8: Path, data: list[dict[str, np.ndarray]]) -> None:
    """Print each quantized activation's SQNR (dB) in the int8 model, lowest first."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory() as tmp:
        aug_f, aug_q = Path(tmp) / "f.onnx", Path(tmp) / "q.onnx"
        modify_model_output_intermediate_tensors(str(fp32), str(aug_f))
        modify_model_output_intermediate_tensors(str(int8), str(aug_q))
        acts_f = collect_activations(str(aug_f), Reader(data))
        acts_q = collect_activations(str(aug_q), Reader(data))
    errors = compute_activation_error(create_activation_matching(acts_q, acts_f))
    rows = sorted(errors.items(), key=lambda kv: float(kv[1]["qdq_err"]))
    for name, err in rows:
        print(f"{float(err['qdq_err']):7.2f} dB local  {float(err['xmodel_err']):7.2f} dB "
              f"vs float model  {name}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--method", default="minmax", choices=("minmax", "entropy", "percentile"))
    ap.add_argument("--views", type=int, default=1, help="calibration views per photo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-float", nargs="*", default=list(KEEP_FLOAT))
    ap.add_argument("--reduce-range", action="store_true", help="7-bit weights (AVX2 saturation)")
    ap.add_argument("--compare", action="store_true", help="quantize with each method, compare")
    ap.add_argument("--sensitivity", action="store_true", help="per-activation SQNR of --out")
    args = ap.parse_args()

    def data() -> Iterator[dict[str, np.ndarray]]:
        return calibration(args.photos, args.views, args.seed)

    count = args.views * len(sources(args.photos))
    held_out = list(calibration(args.photos, 3, args.seed + 1000))[2::3][:12]
    keep = tuple(args.keep_float)
    if args.sensitivity:
        sensitivity(SOURCE, args.out, held_out[:4])
        return
    for method in ("minmax", "entropy", "percentile") if args.compare else (args.method,):
        out = args.out.with_name(f"{args.out.stem}_{method}.onnx") if args.compare else args.out
        quantize(SOURCE, out, data, method, keep, count, args.reduce_range)
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        print(method, count, "views", compare(SOURCE, out, held_out), digest, flush=True)


if __name__ == "__main__":
    main()
