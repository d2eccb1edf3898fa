"""The chance cosine: how close two unrelated photos come in the default preset's global space.

    python benchmarks/duplicates_chance.py BENCH [BENCH ...] [--home DIR]

Each BENCH is a labelled bench (``groundtruth.json`` with ``groups`` and optionally
``distractors``, e.g. ``shared/bench/dev`` or a copies bench of ``make_copies_bench.py``). Its
photos are indexed into a library (``--home`` keeps it between runs) and the global cosine of
every unrelated pair (photos of different groups, or a distractor and any other photo) is read
from the index. Prints, as JSON, the unrelated pairs' percentiles and largest cosines, the
same-group pairs' (same scene, or copies) lower percentiles, and the share of both at or above
a few levels. A distractor counts as unrelated to every other photo: on a bench whose
distractors include views of one another (a copies bench) read only the same-group side.

Duplicate grouping checks no pair below this level (``grouping.CHANCE_COSINE``): a pair of
photos that close happens by chance. Measures only; nothing is fitted on the bench.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "desktop"))

from lookalike.embed.model import Embedder  # noqa: E402
from lookalike.library import Library  # noqa: E402

PERCENTILES = (50, 90, 95, 99, 99.9)
LEVELS = (0.60, 0.65, 0.68, 0.70, 0.72, 0.75, 0.80)


def cosines(bench: Path, home: Path) -> tuple[list[float], list[float]]:
    """Index ``bench`` into ``home``; returns (unrelated, same-group) pair cosines."""
    truth = json.loads((bench / "groundtruth.json").read_text())
    label = {(bench / p).resolve(): name for name, ps in truth["groups"].items() for p in ps}
    label.update({(bench / p).resolve(): f"distractor {p}" for p in truth.get("distractors", [])})
    with Library.open(home, Embedder.from_preset()) as library:
        if not library.roots():
            library.add_root(bench)
        for _ in library.sync():
            pass
        index = library._writer.index  # a benchmark reads the library's own index
        live = index.labels()
        photos = [(i, p.resolve()) for root in library.roots()
                  for i, p, _ in library.photos_under(root.path)
                  if p.resolve() in label and i in live]
        ids = np.asarray([i for i, _ in photos], np.int64)
        vectors = index.vectors(ids)
    sims = vectors @ vectors.T
    unrelated, same = [], []
    for (i, (_, pi)), (j, (_, pj)) in itertools.combinations(enumerate(photos), 2):
        (same if label[pi] == label[pj] else unrelated).append(float(sims[i, j]))
    return unrelated, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", type=Path, nargs="+")
    parser.add_argument("--home", type=Path, default=None,
                        help="folder of the libraries kept between runs (one per bench)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = (args.home or Path(tmp)).resolve()
        for bench in args.benches:
            unrelated, same = cosines(bench.resolve(), base / bench.resolve().name)
            u, s = np.asarray(unrelated), np.asarray(same)
            levels = {str(p): round(float(np.percentile(u, p)), 4) for p in PERCENTILES}
            print(json.dumps({
                "bench": str(bench), "unrelated_pairs": len(u), "same_group_pairs": len(s),
                "unrelated_percentiles": levels,
                "unrelated_largest": [round(float(x), 4) for x in np.sort(u)[-5:][::-1]],
                "same_group_percentiles": {str(p): round(float(np.percentile(s, 100 - p)), 4)
                                           for p in PERCENTILES},
                "share_at_or_above": {str(v): {"unrelated": round(float((u >= v).mean()), 4),
                                               "same_group": round(float((s >= v).mean()), 4)}
                                      for v in LEVELS},
                "load": round(os.getloadavg()[0], 1)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
