"""Check an exported R-MAC ONNX model against torch (trunk) and the NumPy reference (head).

python models/export/parity_check.py models/rmac_lite2.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "desktop"))
sys.path.insert(0, str(HERE))
from trunk import Trunk, load_efficientnet  # noqa: E402

from lookalike.embed.rmac import region_grid, rmac  # noqa: E402


def main(path: Path) -> None:
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    proj, bias = init["whiten_w"], init["whiten_b"]
    shift = np.linalg.lstsq(proj, -bias, rcond=None)[0].astype(np.float32)
    name = "lite2" if "lite2" in meta["lookalike.trunk"] else "lite0"
    fine = meta.get("lookalike.local_output") == "fine_features"
    trunk = Trunk(load_efficientnet(name), head=meta["lookalike.head"], fine=fine).eval()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    sess_fmap = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for h, w in [(768, 1024), (1024, 768), (512, 512), (352, 640), (64, 96)]:
        x = rng.normal(0, 0.6, (1, 3, h, w)).astype(np.float32)
        boxes = region_grid(h // 32, w // 32, int(meta["lookalike.levels"]))
        rois = np.concatenate([np.zeros((len(boxes), 1)), boxes], 1).astype(np.float32)
        desc, mac, argmax = sess.run(["descriptor", "mac", "argmax"], {"image": x, "rois": rois})
        fmap = sess_fmap.run(["features"], {"image": x, "rois": rois})[0][0]
        with torch.no_grad():
            out = trunk(torch.from_numpy(x))
        ref_fmap = (out[0] if fine else out)[0].numpy()
        fine_note = ""
        if fine:
            got = sess_fmap.run(["fine_features"], {"image": x, "rois": rois})[0][0]
            ref_fine = out[1][0].numpy()
            err_fine = float(np.abs(got - ref_fine).max() / (np.abs(ref_fine).max() + 1e-9))
            fine_note = f"  fine rel {err_fine:.2e} {got.shape}"
        ref = rmac(ref_fmap, boxes, shift, proj)
        err_desc = float(np.abs(desc[0] - ref).max())
        err_fmap = float(np.abs(fmap - ref_fmap).max() / (np.abs(ref_fmap).max() + 1e-9))
        ok_arg = bool((fmap.reshape(fmap.shape[0], -1).argmax(1) == argmax[0]).all())
        ok_mac = float(np.abs(fmap.reshape(fmap.shape[0], -1).max(1) - mac[0]).max())
        worst = max(worst, err_desc)
        print(
            f"{h}x{w}: regions {len(boxes)} desc max|d| {err_desc:.2e}  fmap rel {err_fmap:.2e}"
            f"  argmax ok {ok_arg}  mac |d| {ok_mac:.1e}{fine_note}"
        )
    print("PASS" if worst < 1e-4 else "FAIL", f"worst descriptor difference {worst:.2e}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
