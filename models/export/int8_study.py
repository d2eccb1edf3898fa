"""How close the int8 model stays to fp32: calibration methods, per-layer sensitivity, speed.

Dev tooling beside ``quantize_int8.py`` (onnx + onnxruntime only). Every measure is taken on
views of the ``HELD_OUT`` sample photos, which the calibration never sees (never a bench)::

    python models/export/int8_study.py --compare            # one row per calibration method
    python models/export/int8_study.py --sensitivity        # one MBConv block quantized at a time
    python models/export/int8_study.py --keep-blocks 4 9    # those blocks float too, + speed

Measures per model, averaged over the held-out views: the cosine of its global descriptor to
the fp32 one, the relative L2 error of ``fine_features``, and the agreement of the local
features the app keeps (``embed.local.extract``): the share of the fp32 model's 256 cells the
int8 model also keeps, and the cosine of the two 64-d codes of a cell both keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import quantize_int8 as q

from lookalike.embed.local import extract

Feeds = list[dict[str, np.ndarray]]


def session(path: Path, threads: int = 2) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(path: Path, data: Feeds) -> list[tuple[np.ndarray, np.ndarray]]:
    """(descriptor (D,), fine_features (C, h, w)) of each view."""
    s = session(path)
    return [tuple(a[0] for a in s.run(["descriptor", "fine_features"], f)) for f in data]  # type: ignore[attr-defined, misc]


def agreement(fa: np.ndarray, fb: np.ndarray) -> tuple[float, float]:
    """Share of ``fa``'s kept cells that ``fb`` keeps too, and their codes' mean cosine."""
    la, lb = extract(fa), extract(fb)
    pos_b = {(float(x), float(y)): i for i, (x, y) in enumerate(lb[:, :2])}
    pairs = [(i, pos_b[(float(x), float(y))]) for i, (x, y) in enumerate(la[:, :2])
             if (float(x), float(y)) in pos_b]  # fmt: skip
    ia, ib = (np.array(p) for p in zip(*pairs, strict=True))
    ca, cb = la[ia, 2:].astype(np.float32), lb[ib, 2:].astype(np.float32)
    return len(pairs) / len(la), float(np.mean(np.sum(ca * cb, axis=1)))


def score(path: Path, data: Feeds, ref: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    cos, rel, keep, code = [], [], [], []
    for (da, fa), (db, fb) in zip(ref, run(path, data), strict=True):
        cos.append(float(da @ db))
        rel.append(float(np.linalg.norm(fa - fb) / np.linalg.norm(fa)))
        k, c = agreement(fa, fb)
        keep.append(k)
        code.append(c)
    return {"cos": float(np.mean(cos)), "cos_min": float(np.min(cos)),
            "fine_rel": float(np.mean(rel)), "cells": float(np.mean(keep)),
            "code_cos": float(np.mean(code))}  # fmt: skip


def row(name: str, m: dict[str, float]) -> str:
    return (f"| {name} | {m['cos']:.4f} / {m['cos_min']:.4f} | {m['fine_rel']:.3f} | "
            f"{m['cells']:.3f} | {m['code_cos']:.4f} |")  # fmt: skip


HEADER = ("| model | descriptor cosine mean / min | fine_features rel. error | "
          "local cells kept | code cosine |\n| --- | ---: | ---: | ---: | ---: |")  # fmt: skip


def blocks(pre: Path) -> dict[str, list[str]]:
    """Quantizable trunk nodes grouped by MBConv block (``/_blocks.N/``), in graph order."""
    out: dict[str, list[str]] = {}
    for name in q.trunk_nodes(onnx.load(str(pre)), q.ALWAYS_FLOAT):
        out.setdefault(name.split("/")[1], []).append(name)
    return out


def speed(paths: list[Path], rounds: int) -> list[float]:
    """Median ms per 1024x768 image of each model, the models alternated ``rounds`` times."""
    x = q.feeds(np.random.default_rng(0).standard_normal((1, 3, 768, 1024), np.float32))
    sessions = [session(p) for p in paths]
    times: list[list[float]] = [[] for _ in paths]
    for s in sessions:
        s.run(None, x)  # type: ignore[attr-defined]
    for _ in range(rounds):
        for s, t in zip(sessions, times, strict=True):
            t0 = time.perf_counter()
            s.run(None, x)  # type: ignore[attr-defined]
            t.append(1000 * (time.perf_counter() - t0))
    return [statistics.median(t) for t in times]


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--photos", type=Path, default=q.PHOTOS)
    ap.add_argument("--cache", type=Path, default=q.CACHE)
    ap.add_argument("--views", type=int, default=10, help="calibration views per photo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-views", type=int, default=4, help="held-out views per photo")
    ap.add_argument("--method", default=q.METHOD, choices=q.METHODS)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--sensitivity", action="store_true")
    ap.add_argument("--first-block", type=int, default=0, help="resume --sensitivity there")
    ap.add_argument("--keep-blocks", nargs="*", type=int)
    ap.add_argument("--rounds", type=int, default=5, help="speed rounds (0: none)")
    ap.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "lookalike-int8-study"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    pre = q.preprocess(q.SOURCE, args.cache)
    stats = q.cached_stats(pre, args.photos, args.views, args.seed, args.cache)
    held = q.sources(args.photos, held_out=True)
    sides = (640,) if args.sensitivity else (768, 1024)
    data = list(q.calibration(held, args.held_views, 1000, sides))
    ref = run(q.SOURCE, data)
    print(
        f"{len(held)} held-out photos, {len(data)} views at {sides} px; "
        f"calibration {stats.views} views; {load()}",
        flush=True,
    )
    print(HEADER, flush=True)
    if args.compare:
        for method in q.METHODS:
            out = args.out / f"{method}.onnx"
            q.quantize(pre, out, q.ranges(stats, method), q.ALWAYS_FLOAT)
            print(row(method, score(out, data, ref)), flush=True)
    rng = q.ranges(stats, args.method)
    groups = blocks(pre)
    if args.sensitivity:
        everything = [n for names in groups.values() for n in names]
        for block, names in list(groups.items())[args.first_block :]:
            out = args.out / "one.onnx"
            q.quantize(pre, out, rng, [*q.ALWAYS_FLOAT, *(n for n in everything if n not in names)])
            print(row(f"only {block} ({len(names)} nodes)", score(out, data, ref)), flush=True)
    if args.keep_blocks is not None:
        keep = [*q.ALWAYS_FLOAT, *(n for b in args.keep_blocks for n in groups[f"_blocks.{b}"])]
        out = args.out / f"keep_{'_'.join(map(str, args.keep_blocks)) or 'none'}.onnx"
        q.quantize(pre, out, rng, keep)
        print(row(f"{args.method}, float blocks {args.keep_blocks}", score(out, data, ref)))
        if args.rounds:
            before = load()
            ms = speed([q.SOURCE, out], args.rounds)
            print(
                f"ms per 1024x768: fp32 {ms[0]:.0f}, int8 {ms[1]:.0f}, ratio "
                f"{ms[0] / ms[1]:.2f}x ({before}; after: {load()})",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
