"""Search speed of the on-disk HNSW index against exact NumPy search.

Synthetic stand-in for a photo library: N unit vectors of dimension D drawn around C cluster
centres ("places"), with a per-cluster spread, so that a query's true top-10 are its cluster
mates at cosine ≈ 0.4–0.8 and nearly tied, which is harder for HNSW than uniform noise.
Queries are fresh draws from the same clusters (photos not in the library).

Measures, with ``lookalike.store.hnsw.VectorIndex``: build time, save time, file size, load
time (a new object from the file; the file is in the page cache), top-k latency p50/p95 one
query at a time (as the app searches), exact brute-force latency (N×D float32 matrix @ q, then
a partial sort), recall@k against exact, the speed-up, and peak RSS. With ``--catalog`` it also
fills a real SQLite catalog and times the app's start-up path (``load_or_rebuild``: load the
file, then diff it against the catalog) and reading every vector back (the rebuild input).

    python benchmarks/search_speed.py                    # N=100k, D=1280, 1000 queries
    python benchmarks/search_speed.py --n 20000 --json   # quicker, machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import IndexParams, VectorIndex
from lookalike.store.index_sync import load_or_rebuild

F32 = npt.NDArray[np.float32]
MODEL = "bench-model"


def clustered(
    rng: np.random.Generator, centres: F32, spread: F32, n: int, chunk: int = 8192
) -> F32:
    """(n, D) unit vectors: a random centre plus gaussian noise of the centre's spread."""
    dim = centres.shape[1]
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        which = rng.integers(len(centres), size=stop - start)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        block = centres[which] + noise * (spread[which, None] / np.sqrt(dim))
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return {"p50_ms": round(float(p50), 3), "p95_ms": round(float(p95), 3)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def exact_topk(data: F32, q: F32, k: int) -> npt.NDArray[np.int64]:
    scores = data @ q
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])].astype(np.int64)


def exact_search(data: F32, queries: F32, k: int) -> tuple[list[set[int]], dict[str, float]]:
    """Exact top-k row sets of every query and the per-query latency."""
    truths, seconds = [], []
    for q in queries:
        truth, took = timed(lambda q=q: exact_topk(data, q, k))
        truths.append(set(truth.tolist()))
        seconds.append(took)
    return truths, percentiles_ms(seconds)


def hnsw_search(index: VectorIndex, queries: F32, truths: list[set[int]], k: int) -> dict[str, Any]:
    """Per-query latency and recall@k of the index (labels are row + 1)."""
    seconds, hits = [], 0
    for q, truth in zip(queries, truths, strict=True):
        (ids, _), took = timed(lambda q=q: index.knn(q, k))
        seconds.append(took)
        hits += len(set((ids[0] - 1).tolist()) & truth)
    return {**percentiles_ms(seconds), "recall": round(hits / (k * len(queries)), 4)}


def with_catalog(data: F32, folder: Path, index_path: Path, params: IndexParams) -> dict[str, Any]:
    """Fill a catalog with the same vectors (ids 1..N) and time the start-up path."""
    catalog = Catalog.open(folder / "catalog.sqlite")
    try:
        root = catalog.add_root(folder / "photos")

        def fill() -> None:
            if catalog.count_indexed(MODEL) == len(data):  # kept from an earlier --keep run
                return
            with catalog.transaction():
                for i, vec in enumerate(data):
                    path = folder / "photos" / f"{i:07d}.jpg"
                    photo_id = catalog.upsert_pending(root, path, 1, 1, None)
                    catalog.set_indexed(photo_id, MODEL, vec, b"")

        _, fill_s = timed(fill)
        (_, reason), startup_s = timed(
            lambda: load_or_rebuild(index_path, catalog, MODEL, data.shape[1], params)
        )
        _, read_s = timed(lambda: sum(len(ids) for ids, _ in catalog.iter_vectors(MODEL)))
        return {
            "catalog_fill_s": round(fill_s, 2),
            "catalog_bytes": (folder / "catalog.sqlite").stat().st_size,
            "startup_load_or_rebuild_s": round(startup_s, 3),
            "startup_rebuild_reason": reason,
            "catalog_read_all_vectors_s": round(read_s, 2),
        }
    finally:
        catalog.close()


def build_and_save(data: F32, params: IndexParams, path: Path) -> dict[str, Any]:
    """Build the index in catalog-sized batches (labels = row + 1) and save it."""
    index = VectorIndex(data.shape[1], MODEL, params, capacity=len(data))

    def build() -> None:
        for start in range(0, len(data), 4096):
            block = data[start : start + 4096]
            index.add(np.arange(start + 1, start + 1 + len(block)), block)

    _, build_s = timed(build)
    _, save_s = timed(lambda: index.save(path))
    size = path.stat().st_size + path.with_name(path.name + ".json").stat().st_size
    return {"build_s": round(build_s, 2), "save_s": round(save_s, 3), "file_bytes": size}


