"""The vector index at a million photos: build time, memory, disk and search latency.

Adds N synthetic clustered unit vectors (1280-d, as ``query_speed.py`` makes them: N/50
"places") to the app's own :class:`lookalike.store.hnsw.VectorIndex` with the default
:class:`~lookalike.store.hnsw.IndexParams` and all cores, within ``--budget-s`` seconds: if
the budget runs out first it stops, and the figures are those of the vectors added so far plus
the measured insertion rate (the report says which). It then saves the index, and times
``knn(top=50)`` one query at a time (as a search does) for ``--queries`` photos of the index
with the default ``ef``, reporting p50/p95 and the recall of the true cluster mates.

The catalog (vectors + local features, ~21 KB per photo) is not written here: at 1M it would
be ~21 GB and hours of single-threaded SQLite inserts on this machine; its size per photo and
the re-ranking cost per query do not depend on N and come from ``query_speed.py`` at 100k.

    python benchmarks/million.py --n 1000000 --budget-s 1200 --home /tmp/m1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lookalike.library.facade import INDEX_FILE
from lookalike.store.hnsw import IndexParams, VectorIndex
from query_speed import DIM, World, photo_vectors, say, unit

MODEL = "bench-million"
CHUNK = 8192


def rss_mib() -> tuple[float, float]:
    """Current and peak resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return round(current), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def build(n: int, budget_s: float, seed: int) -> tuple[VectorIndex, dict[str, Any], np.ndarray]:
    """Add up to ``n`` vectors within the budget; returns the index, figures, id → cluster."""
    rng = np.random.default_rng(seed)
    clusters = max(1, n // 50)  # the places only (no local-feature scenes: not needed here)
    centres = unit(rng.standard_normal((clusters, DIM), dtype=np.float32))
    spread = rng.uniform(0.5, 1.5, clusters).astype(np.float32)
    empty = np.zeros((clusters, 0, 2), np.float32)
    world = World(centres, spread, empty, np.zeros((clusters, 0, 1), np.float32))
    params = IndexParams(num_threads=os.cpu_count() or 1)
    index = VectorIndex(DIM, MODEL, params, capacity=n)
    labels = np.full(n, -1, np.int64)
    started = time.perf_counter()
    gen_s = 0.0
    for start in range(0, n, CHUNK):
        if time.perf_counter() - started > budget_s:
            say(f"budget of {budget_s:.0f} s reached at {start:,} vectors")
            break
        g0 = time.perf_counter()
        which = rng.integers(len(world.centres), size=min(CHUNK, n - start))
        vectors = photo_vectors(rng, world, which)
        gen_s += time.perf_counter() - g0
        labels[start : start + len(which)] = which
        index.add(np.arange(start + 1, start + 1 + len(which)), vectors)
        if (start // CHUNK) % 8 == 0:
            took = time.perf_counter() - started - gen_s
            say(f"index {index.live_count:,}/{n:,} ({took:.0f} s, {index.live_count / took:.0f}/s)"
                f", load {os.getloadavg()[0]:.1f}")  # fmt: skip
    added = index.live_count
    build_s = time.perf_counter() - started - gen_s
    figures = {"requested": n, "added": added, "complete": added == n,
               "build_s": round(build_s, 1), "vectors_per_s": round(added / build_s, 1),
               "extrapolated_build_s_for_n": round(n * build_s / added),
               "threads": params.num_threads, "m": params.m,
               "ef_construction": params.ef_construction}  # fmt: skip
    return index, figures, labels[:added]


def searches(index: VectorIndex, labels: np.ndarray, queries: int, seed: int) -> dict[str, Any]:
    """p50/p95 of one top-50 query at a time, and the share of the top 50 in the same place."""
    rng = np.random.default_rng(seed + 1)
    ids = rng.choice(len(labels), size=min(queries, len(labels)), replace=False) + 1
    vectors = index.vectors(ids)
    times, same = [], []
    for photo_id, vec in zip(ids, vectors, strict=True):
        start = time.perf_counter()
        found, _ = index.knn(vec, 50, whitened=True, threads=1)
        times.append(time.perf_counter() - start)
        mates = int((labels == labels[photo_id - 1]).sum())
        hits = int((labels[found[0] - 1] == labels[photo_id - 1]).sum())
        same.append(hits / min(50, mates))
    ms = np.asarray(times) * 1000
    return {"queries": len(ids), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "cluster_mates_found": round(float(np.mean(same)), 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--budget-s", type=float, default=1800, help="stop adding after this")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--home", type=Path, required=True, help="folder the index is saved in")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result: dict[str, Any] = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count()}
    index, result["build"], labels = build(args.n, args.budget_s, args.seed)
    result["rss_after_build_mib"], result["peak_rss_mib"] = rss_mib()
    args.home.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    index.save(args.home / INDEX_FILE)
    result["save_s"] = round(time.perf_counter() - start, 1)
    result["index_bytes"] = sum(p.stat().st_size for p in args.home.iterdir())
    result["index_b_per_vector"] = result["index_bytes"] // max(1, index.live_count)
    result["search"] = searches(index, labels, args.queries, args.seed)
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
