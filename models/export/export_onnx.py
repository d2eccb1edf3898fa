"""Export a complete R-MAC network to ONNX (dev tooling: needs torch and onnx; not for the app).

The graph takes a normalised image and the R-MAC region boxes and computes, as one network
(Gordo et al., "End-to-end learning of deep visual representations"):

    trunk → MaxRoiPool per region → L2 → shift+FC whitening → L2 → sum over regions → L2

Inputs:
    image: (1, 3, H, W) float32, RGB normalised as ``(x - mean) / std`` (values in metadata),
        H and W multiples of 32.
    rois: (R, 5) float32 rows ``0, x0, y0, x1, y1`` in feature-map cells, inclusive, from
        ``lookalike.embed.rmac.region_grid``.
Outputs:
    descriptor: (1, D) float32, L2-normalised.
    mac: (1, C) float32, the per-channel maximum over the whole map.
    argmax: (1, C) int64, flat index ``y * w + x`` of each channel's maximum in the feature map.
    features: (1, C, H/32, W/32) float32, the trunk's feature map (for localising matches).
    fine_features: (1, C', H/16, W/16) float32, the output of the trunk's last stride-16 block
        (raw, signed), from which ``lookalike.embed.local`` takes the local features that
        spatial re-ranking matches (cells half the size of the head's).

Usage (one command re-exports every shipped model)::

    python models/export/export_onnx.py --all
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from trunk import BUILD_SIZE, FINE_STRIDE, STRIDE, Trunk, load_efficientnet  # noqa: E402

MODELS_DIR = HERE.parent
MODEL_VERSION = "2"
"""2: adds the ``fine_features`` output (stride-16 local features)."""
LEVELS = 3
MEAN = (127.0, 127.0, 127.0)
STD = (128.0, 128.0, 128.0)
EPS = 1e-6
SHIPPED = {"lite2": "rmac_lite2.onnx", "lite0": "rmac_lite0.onnx"}


def export_trunk(trunk: torch.nn.Module, path: Path) -> None:
    """Export the conv trunk with dynamic H/W (legacy exporter: no onnxscript needed)."""
    dummy = torch.zeros(1, 3, 768, 1024)
    torch.onnx.export(
        trunk,
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["features", "fine_features"],
        dynamic_axes={
            "image": {2: "height", 3: "width"},
            "features": {2: "fh", 3: "fw"},
            "fine_features": {2: "gh", 3: "gw"},
        },
        opset_version=17,
        dynamo=False,
    )


def _l2(name: str, x: str, axis: int, nodes: list[onnx.NodeProto]) -> str:
    """Append ``x / (||x||_2 + eps)`` along ``axis`` (opset 17: axes attribute); return ``name``."""
    nodes += [
        helper.make_node("ReduceL2", [x], [f"{name}_norm"], keepdims=1, axes=[axis]),
        helper.make_node("Add", [f"{name}_norm", "eps"], [f"{name}_den"]),
        helper.make_node("Div", [x, f"{name}_den"], [name]),
    ]
    return name


def add_rmac_head(model: onnx.ModelProto, shift: np.ndarray, proj: np.ndarray) -> None:
    """Append region pooling, whitening and aggregation to the exported trunk graph."""
    g = model.graph
    g.input.append(helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["regions", 5]))
    bias = (-proj @ shift).astype(np.float32)
    g.initializer.extend(
        [
            numpy_helper.from_array(proj.astype(np.float32), "whiten_w"),
            numpy_helper.from_array(bias, "whiten_b"),
            numpy_helper.from_array(np.array([EPS], np.float32), "eps"),
            numpy_helper.from_array(np.array([0], np.int64), "axis0"),
            numpy_helper.from_array(np.array([0, -1], np.int64), "flat_shape"),
        ]
    )
    nodes: list[onnx.NodeProto] = [
        helper.make_node(
            "MaxRoiPool", ["features", "rois"], ["roi_max"], pooled_shape=[1, 1], spatial_scale=1.0
        ),
        helper.make_node("Flatten", ["roi_max"], ["regions"], axis=1),
    ]
    r = _l2("regions_n", "regions", 1, nodes)
    nodes.append(helper.make_node("Gemm", [r, "whiten_w", "whiten_b"], ["regions_w"], transB=1))
    r = _l2("regions_wn", "regions_w", 1, nodes)
    nodes.append(helper.make_node("ReduceSum", [r, "axis0"], ["summed"], keepdims=1))
    _l2("descriptor", "summed", 1, nodes)
    nodes += [
        helper.make_node("ReduceMax", ["features"], ["mac"], axes=[2, 3], keepdims=0),
        helper.make_node("Squeeze", ["features", "axis0"], ["fmap3"]),
        helper.make_node("Reshape", ["fmap3", "flat_shape"], ["fmap_flat"]),
        helper.make_node("ArgMax", ["fmap_flat"], ["argmax1"], axis=1, keepdims=0),
        helper.make_node("Unsqueeze", ["argmax1", "axis0"], ["argmax"]),
    ]
    g.node.extend(nodes)
    d, c = proj.shape
    g.output.extend(
        [
            helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, d]),
            helper.make_tensor_value_info("mac", TensorProto.FLOAT, [1, c]),
            helper.make_tensor_value_info("argmax", TensorProto.INT64, [1, c]),
        ]
    )


def set_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> None:
    """Store everything the app needs in ``metadata_props`` (read by ``ModelInfo.from_onnx``)."""
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def build(name: str, head: str, whitening: Path | None, out: Path) -> Path:
    """Export one complete R-MAC model to ``out``; returns the path."""
    torch.manual_seed(0)
    trunk = Trunk(load_efficientnet(name), head=head, fine=True).eval()
    channels = int(trunk.net._conv_head.out_channels)
    fine_channels = int(trunk.net._blocks[trunk.fine_block]._project_conv.out_channels)
    if whitening is None:
        shift, proj, provenance = (
            np.zeros(channels, np.float32),
            np.eye(channels, dtype=np.float32),
            "identity",
        )
    else:
        w = np.load(whitening)
        shift, proj = w["shift"].astype(np.float32), w["proj"].astype(np.float32)
        provenance = str(w["provenance"])
    with tempfile.TemporaryDirectory() as tmp:
        trunk_path = Path(tmp) / "trunk.onnx"
        export_trunk(trunk, trunk_path)
        model = onnx.load(str(trunk_path))
    # the trunk's "features" output stays (the app's localisation reads it); the head follows
    add_rmac_head(model, shift, proj)
    model.ir_version = 9  # onnxruntime 1.31 reads IR <= 13; onnx 1.23 writes 14 by default
    set_metadata(
        model,
        {
            "lookalike.format": "rmac",
            "lookalike.model_version": MODEL_VERSION,
            "lookalike.trunk": f"efficientnet-{name} ImageNet ({head} head)",
            "lookalike.mean": json.dumps(MEAN),
            "lookalike.std": json.dumps(STD),
            "lookalike.color": "RGB",
            "lookalike.stride": str(STRIDE),
            "lookalike.size_multiple": str(STRIDE),
            "lookalike.build_size": str(BUILD_SIZE),
            "lookalike.levels": str(LEVELS),
            "lookalike.channels": str(channels),
            "lookalike.local_output": "fine_features",
            "lookalike.local_stride": str(FINE_STRIDE),
            "lookalike.local_channels": str(fine_channels),
            "lookalike.descriptor_dim": str(proj.shape[0]),
            "lookalike.whitening": provenance,
            "lookalike.head": head,
        },
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    print(f"{out.name}: {out.stat().st_size / 1e6:.1f} MB sha256 {sha256(out)}")
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--all", action="store_true", help="re-export every shipped model into models/")
    ap.add_argument("--trunk", choices=sorted(SHIPPED), default="lite2")
    ap.add_argument("--head", choices=["relu6", "preclip"], default="preclip")
    ap.add_argument(
        "--whitening", type=Path, help="npz with shift, proj, provenance (default: identity)"
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.all:
        for name, file in SHIPPED.items():
            build(name, args.head, args.whitening if name == "lite2" else None, MODELS_DIR / file)
    else:
        build(args.trunk, args.head, args.whitening, args.out or MODELS_DIR / SHIPPED[args.trunk])


if __name__ == "__main__":
    main()
