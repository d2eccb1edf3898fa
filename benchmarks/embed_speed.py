"""Indexing speed: photos/s of decode + embed on full-size photos, against the model-only ceiling.

The ceiling is measured in the same run: inference alone on tensors decoded beforehand, in both
ways of using the cores (one photo at a time on a multi-threaded session; one photo per core on
single-threaded runs), and the faster of the two is the ceiling. The pipeline is what indexing
does (``Embedder.embed_files``). Also printed: the CPU time one photo's decoding and inference
each cost (inference's share of the two is roughly the ratio to expect once every core is busy),
and the peak memory of the process.

python benchmarks/embed_speed.py [PHOTO_DIR] [--files 200] [--preset balanced] [--threads 0]

With ``--compare-preset OTHER`` it measures only the indexing pipeline of both presets (e.g. the
fp32 ``balanced-fp32`` and the int8 ``balanced``), alternating them ``--rounds`` times in the
same run so that the machine's load hits both alike, and prints each one's photos/s (median of
the rounds), the ratio, and the load average before and after:

python benchmarks/embed_speed.py ../shared/bench/perf --files 40 --preset balanced-fp32 \
    --compare-preset balanced
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lookalike.decode.image import decode
from lookalike.embed.model import Embedder
from lookalike.embed.presets import PRESETS
from lookalike.paths import models_dir

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "perf"


def library_of(src: Path, n: int, dest: Path, suffixes: set[str]) -> list[Path]:
    """``n`` files made by linking the source photos under new names (a big-enough library)."""
    photos = sorted(p for p in src.iterdir() if p.suffix.lower() in suffixes)
    if not photos:
        raise SystemExit(f"no photos in {src}")
    out = []
    for i in range(n):
        target = dest / f"{i:05d}{photos[i % len(photos)].suffix.lower()}"
        try:
            target.hardlink_to(photos[i % len(photos)])
        except OSError:
            shutil.copyfile(photos[i % len(photos)], target)
        out.append(target)
    return out


def ceilings(embedder: Embedder, photos: list[Path], n: int) -> dict[str, float]:
    """Model-only photos/s: the same per-photo work as indexing (``embed_tensors``) on inputs
    decoded and prepared beforehand, in both layouts."""
    prepared = [embedder.tensors(decode(p, embedder.max_side, exact=False).rgb) for p in photos]
    batch = embedder.batch_session()
    k = len(prepared)
    embedder.embed_tensors(prepared[0])  # warm-up
    embedder.embed_tensors(prepared[0], batch)
    start = time.perf_counter()
    for i in range(n):
        embedder.embed_tensors(prepared[i % len(prepared)])
    serial = n / (time.perf_counter() - start)
    start = time.perf_counter()
    with ThreadPoolExecutor(embedder.workers) as pool:
        list(pool.map(lambda i: embedder.embed_tensors(prepared[i % k], batch), range(n)))
    parallel = n / (time.perf_counter() - start)
    return {"one_photo_multithreaded": serial, "photo_per_worker": parallel}


def cpu_costs(embedder: Embedder, photos: list[Path], rounds: int = 3) -> tuple[float, float]:
    """CPU seconds per photo of decoding + preparing, and of inference on one thread."""
    batch = embedder.batch_session()
    decode_s = infer_s = 0.0
    for _ in range(rounds):
        for p in photos:
            start = time.thread_time()
            xs = embedder.tensors(decode(p, embedder.max_side, exact=False).rgb)
            middle = time.thread_time()
            embedder.embed_tensors(xs, batch)  # one intra-op thread: runs on this thread
            decode_s += middle - start
            infer_s += time.thread_time() - middle
    count = rounds * len(photos)
    return decode_s / count, infer_s / count


def embedder_of(name: str, args: argparse.Namespace) -> Embedder:
    """The embedder of a preset with the command line's threads, spin and workers."""
    preset = PRESETS[name]
    return Embedder(
        models_dir() / preset.model_file,
        preset.scales,
        args.threads,
        args.spin,
        local_features=preset.local_features,
        workers=args.workers,
    )


