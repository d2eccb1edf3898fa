"""``lookalike eval BENCH_DIR``: retrieval quality of the app's own pipeline on a labelled bench.

The bench folder holds ``groundtruth.json`` (``groups``: name → image paths, ``distractors``:
paths; paths relative to the folder), as in ``shared/bench/dev``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lookalike.embed.presets import DEFAULT_PRESET, PRESETS
from lookalike.errors import KnownError

DEFAULT_BENCH = Path("../shared/bench/dev")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``eval`` command."""
    p = subparsers.add_parser(
        "eval", help="measure retrieval quality on a labelled bench", description=__doc__
    )
    p.add_argument(
        "bench",
        nargs="?",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench folder with groundtruth.json (default {DEFAULT_BENCH})",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help=f"quality preset (default {DEFAULT_PRESET})",
    )
    p.add_argument("--scales", help="override the preset's scales, e.g. 1024 or 1024,768")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def load_bench(bench: Path) -> tuple[list[Path], list[int]]:
    """Image paths and labels (group index, -1 for distractors) of a bench folder."""
    gt_file = bench / "groundtruth.json"
    try:
        gt = json.loads(gt_file.read_text())
    except (OSError, ValueError) as exc:
        raise KnownError(f"cannot read {gt_file}: {exc}") from exc
    paths: list[Path] = []
    labels: list[int] = []
    for label, members in enumerate(gt["groups"].values()):
        paths += [bench / p for p in members]
        labels += [label] * len(members)
    paths += [bench / p for p in gt.get("distractors", [])]
    labels += [-1] * (len(paths) - len(labels))
    return paths, labels


def run(args: argparse.Namespace) -> int:
    """Embed every bench image with the app's pipeline and print the scores."""
    import numpy as np

    from lookalike.embed.model import Embedder
    from lookalike.search.metrics import evaluate

    preset = args.preset or getattr(args, "preset_global", None) or DEFAULT_PRESET
    embedder = Embedder.from_preset(preset, threads=getattr(args, "threads", 0) or 0)
    if args.scales:
        embedder = Embedder(
            embedder.info.path, [int(s) for s in args.scales.split(",")], embedder.threads
        )
    paths, labels = load_bench(args.bench)
    start = time.perf_counter()
    vectors = np.zeros((len(paths), embedder.dim), np.float32)
    failed: list[str] = []
    for i, (path, result) in enumerate(embedder.embed_files(paths)):
        if isinstance(result, KnownError):
            failed.append(f"{path}: {result.reason if hasattr(result, 'reason') else result}")
        else:
            vectors[i] = result.vector
    seconds = time.perf_counter() - start
    scores = evaluate(vectors @ vectors.T, labels)
    out = {
        "mAP": round(scores.mean_ap, 2),
        "recall@1": round(scores.recall_at_1, 2),
        "recall@5": round(scores.recall_at_5, 2),
        "images": len(paths),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(paths) / seconds, 2),
        "preset": preset,
        "scales": list(embedder.scales),
        "model": embedder.info.trunk,
        "unreadable": failed,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"bench      {args.bench} ({len(paths)} images, {scores.queries} queries)")
        print(f"model      {embedder.info.trunk}, scales {embedder.scales}")
        print(f"mAP        {scores.mean_ap:.1f}")
        print(f"recall@1   {scores.recall_at_1:.1f}")
        print(f"recall@5   {scores.recall_at_5:.1f}")
        print(f"speed      {len(paths) / seconds:.2f} images/s ({seconds:.1f} s)")
        for line in failed:
            print(f"unreadable {line}", file=sys.stderr)
    return 0
