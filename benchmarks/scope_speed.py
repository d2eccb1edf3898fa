"""Time and recall of a scoped kNN: hnswlib's filtered search against the exact product over
the allowed ids (their vectors read from a real catalog), for scopes of several sizes, on N
clustered unit vectors (D=1280, as the balanced model). The reference in the same run is the
unscoped hnswlib query.

Prints, per scope size: ms per query of the exact path (``store.scope.knn_among`` below
``EXACT_MAX``), of hnswlib with a filter, their ratio, and the filtered search's recall@k
against the exact answer; this is what ``EXACT_MAX`` is chosen from.

    python benchmarks/scope_speed.py --n 30000 --queries 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from lookalike.store import scope as scope_mod
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import VectorIndex

DIM = 1280


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--k", type=int, default=60)
    args = ap.parse_args()
    scope_mod.EXACT_MAX = 10**9  # always the exact path, to compare
    rng = np.random.default_rng(0)
    centres = unit(rng.standard_normal((max(1, args.n // 50), DIM)))
    vecs = unit(centres[rng.integers(0, len(centres), args.n)]
                + 0.9 * unit(rng.standard_normal((args.n, DIM))))  # fmt: skip
    started = time.perf_counter()
    catalog = Catalog.open(Path(tempfile.mkdtemp()) / "catalog.sqlite")
    root = catalog.add_root(Path("/bench"))
    with catalog.transaction():
        for i in range(args.n):
            pid = catalog.upsert_pending(root, Path(f"/bench/{i}.jpg"), 1, 1, None)
            catalog.set_indexed(pid, "bench", vecs[i], b"")
    index = VectorIndex(DIM, "bench", capacity=args.n)
    for lo in range(0, args.n, 5000):
        index.add(np.arange(lo + 1, min(args.n, lo + 5000) + 1), vecs[lo:lo + 5000])
    print(f"load {os.getloadavg()[0]:.1f}; built {args.n} x {DIM} in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    queries = unit(vecs[rng.integers(0, args.n, args.queries)]
                   + 0.5 * unit(rng.standard_normal((args.queries, DIM))))  # fmt: skip
    t = time.perf_counter()
    for q in queries:
        index.knn(q[None], args.k, whitened=True)
    plain = (time.perf_counter() - t) / args.queries * 1000
    print(f"unscoped hnswlib: {plain:.2f} ms/query (reference)")
    print(f"{'scope':>8} {'exact ms':>9} {'filter ms':>10} {'filter/exact':>13} {'recall':>7}")
    for size in (100, 1000, 5000, 20000, args.n // 2):
        if size > args.n:
            continue
        allowed = set((rng.choice(args.n, size, replace=False) + 1).tolist())
        t = time.perf_counter()
        exact = [scope_mod.knn_among(catalog, index, q[None], args.k, allowed)[0][0]
                 for q in queries]  # fmt: skip
        exact_ms = (time.perf_counter() - t) / args.queries * 1000
        t = time.perf_counter()
        approx = [index.knn(q[None], args.k, allowed.__contains__, whitened=True)[0][0]
                  for q in queries]  # fmt: skip
        filter_ms = (time.perf_counter() - t) / args.queries * 1000
        recall = np.mean([len(set(a.tolist()) & set(e.tolist())) / max(1, len(e))
                          for a, e in zip(approx, exact, strict=True)])  # fmt: skip
        print(f"{size:>8} {exact_ms:>9.2f} {filter_ms:>10.2f} {filter_ms / exact_ms:>13.2f} "
              f"{recall:>7.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
