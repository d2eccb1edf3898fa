"""Where a bench's mAP is lost: per query kind, per verification level, and an oracle bound.

    python benchmarks/map_loss.py ../shared/bench/dev [--chance 10] [--json]

Runs the default search of ``lookalike eval`` (the same functions: ``cli.eval_cmd.embed_bench``
and ``rank_bench``, so the mAP equals the eval's) and reports:

- the mAP and the loss (100 - mAP) split between the queries of two-photo groups (a name
  starting ``pair_``: bench/dev's wide-baseline pairs) and the others;
- the loss split by the verification of the true results that cause it: a true result at rank
  k costs precision at k; that cost is counted against it, as at or below ``--chance`` inliers
  (the chance level of unrelated pairs) or above;
- oracle bounds: the mAP if every true result with more than T inliers were moved to the top
  of its list (the labels decide, so no rule on the inliers can do better without also moving
  false results above chance), for T = the chance level, 13 and 18.
- the worst queries, with their true results' ranks, inliers and verdicts.

Measures only; nothing here is used by the product.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "desktop"))

from lookalike.cli import eval_cmd
from lookalike.cli.main import parse_args

Row = tuple[int, int, int]  # (photo id, rank, inliers)


def rankings(bench: Path) -> tuple[list[Path], list[int], list[list[Row]], list[list[str]]]:
    """Each query's ranking by ``lookalike eval BENCH``'s default search (its own functions,
    with the command's own default options)."""
    args = parse_args(["eval", str(bench)])
    embedded = eval_cmd.embed_bench(args)
    _, ranked = eval_cmd.rank_bench(embedded, eval_cmd._options(args), args.whiten)
    rows = [[(m.photo_id, m.rank, m.inliers) for m in r] for r in ranked]
    verdicts = [[m.verdict for m in r] for r in ranked]
    return embedded.paths, embedded.labels, rows, verdicts


def average_precision(order: list[int], positives: set[int]) -> float:
    hits, total = 0, 0.0
    for k, photo in enumerate(order, start=1):
        if photo in positives:
            hits += 1
            total += hits / k
    return 100 * total / max(1, len(positives))


def analyse(paths: list[Path], labels: list[int], rows: list[list[Row]],
            verdicts: list[list[str]], chance: int) -> dict[str, Any]:  # fmt: skip
    queries = [q for q, r in enumerate(rows) if r]
    n = len(queries)
    positives = {q: {j for j, lab in enumerate(labels) if lab == labels[q] and j != q}
                 for q in queries}  # fmt: skip
    aps, loss_kind, loss_level = {}, {"pair": 0.0, "group": 0.0}, {"at_chance": 0.0, "above": 0.0}
    for q in queries:
        ranked = sorted(rows[q], key=lambda row: row[1])
        aps[q] = average_precision([p for p, _, _ in ranked], positives[q])
        kind = "pair" if paths[q].name.startswith("pair_") else "group"
        loss_kind[kind] += (100 - aps[q]) / n
        hits = 0
        for k, (photo, _, inliers) in enumerate(ranked, start=1):
            if photo in positives[q]:
                hits += 1
                cost = 100 * (1 - hits / k) / len(positives[q]) / n
                loss_level["at_chance" if inliers <= chance else "above"] += cost
    bounds = {}
    for level in (chance, 13, 18):
        moved = []
        for q in queries:
            ranked = sorted(rows[q], key=lambda row: row[1])
            top = [p for p, _, i in ranked if p in positives[q] and i > level]
            rest = [p for p, _, _ in ranked if p not in set(top)]
            moved.append(average_precision(top + rest, positives[q]))
        bounds[f"true_above_{level}_inliers_first"] = round(float(np.mean(moved)), 2)
    worst = sorted(queries, key=lambda q: aps[q])[:15]
    return {
        "mAP": round(float(np.mean(list(aps.values()))), 2),
        "queries": n,
        "pair_queries": sum(paths[q].name.startswith("pair_") for q in queries),
        "loss_by_query_kind": {k: round(v, 2) for k, v in loss_kind.items()},
        f"loss_by_true_result_inliers_le_{chance}": {k: round(v, 2) for k, v in loss_level.items()},
        "oracle_mAP": bounds,
        "worst": [{"query": paths[q].name, "AP": round(aps[q], 1),
                   "true": [{"rank": r, "inliers": i, "verdict": verdicts[q][r - 1]}
                            for p, r, i in sorted(rows[q], key=lambda row: row[1])
                            if p in positives[q]][:5]} for q in worst],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", type=Path)
    ap.add_argument("--chance", type=int, default=10,
                    help="inliers unrelated pairs reach by chance (rerank.CHANCE_INLIERS)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = analyse(*rankings(args.bench.resolve()), args.chance)
    if args.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        if key != "worst":
            print(f"{key}: {value}")
    for row in out["worst"]:
        print(f"  {row['query']}: AP {row['AP']}, true results {row['true']}")


if __name__ == "__main__":
    main()