def load_and_search(
    path: Path, params: IndexParams, data: F32, queries: F32, args: argparse.Namespace
) -> dict[str, Any]:
    """Load the saved index, then time exact search and HNSW at each ef_search."""
    loaded, load_s = timed(lambda: VectorIndex.load(path, MODEL, data.shape[1], params))
    truths, exact = exact_search(data, queries, args.k)
    hnsw = {}
    for ef in args.ef_search:
        loaded.params = replace(loaded.params, ef_search=ef)
        found = hnsw_search(loaded, queries, truths, args.k)
        found["speedup_p50"] = round(exact["p50_ms"] / found["p50_ms"], 1)
        hnsw[ef] = found
    return {"load_s": round(load_s, 3), "exact": exact, "hnsw": hnsw}


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spread = rng.uniform(args.spread_min, args.spread_max, args.clusters).astype(np.float32)
    data = clustered(rng, centres, spread, args.n)
    queries = clustered(rng, centres, spread, args.queries)
    params = IndexParams(args.m, args.ef_construction, args.ef_search[0], args.threads)
    result: dict[str, Any] = {
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "k": args.k,
        "params": {"M": args.m, "ef_construction": args.ef_construction, "threads": args.threads},
        "load_average_start": [round(x, 1) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.hnsw"
        if path.exists():  # --keep: reuse the index built from the same seed
            result.update(build_s=None, save_s=None, file_bytes=path.stat().st_size)
        else:
            result.update(build_and_save(data, params, path))
        result.update(load_and_search(path, params, data, queries, args))
        if args.catalog:
            result.update(with_catalog(data, folder, path, params))
    result["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    result["peak_rss_mib"] = round(peak / 2**20)
    return result


def table(r: dict[str, Any]) -> str:
    k = r["k"]
    rows = [
        ("vectors × dim", f"{r['n']:,} × {r['dim']}"),
        ("HNSW params", ", ".join(f"{a}={b}" for a, b in r["params"].items())),
        (
            "build",
            f"{r['build_s']:.1f} s ({r['n'] / r['build_s']:,.0f} vectors/s)"
            if r["build_s"]
            else "reused (--keep)",
        ),
        ("save (tmp + fsync + rename)", f"{r['save_s']:.2f} s" if r["save_s"] else "-"),
        ("file size (index + sidecar)", f"{r['file_bytes'] / 2**20:,.0f} MiB"),
        ("load (new object from file)", f"{r['load_s']:.2f} s"),
        (f"exact top-{k} p50 / p95", f"{r['exact']['p50_ms']:.2f} / {r['exact']['p95_ms']:.2f} ms"),
    ]
    for ef, h in r["hnsw"].items():
        rows.append((
            f"HNSW ef={ef}: top-{k} p50 / p95",
            f"{h['p50_ms']:.2f} / {h['p95_ms']:.2f} ms, recall@{k} {h['recall']:.4f}, "
            f"speed-up {h['speedup_p50']:.0f}×",
        ))  # fmt: skip
    rows += [
        ("load average (1/5/15 min)", f"{r['load_average_start']} → {r['load_average_end']}"),
    ]
    if "startup_load_or_rebuild_s" in r:
        rows += [
            ("catalog fill (one transaction)", f"{r['catalog_fill_s']:.1f} s"),
            ("catalog file size", f"{r['catalog_bytes'] / 2**20:,.0f} MiB"),
            (
                "start-up: load_or_rebuild",
                f"{r['startup_load_or_rebuild_s']:.2f} s (rebuilt: {r['startup_rebuild_reason']})",
            ),
            ("catalog: read all vectors", f"{r['catalog_read_all_vectors_s']:.2f} s"),
        ]
    rows.append(("peak RSS", f"{r['peak_rss_mib']:,} MiB"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000, help="vectors in the index")
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=None, help="default n/50 (2,000 at 100k)")
    ap.add_argument("--spread-min", type=float, default=0.5, help="noise/centre norm ratio")
    ap.add_argument("--spread-max", type=float, default=1.5)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", type=int, default=IndexParams.m)
    ap.add_argument("--ef-construction", type=int, default=IndexParams.ef_construction)
    ap.add_argument(
        "--ef-search",
        type=int,
        nargs="+",
        default=[IndexParams.ef_search],
        help="one or more query beam widths, each measured on the same index",
    )
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="for the build")
    ap.add_argument("--catalog", action="store_true", help="also time the SQLite start-up path")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the temporary files")
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep index (and catalog) in this folder and reuse them on the next run with the "
        "same --n/--dim/--seed/--m/--ef-construction, to sweep --ef-search without rebuilding",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    args.clusters = args.clusters or max(1, args.n // 50)
    result = run(args)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
