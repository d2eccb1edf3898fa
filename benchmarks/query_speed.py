"""Time of one search with DBA and spatial re-ranking on a large synthetic library.

Builds a real library home (``catalog.sqlite`` filled through the Catalog API the writer uses,
plus ``index.hnsw`` built from it) with N photos: clustered unit vectors (as in
``search_speed.py``: C = N/50 "places", cluster mates at cosine ≈ 0.4–0.8) and synthetic local
features per photo (``MAX_LOCALS`` × (2 + ``LOCAL_DIM``), as the embedder makes them: 256 × 66,
stored as int8 codes). Every place has a "scene" of that many local features; each photo shows
1/8 to 1/2 of them through its own random affine map (rotation ±15°, scale
0.8–1.25, shift ±0.1) with jitter and code noise, and fills the rest with random ones, so that
verification finds inliers between cluster mates and only chance ones elsewhere.

It then opens the home with ``Library.open`` (a stand-in embedder carries the catalog's model
id) and times ``search_photo(id, top=50)`` for Q random photos in four configurations (plain,
DBA, re-rank, DBA + re-rank), with the share of each stage. Separately it times embedding a
full-size photo with the real model and a whole ``Library.search(path)`` of it (embed + search
+ re-rank), the path of a photo dragged into the app. Timings are with the files in the page
cache (the fill has just written them, or a previous run has read them).

    python benchmarks/query_speed.py --n 5000                     # quick
    python benchmarks/query_speed.py --keep /tmp/qs100k           # 100k; reuse the home later
    python benchmarks/query_speed.py --keep /tmp/qs100k --json
    python benchmarks/query_speed.py --keep /tmp/qs100k --queries 0 --photos 6 \
        --presets balanced --quiet 0.05                           # the dragged-in path only

Measured 2026-12-02 on a 100k home (384-d index, catalog v8), the last command on the shared
2-core machine, each search timed while other processes used < 5 % of the cores (load
0.1-0.9), three runs back to back with the code before that day's search-path work:
``Library.search(path)`` of a dragged-in 12 MP iPhone JPEG p50 317 / 272 / 290 ms (p95 385 /
322 / 341), before 342 / 320 / 303 (p95 412 / 350 / 335); with ``--photos 8`` (two 3072x2048
JPEGs without restart markers, decoded on one thread) 262 against 324. Stage p50s after:
decode 45-49 ms, input tensor 3-4, inference 144-177 (the most variable part: 144-186 in the
six runs), kNN 10-13, stored local features read + parsed 4-5, DBA 28-48 beside the
re-ranking fits 46-57 (before 62-68), verdicts 1 (before 6), other 6. Without ``--quiet``,
with another process on half the cores, the p50 was anywhere from 370 to 550 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.embed.local import LOCAL_DIM, MAX_LOCALS
from lookalike.library import searching
from lookalike.library.facade import CATALOG_FILE, INDEX_FILE, Library
from lookalike.search import pipeline, rerank, verdict
from lookalike.search.defaults import DBA_K
from lookalike.search.pipeline import SearchOptions
from lookalike.store.catalog import Catalog
from lookalike.store.hnsw import IndexParams, VectorIndex
from lookalike.store.vector_cache import CACHE_FILE
from lookalike.types import PEAK_DTYPE, Embedding, locals_to_bytes, peaks_to_bytes

F32 = npt.NDArray[np.float32]
MODEL = "bench-query-speed"
DIM = 1280
K_LOCALS, CODE_DIM = MAX_LOCALS, LOCAL_DIM
SHARED = (K_LOCALS // 8, K_LOCALS // 2)
"""Fewest and most scene features a photo shows (the rest are its own)."""
CHUNK = 2048
MARKER = "bench.json"
LABELS = "clusters.npy"
PHOTOS = next((up / "shared" / "bench" / "perf" for up in Path(__file__).resolve().parents
               if (up / "shared" / "bench" / "perf").is_dir()), Path("shared/bench/perf"))
"""12 MP photos for the dragged-in figures: ``shared/bench/perf`` in the nearest folder above
the repository that has one (a worktree sits deeper than the main checkout)."""
CONFIGS = {"plain": (0, False), "dba": (2, False), "rerank": (0, True), "dba+rerank": (2, True)}
"""name → (library.dba, rerank)."""


def say(msg: str) -> None:
    """Progress to stderr (stdout is kept for the result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- synthetic data ---------------------------------------------------------------------------


def unit(a: F32) -> F32:
    """Rows (last axis) scaled to unit norm."""
    out = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    return np.asarray(out, np.float32)


@dataclass(frozen=True)
class World:
    """The places photos are drawn from: global centres and spreads, local scenes."""

    centres: F32  # (C, D) unit
    spread: F32  # (C,) noise / centre norm
    scene_xy: F32  # (C, K, 2) in 0.15..0.85
    scene_codes: F32  # (C, K, d) unit

    @classmethod
    def make(cls, rng: np.random.Generator, clusters: int) -> World:
        centres = unit(rng.standard_normal((clusters, DIM), dtype=np.float32))
        spread = rng.uniform(0.5, 1.5, clusters).astype(np.float32)
        xy = rng.uniform(0.15, 0.85, (clusters, K_LOCALS, 2)).astype(np.float32)
        codes = unit(rng.standard_normal((clusters, K_LOCALS, CODE_DIM), dtype=np.float32))
        return cls(centres, spread, xy, codes)


def photo_vectors(rng: np.random.Generator, world: World, which: npt.NDArray[np.intp]) -> F32:
    """(b, D) unit vectors: each photo's centre plus gaussian noise of its spread."""
    noise = rng.standard_normal((len(which), DIM), dtype=np.float32)
    return unit(world.centres[which] + noise * (world.spread[which, None] / np.sqrt(DIM)))


def affine_views(rng: np.random.Generator, xy: F32) -> F32:
    """Each photo's (K, 2) scene points through its own random similarity map, jittered."""
    b = len(xy)
    theta = rng.uniform(-np.pi / 12, np.pi / 12, b)
    scale = rng.uniform(0.8, 1.25, b)
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (b, 2, 2)
    shift = rng.uniform(-0.1, 0.1, (b, 1, 2))
    moved = np.einsum("bkj,bij->bki", xy - 0.5, rot) + 0.5 + shift
    return np.asarray(moved + rng.normal(0.0, 0.004, moved.shape), np.float32)


def photo_locals(
    rng: np.random.Generator, world: World, which: npt.NDArray[np.intp]
) -> npt.NDArray[np.float16]:
    """(b, K, 2 + d) float16 local features: part of the place's scene, the rest random."""
    b = len(which)
    pick = np.argsort(rng.random((b, K_LOCALS)), axis=1)  # a random order of the scene
    xy = affine_views(rng, world.scene_xy[which[:, None], pick])
    noise = rng.standard_normal((b, K_LOCALS, CODE_DIM), dtype=np.float32) * 0.06
    codes = unit(world.scene_codes[which[:, None], pick] + noise)
    own = np.arange(K_LOCALS)[None, :] >= rng.integers(*SHARED, size=b, endpoint=True)[:, None]
    xy[own] = rng.uniform(0.0, 1.0, (int(own.sum()), 2))
    codes[own] = unit(rng.standard_normal((int(own.sum()), CODE_DIM), dtype=np.float32))
    out = np.empty((b, K_LOCALS, 2 + CODE_DIM), np.float16)
    out[..., :2] = np.clip(xy, 0.0, 1.0)
    out[..., 2:] = codes
    return out


def peaks_blob(rng: np.random.Generator) -> bytes:
    """256 plausible peak records (what the real embedder stores per photo)."""
    peaks = np.zeros(256, PEAK_DTYPE)
    peaks["channel"] = np.arange(256)
    for field in ("value", "x", "y"):
        peaks[field] = rng.uniform(0, 1, 256)
    return peaks_to_bytes(peaks)


# --- building the home ------------------------------------------------------------------------


def fill_catalog(home: Path, n: int, seed: int) -> npt.NDArray[np.int32]:
    """Write N indexed photos (vector, peaks, locals) in chunks; returns id → cluster."""
    rng = np.random.default_rng(seed)
    world = World.make(rng, max(1, n // 50))
    peaks = peaks_blob(rng)
    labels = np.full(n + 1, -1, np.int32)
    (home / "photos").mkdir(exist_ok=True)
    started = time.perf_counter()
    with Catalog.open(home / CATALOG_FILE) as catalog:
        root = catalog.add_root(home / "photos")
        for start in range(0, n, CHUNK):
            which = rng.integers(len(world.centres), size=min(CHUNK, n - start))
            vectors, locals_ = photo_vectors(rng, world, which), photo_locals(rng, world, which)
            with catalog.transaction():
                for i, (vec, loc) in enumerate(zip(vectors, locals_, strict=True)):
                    path = home / "photos" / f"{start + i:07d}.jpg"
                    photo_id = catalog.upsert_pending(root, path, 1, 1, None)
                    catalog.set_indexed(photo_id, MODEL, vec, peaks, locals_to_bytes(loc))
                    labels[photo_id] = which[i]
            done = start + len(which)
            say(f"catalog {done:,}/{n:,} photos ({time.perf_counter() - started:.0f} s)")
    return labels


def build_index(home: Path) -> None:
    """What ``store.index_sync.build_from_catalog`` does (all cores), with progress; then save."""
    params = IndexParams(num_threads=os.cpu_count() or 1)
    with Catalog.open(home / CATALOG_FILE) as catalog:
        count = catalog.count_indexed(MODEL)
        index = VectorIndex(DIM, MODEL, params, capacity=max(1024, count + count // 8))
        started = time.perf_counter()
        for ids, vectors in catalog.iter_vectors(MODEL):
            index.add(ids, vectors)
            took = time.perf_counter() - started
            if index.live_count % 16384 < len(ids) or index.live_count == count:
                say(f"index {index.live_count:,}/{count:,} vectors ({took:.0f} s)")
    index.save(home / INDEX_FILE)


def prepare_home(home: Path, n: int, seed: int) -> dict[str, Any]:
    """Build the home unless the marker says it holds this N and seed; returns build times."""
    wanted = {"n": n, "seed": seed, "model": MODEL, "dim": DIM}
    marker = home / MARKER
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        say(f"reusing {home}")
        return {"fill_s": None, "index_build_s": None}
    home.mkdir(parents=True, exist_ok=True)
    for name in (CATALOG_FILE, f"{CATALOG_FILE}-wal", f"{CATALOG_FILE}-shm", INDEX_FILE,
                 f"{INDEX_FILE}.json", LABELS, MARKER):  # fmt: skip
        (home / name).unlink(missing_ok=True)
    started = time.perf_counter()
    np.save(home / LABELS, fill_catalog(home, n, seed))
    filled = time.perf_counter()
    build_index(home)
    built = time.perf_counter()
    marker.write_text(json.dumps(wanted))
    return {"fill_s": round(filled - started, 1), "index_build_s": round(built - filled, 1)}


# --- searching --------------------------------------------------------------------------------


class StandIn:
    """A :class:`lookalike.types.PhotoEmbedder` with the catalog's model id; photos dragged in
    are embedded by ``real`` (a real Embedder of the same dimension) when one is set."""

    def __init__(self) -> None:
        self.model_id, self.dim, self.max_side = MODEL, DIM, 1024
        self.real: Any = None

    def embed_file(self, path: Path) -> Embedding:
        if self.real is None:
            raise NotImplementedError("stand-in embedder: no real model set")
        return self.real.embed_file(path)  # type: ignore[no-any-return]

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        return self.real.embed_rgb(rgb)  # type: ignore[no-any-return]

    def embed_files(self, paths: Any) -> Any:
        raise NotImplementedError("the benchmark never syncs")

    def warm_up(self) -> None:
        """The real model's warm-up, as the window runs it at start."""
        if self.real is not None:
            self.real.warm_up()

    def release_memory(self) -> None:
        """The real model's idle release (``gui/idle_memory.py``)."""
        if self.real is not None:
            self.real.release_memory()


Target = tuple[Any, str, str]
"""(object, attribute, stage name): a function or method whose time is summed as a stage."""


class Stages:
    """Seconds spent in named functions, summed while :meth:`patched` is active."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.spans: list[tuple[float, float]] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.perf_counter()
                self.seconds[name] = self.seconds.get(name, 0.0) + end - start
                self.spans.append((start, end))

        return timed

    def covered(self) -> float:
        """Seconds during which at least one stage ran: stages that run at the same time (the
        re-ranking fits on a thread beside DBA) are not counted twice."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    @contextlib.contextmanager
    def patched(self, library: Library, extra: tuple[Target, ...] = ()) -> Iterator[None]:
        """Wrap the stages of ``search.pipeline.find`` (module globals and instance attributes)
        and the ``extra`` ones (modules, or objects whose method is shadowed for a while)."""
        targets: list[Target] = [
            (library, "embedding", "query vector + locals from catalog"),
            (pipeline, "nearest", "kNN (HNSW + path lookups)"),
            (pipeline, "_augmented", "DBA on shortlist"),
            (library._catalog, "locals_of", "read candidate locals (SQLite)"),
            (searching, "decode_locals", "decode locals blobs"),
            (verdict, "rerank_fits", "re-rank: mutual NN + RANSAC (beside DBA: 1 thread)"),
            (verdict, "evidence_of", "verdicts (pair evidence)"),
            *extra,
        ]
        saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in targets]
        for obj, attr, name in targets:
            setattr(obj, attr, self.wrap(name, getattr(obj, attr)))
        try:
            yield
        finally:
            for obj, attr, original in reversed(saved):
                if isinstance(obj, ModuleType | type):
                    setattr(obj, attr, original)
                else:
                    delattr(obj, attr)  # drop the instance attribute: the method shows again


def reference_ms() -> float:
    """Median milliseconds of a fixed NumPy workload on one thread: the machine's speed right
    now (a shared 2-core machine), so that runs can be compared by their ratio to it."""
    a = np.random.default_rng(0).standard_normal((384, 384), dtype=np.float32)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            a = np.tanh(a @ a.T / 384)
        runs.append(time.perf_counter() - start)
    return round(float(np.median(runs)) * 1000, 1)


def cpu_snapshot() -> tuple[int, int, int] | None:
    """(all cores' clock ticks, busy ticks, this process's ticks) now; None off Linux."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(ticks), sum(ticks) - ticks[3] - ticks[4], int(own[11]) + int(own[12])


def others_share(a: tuple[int, int, int] | None, b: tuple[int, int, int] | None
                 ) -> float | None:  # fmt: skip
    """Share (0..1) of all cores' time that other processes used between two snapshots."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    return round(max(0, (b[1] - a[1]) - (b[2] - a[2])) / (b[0] - a[0]), 3)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1),
            "mean_ms": round(float(ms.mean()), 1)}  # fmt: skip


def time_config(
    library: Library, ids: list[int], labels: npt.NDArray[np.int32], dba: int, use: bool
) -> dict[str, Any]:
    """Latency, stage shares and same-place precision@50 of ``search_photo`` over ``ids``."""
    options = SearchOptions(top=50, dba=dba, rerank=use)
    for photo_id in ids[:3]:  # warm-up
        library.search_photo(photo_id, options)
    stages, seconds, hits, shown = Stages(), [], 0, 0
    with stages.patched(library):
        for photo_id in ids:
            start = time.perf_counter()
            found = library.search_photo(photo_id, options)
            seconds.append(time.perf_counter() - start)
            hits += sum(labels[m.photo_id] == labels[photo_id] for m in found.matches)
            shown += len(found.matches)
    total = sum(seconds)
    shares = {k: round(100 * v / total, 1) for k, v in stages.seconds.items()}
    shares["other"] = round(100 - sum(shares.values()), 1)
    return {**summary_ms(seconds), "stage_pct": shares, "same_place_at50": round(hits / shown, 3)}


def inlier_check(library: Library, labels: npt.NDArray[np.int32], rng: np.random.Generator
                 ) -> dict[str, float]:  # fmt: skip
    """Mean inliers between a photo and a random place mate, and a random other photo."""
    ids = np.flatnonzero(labels >= 0)
    mates: list[int] = []
    others: list[int] = []
    for photo_id in rng.choice(ids, 40, replace=False):
        same = ids[(labels[ids] == labels[photo_id]) & (ids != photo_id)]
        q = library.embedding(int(photo_id))
        if not len(same) or q is None or q.locals is None:
            continue
        for pool, out in ((same, mates), (ids, others)):
            cand = library.embedding(int(rng.choice(pool)))
            if cand is not None and cand.locals is not None:
                out.append(rerank.count_inliers(q.locals, cand.locals, rerank.DEFAULT_PARAMS))
    return {"mate": round(float(np.mean(mates)), 1), "other": round(float(np.mean(others)), 1)}


def query_stages(library: Library, real: Any) -> tuple[Target, ...]:
    """The stages of turning a dragged-in file into its embedding (besides the search's)."""
    from lookalike.decode import query
    from lookalike.embed import model
    from lookalike.library import search_calls

    return (
        (query, "decode", "decode (DCT-scaled, EXIF turn)"),
        (model, "decode", "decode (DCT-scaled, EXIF turn)"),
        (real, "tensors", "input tensor (crop, normalise)"),
        (real, "run", "inference (ONNX)"),
        (model, "extract_locals", "local features"),
        (model, "make_peaks", "peaks"),
        (library._catalog, "get_photo", "catalog lookup of the path"),
        (search_calls, "copy_image", "copy-test pixels (QueryImage)"),
        (searching.IndexStore, "to_index_space", "query to index space"),
    )


def dragged_in(library: Library, stand_in: StandIn, presets: list[str], photos: list[Path],
               quiet: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """Embedding alone, and the default search path of real full-size photos dragged in:
    ``Library.search(path)`` with DBA (``DBA_K``) and re-ranking on, as the app searches, with
    the milliseconds of each stage (median over the photos; DBA and the re-ranking fits run at
    the same time, so the stages add up to more than the whole), and the share of the cores
    other processes used meanwhile (a shared machine: compare runs where it is near 0, or
    pass ``quiet``: see :func:`timed_search`)."""
    from lookalike.embed.model import Embedder

    if not photos:
        return {"skipped": "no JPEG photos (see --perf)"}
    options = SearchOptions(top=50, dba=DBA_K, rerank=True)
    out: dict[str, Any] = {"photos": len(photos)}
    for preset in presets:
        started = time.perf_counter()
        real = Embedder.from_preset(preset)
        loaded = time.perf_counter() - started
        if real.dim != DIM:
            out[preset] = {"skipped": f"dim {real.dim} != {DIM}"}
            continue
        stand_in.real = real
        started = time.perf_counter()
        library.search(photos[0], options)  # the first (cold) search of a fresh session
        cold = time.perf_counter() - started
        embed: list[float] = []
        whole: list[float] = []
        per_stage: dict[str, list[float]] = {}
        busy_before, retried = cpu_snapshot(), 0
        for photo in photos * 2:
            start = time.perf_counter()
            has_locals = real.embed_file(photo).locals is not None
            embed.append(time.perf_counter() - start)
            took, stages, tries = timed_search(library, real, photo, options, quiet)
            whole.append(took)
            retried += tries
            for name, sec in stages.seconds.items():
                per_stage.setdefault(name, []).append(sec * 1000)
        out[preset] = {"embed": summary_ms(embed), "search_path_rerank": summary_ms(whole),
                       "stages_p50_ms": {k: round(float(np.median(v)), 1)
                                         for k, v in per_stage.items()},
                       "stages_p95_ms": {k: round(float(np.percentile(v, 95)), 1)
                                         for k, v in per_stage.items()},
                       "session_s": round(loaded, 2), "cold_search_ms": round(cold * 1000),
                       "has_locals": has_locals, "threads": real.threads,
                       "others_cpu_share": others_share(busy_before, cpu_snapshot()),
                       "quiet_share": quiet, "retried_busy": retried}  # fmt: skip
    return out


def timed_search(library: Library, real: Any, photo: Path, options: SearchOptions,
                 quiet: float) -> tuple[float, Stages, int]:  # fmt: skip
    """Seconds and stages of one ``Library.search(photo)``; with ``quiet`` > 0, started once
    other processes use less than that share of the cores, and taken again (up to 10 times)
    when they used more while it ran. Returns the retries too."""
    retries = -1
    while retries < 9:
        retries += 1
        when_quiet(quiet)
        stages, before = Stages(), cpu_snapshot()
        with stages.patched(library, query_stages(library, real)):
            start = time.perf_counter()
            library.search(photo, options)
            took = time.perf_counter() - start
        used = others_share(before, cpu_snapshot())
        if quiet <= 0 or used is None or used < quiet:
            break
    stages.seconds["other"] = took - stages.covered()
    return took, stages, retries


def when_quiet(share: float, give_up_s: float = 60.0) -> None:
    """Wait until other processes use less than ``share`` of the cores over half a second
    (at most ``give_up_s``; ``share`` 0: no wait)."""
    end = time.monotonic() + give_up_s
    while share > 0 and time.monotonic() < end:
        before = cpu_snapshot()
        time.sleep(0.5)
        used = others_share(before, cpu_snapshot())
        if used is None or used < share:
            return


# --- report -----------------------------------------------------------------------------------


def storage(home: Path) -> dict[str, Any]:
    """Bytes per photo of the catalog's blobs, and file sizes."""
    with Catalog.open(home / CATALOG_FILE) as catalog:
        sql = "SELECT count(*), avg(length(vector)), avg(length(peaks)), avg(length(locals)) "
        row = catalog._all(sql + "FROM vectors")[0]
    size = (home / INDEX_FILE).stat().st_size + (home / f"{INDEX_FILE}.json").stat().st_size
    cat = sum((home / f).stat().st_size for f in (CATALOG_FILE, f"{CATALOG_FILE}-wal")
              if (home / f).exists())  # fmt: skip
    cache = home / CACHE_FILE
    st = cache.stat() if cache.exists() else None
    held = 0 if st is None else getattr(st, "st_blocks", st.st_size // 512) * 512  # sparse file
    return {"photos": row[0], "vector_blob_b": row[1], "peaks_blob_b": row[2],
            "locals_blob_b": row[3], "catalog_bytes": cat, "catalog_b_per_photo": cat // row[0],
            "index_bytes": size, "index_b_per_photo": size // row[0],
            "vector_cache_bytes": held}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.keep:
        return measure(args, args.keep.resolve())
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        return measure(args, Path(tmp))


def measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Build or reuse the home, then take every measurement."""
    result: dict[str, Any] = {
        "n": args.n,
        "queries": args.queries,
        "top": 50,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    result["build"] = prepare_home(home, args.n, args.seed)
    result["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    result["reference_ms_start"] = reference_ms()
    result["storage"] = storage(home)
    labels = np.load(home / LABELS)
    rng = np.random.default_rng(args.seed + 1)
    stand_in = StandIn()
    start = time.perf_counter()
    with Library.open(home, stand_in) as library:
        result["open_s"] = round(time.perf_counter() - start, 2)
        result["rerank_params"] = asdict(rerank.DEFAULT_PARAMS)
        ids = [int(i) for i in rng.choice(np.flatnonzero(labels >= 0), args.queries, False)]
        result["configs"] = {}
        for name, (dba, use) in CONFIGS.items() if ids else ():
            say(f"timing {name} over {len(ids)} queries")
            result["configs"][name] = time_config(library, ids, labels, dba, use)
        result["inliers"] = inlier_check(library, labels, rng) if ids else None
        say("timing real embedding of dragged-in photos")
        photos = sorted(args.perf.glob("*.jpg"))[: args.photos]
        result["dragged_in"] = dragged_in(library, stand_in, args.presets, photos, args.quiet)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["reference_ms_end"] = reference_ms()
    scale = 1 if sys.platform == "darwin" else 1024
    result["peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    )
    return result


def table(r: dict[str, Any]) -> str:
    s, b = r["storage"], r["build"]
    rows = [
        ("photos", f"{r['n']:,} ({r['queries']} queries, top {r['top']})"),
        ("build: catalog fill / index", f"{b['fill_s']} s / {b['index_build_s']} s"
         if b["fill_s"] is not None else "reused (--keep)"),
        ("Library.open", f"{r['open_s']:.2f} s"),
        ("OPENBLAS_NUM_THREADS", r["openblas_threads"]),
        ("blob per photo: vector / peaks / locals",
         f"{s['vector_blob_b']:,.0f} / {s['peaks_blob_b']:,.0f} / {s['locals_blob_b']:,.0f} B"),
        ("catalog file", f"{s['catalog_bytes'] / 2**20:,.0f} MiB "
         f"({s['catalog_b_per_photo']:,} B/photo)"),
        ("index file (+ sidecar)", f"{s['index_bytes'] / 2**20:,.0f} MiB "
         f"({s['index_b_per_photo']:,} B/photo)"),
    ]  # fmt: skip
    if r["inliers"]:
        rows.append(("inliers: place mate / other (mean)",
                     f"{r['inliers']['mate']} / {r['inliers']['other']}"))  # fmt: skip
    for name, c in r["configs"].items():
        rows.append((f"search_photo {name}: p50 / p95 / mean",
                     f"{c['p50_ms']} / {c['p95_ms']} / {c['mean_ms']} ms, "
                     f"same place@50 {c['same_place_at50']}"))  # fmt: skip
        shares = ", ".join(f"{k} {v}%" for k, v in c["stage_pct"].items() if v >= 0.5)
        rows.append(("  stages", shares))
    rows += dragged_rows(r)
    rows += [("load average (1/5/15 min)", f"{r['load_average_start']} → {r['load_average_end']}"),
             ("reference workload (NumPy, 1 thread)",
              f"{r['reference_ms_start']} → {r['reference_ms_end']} ms"),
             ("peak RSS", f"{r['peak_rss_mib']:,} MiB")]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def dragged_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    d = r["dragged_in"]
    if "skipped" in d:
        return [("dragged-in photo", f"skipped: {d['skipped']}")]
    rows = []
    for preset, p in d.items():
        if not isinstance(p, dict):
            continue
        if "skipped" in p:
            rows.append((f"embed ({preset})", f"skipped: {p['skipped']}"))
            continue
        e, w = p["embed"], p["search_path_rerank"]
        rows.append(
            (
                f"embed one photo ({preset}, {p['threads']} threads)",
                f"p50 {e['p50_ms']} ms (locals: {'yes' if p['has_locals'] else 'no'})",
            )
        )
        rows.append((f"  Library.search(path), DBA + rerank ({preset})",
                     f"p50 {w['p50_ms']} / p95 {w['p95_ms']} ms; first search of a fresh "
                     f"session {p['cold_search_ms']} ms (session opened in {p['session_s']} s); "
                     f"other processes used {p.get('others_cpu_share')} of the cores"
                     + (f" (timed while < {p['quiet_share']}; {p['retried_busy']} retried)"
                        if p.get("quiet_share") else "")))
        p95 = p.get("stages_p95_ms", {})
        rows += [(f"    {name} (p50 / p95)", f"{ms} / {p95.get(name, '?')} ms")
                 for name, ms in p["stages_p50_ms"].items()]  # fmt: skip
    return rows


def main() -> None:
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # run as the app does (see lookalike.app)
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000, help="photos in the library")
    ap.add_argument("--queries", type=int, default=200,
                    help="library photos searched (0: only the dragged-in photos)")
    ap.add_argument("--photos", type=int, default=4, help="real photos embedded per preset")
    ap.add_argument(
        "--presets",
        nargs="*",
        default=["balanced", "best"],
        help="real models timed for a dragged-in photo (only 'best' makes locals)",
    )
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="library home to build once and reuse (same --n and --seed)",
    )
    ap.add_argument("--perf", type=Path, default=PHOTOS, help="folder of full-size JPEGs")
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the home without --keep")
    ap.add_argument("--quiet", type=float, default=0.0,
                    help="time a dragged-in search only while other processes use less than "
                         "this share of the cores (e.g. 0.05; 0: always)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()  # fmt: skip
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run(args)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
