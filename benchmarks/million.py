"""A real million-photo library: catalog, index, open and search, each timed.

Three phases, each its own process (run ``index`` and ``catalog`` side by side; ``search``
needs both), each writing its figures to ``HOME/million-<phase>.json``:

``catalog``  writes N indexed photos into ``HOME/catalog.sqlite`` in the app's schema: the
    first chunk through the Catalog API (``upsert_pending`` + ``set_indexed``, what the app's
    writer calls; its rows/s is the reference), the rest through :mod:`million_rows` (the same
    rows, many per statement, in one transaction per chunk). A check reads chunk 0 back and
    asserts the bulk rows equal the API's byte for byte. Resumable: it continues after the
    last photo written.
``index``    adds the same vectors (regenerated from the seed, chunk by chunk) to the app's
    :class:`~lookalike.store.hnsw.VectorIndex` with the default ``IndexParams``, the
    default projection (``lookalike.store.projection``: 1280 → 384 dims) and all cores, until
    N or ``--budget-s`` (the catalog stops at its budget too); then saves ``HOME/index.hnsw``
    (time, peak RSS, size).
``search``   opens the home with ``Library.open`` (twice: the first open checks the new
    catalog file; the second is a normal open), then times ``search_photo`` of ``--queries``
    library photos with the default ``SearchOptions`` (DBA + spatial re-ranking) and plain
    kNN (no DBA, no re-ranking), and reads ``Library.status()``. If the index stopped at its
    budget with K < N vectors, photos K+1..N are first set back to 'pending' (their rows
    stay), so the library is consistent: 1M photos catalogued, K searchable.

Vectors and local features are those of ``query_speed.py`` (clustered unit vectors, N/50
places, each with a scene of local features seen through a random affine map), generated per
chunk of 8,192 photos from ``(seed, chunk)`` so that both writers agree without sharing memory.

    python benchmarks/million.py catalog --home /data/m1 --n 1000000 &
    python benchmarks/million.py index   --home /data/m1 --n 1000000 --budget-s 5400 &
    wait; python benchmarks/million.py search --home /data/m1 --queries 100
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lookalike
import million_rows
from lookalike.library.facade import CATALOG_FILE, INDEX_FILE
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import IndexParams, VectorIndex
from lookalike.types import locals_to_bytes
from query_speed import DIM, World, peaks_blob, photo_locals, photo_vectors, say, unit

MODEL = "bench-million"
CHUNK = 8192


# --- the synthetic library, chunk by chunk ----------------------------------------------------


def places(n: int, seed: int, scenes: bool) -> World:
    """The N/50 places (centres, spreads; scenes of local features only if ``scenes``)."""
    clusters = max(1, n // 50)
    rng = np.random.default_rng([seed, 0])
    centres = unit(rng.standard_normal((clusters, DIM), dtype=np.float32))
    spread = rng.uniform(0.5, 1.5, clusters).astype(np.float32)
    if not scenes:
        return World(centres, spread, np.zeros((1, 0, 2), np.float32),
                     np.zeros((1, 0, 1), np.float32))  # fmt: skip
    made = World.make(np.random.default_rng([seed, 1]), clusters)  # its scenes only
    return World(centres, spread, made.scene_xy, made.scene_codes)


def chunk_places(rng: np.random.Generator, n: int, chunk: int) -> npt.NDArray[np.intp]:
    """The place of each photo of a chunk: the first draw of the chunk's generator."""
    return rng.integers(max(1, n // 50), size=min(CHUNK, n - chunk * CHUNK))


Chunk = tuple[npt.NDArray[np.int64], npt.NDArray[np.intp], npt.NDArray[np.float32]]


def chunk_vectors(world: World, n: int, seed: int, chunk: int) -> Chunk:
    """Photo ids (1-based), places and (b, D) unit vectors of one chunk."""
    rng = np.random.default_rng([seed, 2, chunk])
    which = chunk_places(rng, n, chunk)
    ids = np.arange(chunk * CHUNK + 1, chunk * CHUNK + 1 + len(which), dtype=np.int64)
    return ids, which, photo_vectors(rng, world, which)


def all_places(n: int, seed: int) -> npt.NDArray[np.int32]:
    """Photo id → place (index 0 unused), without making the vectors."""
    got = [chunk_places(np.random.default_rng([seed, 2, c]), n, c) for c in range(chunks(n))]
    return np.concatenate([[-1], *got]).astype(np.int32)


def chunk_locals(world: World, seed: int, chunk: int, which: npt.NDArray[np.intp]
                 ) -> list[bytes]:  # fmt: skip
    """The chunk's local-feature blobs, as the catalog stores them (made 2,048 at a time)."""
    rng = np.random.default_rng([seed, 3, chunk])
    blobs: list[bytes] = []
    for start in range(0, len(which), 2048):
        blobs += [locals_to_bytes(x) for x in photo_locals(rng, world, which[start : start + 2048])]
    return blobs


def chunks(n: int) -> int:
    return -(-n // CHUNK)


def rss_mib() -> tuple[int, int]:
    """Current and peak resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return round(current), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def cpu_s() -> float:
    """CPU seconds this process has used (all threads, user + system)."""
    t = os.times()
    return t.user + t.system


def load() -> float:
    return round(os.getloadavg()[0], 1)


def save_figures(home: Path, phase: str, figures: dict[str, Any]) -> None:
    (home / f"million-{phase}.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))


# --- catalog ----------------------------------------------------------------------------------


def fill_catalog(args: argparse.Namespace) -> dict[str, Any]:
    """Chunk 0 through the Catalog API (checked against the bulk rows), the rest in bulk."""
    world = places(args.n, args.seed, scenes=True)
    peaks = peaks_blob(np.random.default_rng([args.seed, 4]))
    folder = args.home / "photos"
    folder.mkdir(exist_ok=True)
    path = args.home / CATALOG_FILE
    with Catalog.open(path) as catalog:
        root = catalog.add_root(folder)
        done = int(catalog._one("SELECT coalesce(max(id), 0) FROM photos"))
        if done % CHUNK and done != args.n:
            raise SystemExit(f"{path} holds {done} photos, not whole chunks: start afresh")
        figures: dict[str, Any] = {"resumed_at": done}
        if done == 0:
            figures["api"] = api_chunk(catalog, root, world, peaks, args)
            done = CHUNK
    figures["bulk"] = bulk_chunks(path, root, world, peaks, args, done // CHUNK)
    with closing(sqlite3.connect(path)) as conn:
        rows = int(conn.execute("SELECT count(*) FROM photos").fetchone()[0])
    size = sum(p.stat().st_size for p in args.home.glob(f"{CATALOG_FILE}*") if p.is_file())
    figures |= {"photos": rows, "complete": rows == args.n, "catalog_bytes": size,
                "catalog_b_per_photo": size // max(1, rows)}  # fmt: skip
    figures["peak_rss_mib"] = rss_mib()[1]
    return figures


def api_chunk(catalog: Catalog, root: int, world: World, peaks: bytes,
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Write chunk 0 as the app's writer does; then check the bulk rows equal it."""
    g0, c0 = time.perf_counter(), cpu_s()
    ids, which, vectors = chunk_vectors(world, args.n, args.seed, 0)
    blobs = chunk_locals(world, args.seed, 0, which)
    w0, c1 = time.perf_counter(), cpu_s()
    million_rows.write_api(catalog, root, args.home / "photos", MODEL, ids, vectors, peaks, blobs)
    w1, c2 = time.perf_counter(), cpu_s()
    with closing(sqlite3.connect(catalog.path)) as conn:  # a reader beside the open catalog
        bulk = million_rows.bulk_rows(root, args.home / "photos", MODEL, ids, vectors, peaks,
                                      blobs)  # fmt: skip
        differs = million_rows.same_rows(million_rows.stored_rows(conn, 1, len(ids)), bulk)
    if differs:
        raise SystemExit(f"bulk rows differ from the Catalog API's: {differs}")
    say(f"catalog API: {len(ids):,} photos in {w1 - w0:.0f} s ({len(ids) / (w1 - w0):.0f}/s); "
        f"bulk rows checked equal")  # fmt: skip
    return {"rows": len(ids), "generate_s": round(w0 - g0, 1), "write_s": round(w1 - w0, 1),
            "generate_cpu_s": round(c1 - c0, 1), "write_cpu_s": round(c2 - c1, 1),
            "rows_per_write_cpu_s": round(len(ids) / max(c2 - c1, 1e-9), 1),
            "rows_per_s": round(len(ids) / (w1 - w0), 1), "bulk_rows_equal": True,
            "load": load()}  # fmt: skip


def bulk_chunks(path: Path, root: int, world: World, peaks: bytes, args: argparse.Namespace,
                first: int) -> dict[str, Any]:  # fmt: skip
    """Write chunks ``first``.. in bulk; wall and CPU seconds generating, preparing, writing."""
    parts = ("generate", "prepare", "write")
    spent = {f"{p}_{unit}": 0.0 for p in parts for unit in ("s", "cpu_s")}
    rows, loads, started = 0, [load()], time.perf_counter()
    with closing(million_rows.open_bulk(path)) as conn:
        for chunk in range(first, chunks(args.n)):
            if time.perf_counter() - started > args.budget_s:
                say(f"catalog: budget of {args.budget_s:.0f} s reached at {chunk * CHUNK:,}")
                break
            marks = [(time.perf_counter(), cpu_s())]
            ids, which, vectors = chunk_vectors(world, args.n, args.seed, chunk)
            blobs = chunk_locals(world, args.seed, chunk, which)
            marks.append((time.perf_counter(), cpu_s()))
            photos, vecs = million_rows.bulk_rows(root, args.home / "photos", MODEL, ids,
                                                  vectors, peaks, blobs)  # fmt: skip
            marks.append((time.perf_counter(), cpu_s()))
            million_rows.write_bulk(conn, photos, vecs)
            marks.append((time.perf_counter(), cpu_s()))
            for p, (a, b) in zip(parts, itertools.pairwise(marks), strict=True):
                spent[f"{p}_s"] += b[0] - a[0]
                spent[f"{p}_cpu_s"] += b[1] - a[1]
            rows, loads = rows + len(ids), [*loads, load()]
            say(
                f"catalog {int(ids[-1]):,}/{args.n:,}: all {rows / (marks[-1][0] - started):.0f}"
                f" rows/s; write {rows / spent['write_s']:.0f} rows/s, {spent['write_cpu_s']:.0f}"
                f" cpu-s; generate {spent['generate_cpu_s']:.0f} cpu-s; load {loads[-1]}"
            )
    took = time.perf_counter() - started
    return {"rows": rows, "wall_s": round(took, 1), "rows_per_s_overall": round(rows / took, 1),
            "rows_per_s_write": round(rows / max(spent["write_s"], 1e-9), 1),
            "rows_per_write_cpu_s": round(rows / max(spent["write_cpu_s"], 1e-9), 1),
            **{k: round(v, 1) for k, v in spent.items()}, "load_min_max": [min(loads), max(loads)],
            "load_mean": round(float(np.mean(loads)), 1)}  # fmt: skip


def compare_writes(args: argparse.Namespace) -> dict[str, Any]:
    """Why the Catalog API is slow for a million rows: ``--queries`` photos (default 100,
    take 4,096) of chunk 0 written through the API, in bulk under WAL, in bulk as loaded."""
    world = places(args.n, args.seed, scenes=True)
    ids, which, vectors = chunk_vectors(world, args.n, args.seed, 0)
    count = min(args.queries, len(ids))
    blobs = chunk_locals(world, args.seed, 0, which[:count])
    peaks = peaks_blob(np.random.default_rng([args.seed, 4]))
    folder = args.home / "writes"
    folder.mkdir(exist_ok=True)
    out: dict[str, Any] = million_rows.compare_writes(
        folder, MODEL, ids[:count], vectors[:count], peaks, blobs,
        lambda: (time.perf_counter(), cpu_s()))  # fmt: skip
    folder.rmdir()
    out["bulk_over_api_cpu"] = round(
        out["bulk"]["rows_per_cpu_s"] / out["api"]["rows_per_cpu_s"], 1
    )
    return out | {"rows": count}


# --- index ------------------------------------------------------------------------------------


def build_index(args: argparse.Namespace) -> dict[str, Any]:
    """Add the chunks' vectors to a VectorIndex (default params, all cores) within the budget."""
    world = places(args.n, args.seed, scenes=False)
    params = IndexParams(num_threads=os.cpu_count() or 1)
    index = VectorIndex(DIM, MODEL, params, capacity=args.n)
    started, gen_s, gen_cpu, loads, cpu0 = time.perf_counter(), 0.0, 0.0, [load()], cpu_s()
    for chunk in range(chunks(args.n)):
        if time.perf_counter() - started > args.budget_s:
            say(f"index: budget of {args.budget_s:.0f} s reached at {index.live_count:,}")
            break
        g0, c0 = time.perf_counter(), cpu_s()
        ids, _, vectors = chunk_vectors(world, args.n, args.seed, chunk)
        a0, c1 = time.perf_counter(), cpu_s()
        gen_s, gen_cpu = gen_s + a0 - g0, gen_cpu + c1 - c0
        index.add(ids, vectors)
        took, loads = time.perf_counter() - started - gen_s, [*loads, load()]
        cpu, per_cpu = cpu_s() - cpu0 - gen_cpu, len(ids) / max(cpu_s() - c1, 0.01)
        say(
            f"index {index.live_count:,}/{args.n:,}: {took:.0f} s, {cpu:.0f} cpu-s, this chunk "
            f"{len(ids) / (time.perf_counter() - a0):.0f}/s {per_cpu:.0f}/cpu-s"
            f", all {index.live_count / took:.0f}/s, load {loads[-1]}, rss {rss_mib()[0]:,} MiB"
        )
    added, build_s = index.live_count, time.perf_counter() - started - gen_s
    figures: dict[str, Any] = {
        "requested": args.n, "added": added, "complete": added == args.n,
        "build_s": round(build_s, 1), "vectors_per_s": round(added / build_s, 1),
        "build_cpu_s": round(cpu, 1), "vectors_per_cpu_s": round(added / max(cpu, 0.01), 1),
        "generation_s": round(gen_s, 1), "threads": params.num_threads, "m": params.m,
        "dim": index.dim, "index_dim": index.index_dim,
        "ef_construction": params.ef_construction, "ef_search": params.ef_search,
        "load_min_max": [min(loads), max(loads)], "load_mean": round(float(np.mean(loads)), 1),
    }  # fmt: skip
    figures["rss_after_build_mib"], figures["peak_rss_mib"] = rss_mib()
    start = time.perf_counter()
    index.save(args.home / INDEX_FILE)
    figures["save_s"] = round(time.perf_counter() - start, 1)
    size = sum((args.home / f).stat().st_size for f in (INDEX_FILE, f"{INDEX_FILE}.json"))
    figures["index_bytes"], figures["index_b_per_vector"] = size, size // max(1, added)
    return figures


# --- open and search --------------------------------------------------------------------------


def searchable_only(path: Path, count: int) -> dict[str, Any]:
    """Photos past the index's ``count`` back to 'pending' (rows kept), so that the catalog's
    searchable photos are exactly those the index holds; a no-op when it holds them all."""
    with closing(sqlite3.connect(path)) as conn:
        start = time.perf_counter()
        with conn:
            sql = "UPDATE photos SET status = 'pending', indexed_at_ns = NULL WHERE id > ? "
            changed = conn.execute(sql + "AND status = 'indexed'", (count,)).rowcount
        rows = int(conn.execute("SELECT count(*) FROM photos").fetchone()[0])
    return {"catalog_photos": rows, "searchable": count, "set_pending": changed,
            "set_pending_s": round(time.perf_counter() - start, 1)}  # fmt: skip


def open_once(args: argparse.Namespace) -> dict[str, Any]:
    """Open the library (as the app does), read its status, close: times and RSS."""
    from lookalike.library.facade import Library
    from query_speed import StandIn

    before = rss_mib()[0]
    start = time.perf_counter()
    with Library.open(args.home, StandIn()) as library:
        opened = time.perf_counter() - start
        after = rss_mib()[0]
        start = time.perf_counter()
        status = library.status()
        status_s = time.perf_counter() - start
        notes = list(library.notes)
    return {"open_s": round(opened, 2), "rss_before_open_mib": before, "rss_open_mib": after,
            "status_s": round(status_s, 2), "indexed": status.indexed, "pending": status.pending,
            "index_size": status.index_size, "index_file_bytes": status.index_file_bytes,
            "notes": notes, "peak_rss_mib": rss_mib()[1]}  # fmt: skip


def search(args: argparse.Namespace) -> dict[str, Any]:
    """First open in a child process (it checks the new file), then a normal open here, and
    ``search_photo`` timings with the default options and plain kNN."""
    import subprocess

    from lookalike.library.facade import Library
    from lookalike.search.defaults import DBA_K
    from query_speed import StandIn, time_config

    built = json.loads((args.home / "million-index.json").read_text())
    catalogued = json.loads((args.home / "million-catalog.json").read_text())["photos"]
    searchable = min(built["added"], catalogued)  # the app drops any index extras at open
    out: dict[str, Any] = searchable_only(args.home / CATALOG_FILE, searchable)
    child = [sys.executable, __file__, "open", "--home", str(args.home), "--n", str(args.n)]
    code = str(Path(lookalike.__file__).resolve().parents[1])  # the child imports this copy
    env = os.environ | {"PYTHONPATH": os.pathsep.join([code, os.environ.get("PYTHONPATH", "")])}
    say("first open (child process)")
    ran = subprocess.run(child, check=True, capture_output=True, text=True, env=env)
    out["first_open"] = json.loads(ran.stdout.splitlines()[-1])
    labels = all_places(args.n, args.seed)
    say("open")
    out["open"] = open_once(args)
    rng = np.random.default_rng([args.seed, 5])
    ids = [int(i) for i in rng.choice(np.arange(1, searchable + 1), args.queries, False)]
    with Library.open(args.home, StandIn()) as library:
        out["rss_open_mib"] = rss_mib()[0]
        for name, dba, rerank in (("default", DBA_K, True), ("plain", 0, False)):
            say(f"timing {name} over {len(ids)} queries, load {load()}")
            out[name] = time_config(library, ids, labels, dba, rerank) | {"load": load()}
        out["rss_after_searches_mib"] = rss_mib()[0]
    out["peak_rss_mib"] = rss_mib()[1]
    return out


# --- command line -----------------------------------------------------------------------------


PHASES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "catalog": fill_catalog,
    "index": build_index,
    "search": search,
    "open": open_once,
    "writes": compare_writes,
}


def main() -> None:
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # run as the app does (see lookalike.app)
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("phase", choices=sorted(PHASES))
    ap.add_argument("--home", type=Path, required=True, help="the library folder")
    ap.add_argument("--n", type=int, default=1_000_000, help="photos")
    ap.add_argument(
        "--budget-s", type=float, default=1e9, help="catalog, index: stop adding after this"
    )
    ap.add_argument("--queries", type=int, default=100, help="search: library photos searched")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.home = args.home.resolve()
    args.home.mkdir(parents=True, exist_ok=True)
    started = load()
    figures = PHASES[args.phase](args)
    figures |= {"load_start": started, "load_end": load(), "cpus": os.cpu_count(),
                "openblas_threads": os.environ["OPENBLAS_NUM_THREADS"]}  # fmt: skip
    save_figures(args.home, args.phase, figures)


if __name__ == "__main__":
    main()
