"""Measure what the duplicate pair check sees: copies vs. other shots of a scene vs. unrelated.

Makes edited copies (320 px at JPEG quality 25, a 60 % crop, half size, recompressed at
quality 50, brighter) of every JPEG in ``--sources`` (photos in no retrieval bench, e.g.
``shared/bench/perf``), embeds them with the default preset, and prints the distributions
(percentiles) of the global cosine, inlier count, inlier ratio and frame coverage of
:func:`lookalike.search.pair_check.check_locals` for:

- copy pairs (a source and each of its edits, and edits among themselves);
- same-scene pairs: photos of one group of a labelled bench (``--bench``, measured only);
- unrelated pairs: photos of different groups.

    python benchmarks/duplicates_calibrate.py --sources ../shared/bench/perf \
        --bench ../shared/bench/dev --groups 12 --per-group 4
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from lookalike.embed.model import Embedder
from lookalike.search.pair_check import PairEvidence, check_locals
from lookalike.types import Embedding


def edits(src: Path, out: Path) -> list[Path]:
    """Write the edited copies of ``src`` into ``out``; returns their paths."""
    img = Image.open(src).convert("RGB")
    w, h = img.size
    made = []
    small = img.copy()
    small.thumbnail((320, 320))
    variants = {
        "q25_320.jpg": (small, 25),
        "crop60.jpg": (img.crop((int(w * .2), int(h * .2), int(w * .8), int(h * .8))), 85),
        "half.jpg": (img.resize((w // 2, h // 2)), 85),
        "q50.jpg": (img, 50),
        "bright.jpg": (ImageEnhance.Brightness(img).enhance(1.3), 85),
    }
    for name, (im, quality) in variants.items():
        path = out / f"{src.stem}_{name}"
        im.save(path, quality=quality)
        made.append(path)
    return made


def evidence(embs: dict[Path, Embedding], a: Path, b: Path) -> PairEvidence:
    ea, eb = embs[a], embs[b]
    return check_locals(ea.locals, eb.locals, float(ea.vector @ eb.vector))


def table(name: str, found: list[PairEvidence]) -> dict[str, object]:
    def pct(values: list[float]) -> list[float]:
        return [round(float(np.percentile(values, q)), 3) for q in (1, 10, 50, 90, 99)]

    kinds = {k: sum(e.kind == k for e in found) for k in ("copy", "burst", None)}
    return {"pairs": name, "n": len(found), "kinds": {str(k): v for k, v in kinds.items()},
            "cosine p1/10/50/90/99": pct([e.cosine for e in found]),
            "inliers": pct([e.inliers for e in found]),
            "ratio": pct([e.ratio for e in found]),
            "max coverage": pct([max(e.coverage_a, e.coverage_b) for e in found]),
            "min coverage": pct([min(e.coverage_a, e.coverage_b) for e in found]),
            "residual": pct([e.residual for e in found])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=Path, required=True)
    ap.add_argument("--bench", type=Path, required=True)
    ap.add_argument("--groups", type=int, default=12)
    ap.add_argument("--per-group", type=int, default=4)
    ap.add_argument("--cache", type=Path, help="folder to keep the edits and embeddings in "
                    "between runs (default: a temporary one)")
    args = ap.parse_args()
    embedder = Embedder.from_preset("balanced", threads=2)
    gt = json.loads((args.bench / "groundtruth.json").read_text())
    groups = [[args.bench / p for p in paths[: args.per_group]]
              for paths in list(gt["groups"].values())[: args.groups]]
    copies, scene, unrelated = [], [], []
    by_edit: dict[str, list[PairEvidence]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.cache or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        families = [[s, *edits(s, work)] for s in sorted(args.sources.glob("*.jpg"))]
        files = [p for f in families for p in f] + [p for g in groups for p in g]
        saved = work / "embeddings.pkl"
        if args.cache and saved.exists():
            embs = pickle.loads(saved.read_bytes())
        else:
            embs = {p: e for p, e in embedder.embed_files(files) if isinstance(e, Embedding)}
            saved.write_bytes(pickle.dumps(embs))
        for fam in families:
            copies += [evidence(embs, a, b) for a, b in itertools.combinations(fam, 2)]
            for edit in fam[1:]:
                by_edit.setdefault(edit.name.split("_", 2)[-1], []).append(
                    evidence(embs, fam[0], edit))
        for g in groups:
            scene += [evidence(embs, a, b) for a, b in itertools.combinations(g, 2)]
        for g1, g2 in itertools.combinations(groups, 2):
            unrelated.append(evidence(embs, g1[0], g2[0]))
    for name, found in (("copy", copies), *by_edit.items(), ("same scene", scene),
                        ("unrelated", unrelated)):
        print(json.dumps(table(name, found)))
    print(json.dumps({"load": os.getloadavg()}))


if __name__ == "__main__":
    main()
