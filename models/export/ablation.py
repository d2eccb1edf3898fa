"""Dev-only: the ablation table from cached region features (see ablation_features.py).

python models/export/ablation.py ../shared/bench/dev /tmp/feats_lite2.npz [/tmp/feats_lite0.npz]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))
from lookalike.embed.rmac import l2n
from lookalike.search.metrics import evaluate


def labels_for(bench: Path, paths: list[str]) -> list[int]:
    gt = json.loads((bench / "groundtruth.json").read_text())
    group = {p: i for i, g in enumerate(gt["groups"].values()) for p in g}
    return [group.get(p, -1) for p in paths]


def descriptors(feats: dict, key: str, pooling: str, whiten=None) -> np.ndarray:
    out = []
    for regions in feats[key]:
        r = regions[:1] if pooling == "mac" else regions
        r = l2n(r.astype(np.float32))
        if whiten is not None:
            m, p = whiten
            r = l2n((r - m) @ p.T)
        out.append(l2n(r.sum(0)))
    return np.stack(out)


def multi(feats: dict, head: str, scales: tuple[int, ...], pooling: str, whiten=None) -> np.ndarray:
    return l2n(sum(descriptors(feats, f"{head}_{s}", pooling, whiten) for s in scales))


def main() -> None:
    bench = Path(sys.argv[1])
    for npz in sys.argv[2:]:
        data = np.load(npz, allow_pickle=True)
        feats = {k: data[k] for k in data.files if k != "paths"}
        labels = labels_for(bench, [str(p) for p in data["paths"]])
        print(f"== {Path(npz).stem}")
        for head in ("relu6", "preclip"):
            for pooling in ("mac", "rmac"):
                for scales in ((1024,), (768,), (1024, 768), (1024, 768, 512), (1024, 512)):
                    d = multi(feats, head, scales, pooling)
                    s = evaluate(d @ d.T, labels)
                    print(
                        f"{head:8s} {pooling:5s} {'+'.join(map(str, scales)):15s} "
                        f"mAP {s.mean_ap:5.1f}  R@1 {s.recall_at_1:5.1f}  R@5 {s.recall_at_5:5.1f}"
                    )


if __name__ == "__main__":
    main()