def compare(args: argparse.Namespace, suffixes: set[str]) -> dict[str, object]:
    """Indexing photos/s of ``--preset`` and ``--compare-preset``, alternated ``--rounds`` times."""
    names = (args.preset, args.compare_preset)
    embedders = {name: embedder_of(name, args) for name in names}
    rates: dict[str, list[float]] = {name: [] for name in names}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        files = library_of(args.photos.resolve(), args.files, Path(tmp), suffixes)
        for embedder in embedders.values():  # warm-up: sessions, page cache
            sum(1 for _ in embedder.embed_files(files[:2]))
        for _ in range(args.rounds):
            for name, embedder in embedders.items():
                start = time.perf_counter()
                done = sum(1 for _ in embedder.embed_files(files))
                rates[name].append(done / (time.perf_counter() - start))
    median = {name: statistics.median(r) for name, r in rates.items()}
    return {
        "files": args.files,
        "rounds": args.rounds,
        "photos_per_s": {name: round(v, 3) for name, v in median.items()},
        "all_rounds": {name: [round(v, 3) for v in r] for name, r in rates.items()},
        "ratio": round(median[names[1]] / median[names[0]], 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("photos", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, help="photos embedded at once (0: = threads)")
    ap.add_argument("--spin", action="store_true", help="let onnxruntime threads spin when idle")
    ap.add_argument("--heic", action="store_true", help="include HEIC/HEIF files (no DCT scaling)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--compare-preset", help="time only the pipelines of --preset and this one")
    ap.add_argument("--rounds", type=int, default=3, help="alternations with --compare-preset")
    args = ap.parse_args()
    suffixes = {".jpg", ".jpeg"} | ({".heic", ".heif"} if args.heic else set())
    if args.compare_preset:
        found = compare(args, suffixes)
        if args.json:
            print(json.dumps(found))
            return
        for name, rate in found["photos_per_s"].items():  # type: ignore[attr-defined]
            print(f"{name:>16}: {rate:6.2f} photos/s (indexing, median of {args.rounds} rounds)")
        print(f"ratio {args.compare_preset} / {args.preset}: {found['ratio']:.2f}x; load average "
              f"{found['load_average_before']} -> {found['load_average_after']} on "
              f"{found['cpus']} CPUs")  # fmt: skip
        return
    embedder = embedder_of(args.preset, args)
    with tempfile.TemporaryDirectory() as tmp:
        files = library_of(args.photos.resolve(), args.files, Path(tmp), suffixes)
        unique = files[: len({f.stat().st_ino for f in files})]
        layouts = ceilings(embedder, unique, max(10, args.files // 4))
        decode_cpu, infer_cpu = cpu_costs(embedder, unique)
        start = time.perf_counter()
        done = sum(1 for _ in embedder.embed_files(files))
        pipeline = done / (time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model_only = max(layouts.values())
    bound = infer_cpu / (infer_cpu + decode_cpu)
    result = {
        "preset": args.preset,
        "scales": list(embedder.scales),
        "threads": embedder.threads,
        "workers": embedder.workers,
        "files": done,
        "pipeline_photos_per_s": round(pipeline, 3),
        "model_only_photos_per_s": round(model_only, 3),
        "model_only_by_layout": {k: round(v, 3) for k, v in layouts.items()},
        "ratio": round(pipeline / model_only, 3),
        "decode_cpu_ms": round(decode_cpu * 1000, 1),
        "inference_cpu_ms": round(infer_cpu * 1000, 1),
        "inference_share_of_cpu": round(bound, 3),
        "peak_rss_mb": round(peak_mb),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"preset {args.preset} scales {embedder.scales} threads {embedder.threads} "
        f"workers {embedder.workers}, {done} photos"
    )
    print(
        f"model only, one photo on {embedder.threads} threads: "
        f"{layouts['one_photo_multithreaded']:6.2f} photos/s"
    )
    print(
        f"model only, {embedder.workers} photos on 1 thread each: "
        f"{layouts['photo_per_worker']:6.2f} photos/s"
    )
    print(f"decode + embed (indexing):           {pipeline:6.2f} photos/s")
    print(f"ratio to the faster ceiling:         {pipeline / model_only:6.1%}")
    print(
        f"CPU per photo: decode+prepare {decode_cpu * 1000:.0f} ms, "
        f"inference on one thread {infer_cpu * 1000:.0f} ms ({bound:.1%} of the two)"
    )
    print(f"peak memory:                         {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main()
