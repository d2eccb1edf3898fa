"""Indexing speed: photos/s of decode + embed on full-size photos, against the model-only ceiling.

The ceiling is measured in the same run: inference alone on tensors decoded beforehand. The
pipeline is what indexing does (``Embedder.embed_files``: decoding runs ahead on a thread while
the model runs). Prints both, their ratio and the peak memory of the process.

python benchmarks/embed_speed.py [PHOTO_DIR] [--files 200] [--preset balanced] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
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


def ceiling(embedder: Embedder, photos: list[Path], n: int) -> float:
    """Model-only photos/s: the same per-photo work as indexing (``embed_tensors``) on inputs
    decoded and prepared beforehand."""
    prepared = [embedder.tensors(decode(p, embedder.max_side).rgb) for p in photos]
    embedder.embed_tensors(prepared[0])  # warm-up
    start = time.perf_counter()
    for i in range(n):
        embedder.embed_tensors(prepared[i % len(prepared)])
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("photos", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spin", action="store_true", help="let onnxruntime threads spin when idle")
    ap.add_argument("--heic", action="store_true", help="include HEIC/HEIF files (no DCT scaling)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    suffixes = {".jpg", ".jpeg"} | ({".heic", ".heif"} if args.heic else set())
    preset = PRESETS[args.preset]
    embedder = Embedder(models_dir() / preset.model_file, preset.scales, args.threads, args.spin)
    with tempfile.TemporaryDirectory() as tmp:
        files = library_of(args.photos.resolve(), args.files, Path(tmp), suffixes)
        unique = files[: len({f.stat().st_ino for f in files})]
        model_only = ceiling(embedder, unique, max(10, args.files // 4))
        start = time.perf_counter()
        done = sum(1 for _ in embedder.embed_files(files))
        pipeline = done / (time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "preset": args.preset,
        "scales": list(embedder.scales),
        "threads": embedder.threads,
        "files": done,
        "pipeline_photos_per_s": round(pipeline, 3),
        "model_only_photos_per_s": round(model_only, 3),
        "ratio": round(pipeline / model_only, 3),
        "peak_rss_mb": round(peak_mb),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"preset {args.preset} scales {embedder.scales} threads {embedder.threads}, {done} photos"
    )
    print(f"model only (pre-decoded tensors): {model_only:6.2f} photos/s")
    print(f"decode + embed (indexing):        {pipeline:6.2f} photos/s")
    print(f"ratio:                            {pipeline / model_only:6.1%}")
    print(f"peak memory:                      {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main()
