"""Dev-only: cache region-pooled features of a bench for the ablation (torch trunk, not the app).

python models/export/ablation_features.py ../shared/bench/dev /tmp/feats_lite2.npz lite2
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from trunk import Trunk, load_efficientnet

from lookalike.embed.rmac import pool_regions, region_grid

SCALES = (1024, 768, 512)


def load(path: Path, side: int) -> torch.Tensor | None:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = im.size
    s = min(1.0, side / max(w, h))
    tw, th = max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32)
    im = im.resize((tw, th), Image.BILINEAR)
    a = (np.asarray(im, dtype=np.float32) - 127.0) / 128.0
    return torch.from_numpy(a.transpose(2, 0, 1)[None].copy())


def main() -> None:
    bench, out, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    gt = json.loads((bench / "groundtruth.json").read_text())
    paths = [p for g in gt["groups"].values() for p in g] + list(gt["distractors"])
    torch.set_num_threads(2)
    net = load_efficientnet(name)
    trunks = {h: Trunk(net, h).eval() for h in ("relu6", "preclip")}
    res: dict[str, list[np.ndarray]] = {}
    t0 = time.time()
    with torch.no_grad():
        for p in paths:
            for side in SCALES:
                x = load(bench / p, side)
                pre = torch.relu(net._bn1(net._conv_head(_blocks(net, x))))[0].numpy()
                for head in trunks:
                    fmap = np.minimum(pre, 6.0) if head == "relu6" else pre
                    boxes = region_grid(fmap.shape[1], fmap.shape[2], 3)
                    res.setdefault(f"{head}_{side}", []).append(pool_regions(fmap, boxes))
    print(f"{len(paths)} images in {time.time() - t0:.0f}s")
    np.savez(out, paths=np.array(paths), **{k: np.array(v, dtype=object) for k, v in res.items()})


def _blocks(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = net._swish(net._bn0(net._conv_stem(x)))
    for block in net._blocks:
        x = block(x)
    return x


if __name__ == "__main__":
    main()
