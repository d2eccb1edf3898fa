"""Time and memory of duplicate grouping on a large synthetic library.

Builds (or reuses) the library home of ``benchmarks/query_speed.py`` (N photos: clustered unit
vectors, 256 synthetic local features each; its builder functions, not a copy) and plants
duplicates in it: for N/50 random photos, one copy (cosine ≈ 0.97, the same local features
with sub-cell jitter and a little code noise), written through the Catalog API; opening the
library then adds them to the index (the repair of an index that lags the catalog).

Every photo also gets a synthetic thumbnail (``plant_thumbs``: uniform noise, once per home),
and each planted copy its original's turned by a random quarter turn or mirror: they measure
the cost of the thumbnail screen (``library.copy_screening``; the phase ``copies``), not its
accuracy; the planted copies pass it and reach the pixel test, which has no files to read.

In a fresh process (so its peak memory is the grouping's, not the build's) it opens the library
as the app does and measures:

- ``full_s``: ``DuplicateFinder.update()`` from scratch (every photo's kNN, the prefilter, the
  pair checks, the edges stored) plus grouping every edge, with its CPU seconds (all threads)
  and the time of its two phases (``_candidates``: kNN; ``_verify``: local features read and
  checked) and the pairs checked;
- ``knn_pass_s`` (the reference, in the same run): the kNN pass of the previous design alone
  (k 9 at the index's ef 32, 1,024 queries at a time), for the ratio;
- ``one_photo_s``: one new photo (a copy of a library photo) stored through the library's write
  path, then ``update()`` (it checks only that photo) and its groups (``groups_touching``);
- peak RSS after opening (the index alone) and after grouping;
- recall of the planted copy pairs and the groups found.

    python benchmarks/duplicates_speed.py --n 5000 --keep /tmp/dup5k    # quick
    cp -r /tmp/qs100k /tmp/dup100k  # query_speed.py --keep's 100k home; copies are planted
    python benchmarks/duplicates_speed.py --keep /tmp/dup100k            # INTO the home

Measured on the shared 2-core box (other sessions running; load printed with each run),
2026-12-02, on a copy of ``query_speed.py --keep``'s 100k home (102,000 photos with the planted
copies): grouping from scratch 237.7 s (167 s CPU), the reference kNN pass 243.2 s (164 s CPU),
ratio 0.98, at load 5.5-6: kNN 137 s (100 s CPU), 60,161 pairs checked in 97.5 s (65 s CPU);
peak RSS 617 MB after opening, 917 MB after grouping; one new photo 0.06-0.12 s; 2,000/2,000
planted copies found, 2,019 edges. The previous design (pair-by-pair checks, kNN at ef 32) took
137 s for 20,400 photos against its 46 s kNN pass (ratio 2.97). From the CPU seconds, a quiet
2-core machine needs about 85 s (both cores busy throughout), a 4-core one about half.

The synthetic photos have no files: the pixel test that confirms each copy (the finder's
default since 2026-12-02) cannot read them, so the planted copies are kept as bursts
(``edges_by_kind``) and neither the pixel test's cost (about 0.08 s of CPU per pair through the
copy gate, 512-px photos) nor the file check's (``--handoff`` counts its pairs; about 0.1 s
each) is in these times. Same box, 2026-12-02, load 7-10: before the pixel default 450 s wall /
153.9 s CPU (kNN 90.9 s, 60,146 pairs checked in 61.6 s CPU) against the reference's 319 s /
137.2 s; with it (and kNN queries ordered by neighbourhood, since dropped: no gain) 396 s /
174.3 s CPU (kNN 93.9 s, 60,151 pairs in 59.2 s CPU) against 608 s / 145.8 s. With
``--handoff`` (a file check set: 12 neighbours, candidates down to ``CHANCE_COSINE`` 0.62):
264,043 candidate pairs, 264,038 of them handed to the file check, 192.3 s CPU without the
file check's own work (kNN 91.8 s, cells 93.2 s) against the reference's 135.3 s, peak RSS
931 MB: at 0.1 s per pair the file check alone would need about 7 CPU-hours.

With the thumbnail screen (the default since 2026-12-02; 16 neighbours down to cosine 0.50, the
cells on the 8 nearest; ``plant_thumbs`` above), same box, load 1.1-2: 88.6-94.2 s wall /
120-130 s CPU against the reference's 61.7-65.4 s (ratio 1.44): kNN 23-25 s, checks 63-67 s of
which the screen 13.5-15.1 s (795,400 pairs screened, the 2,000 planted copies passed); peak
RSS 740-751 MB; one new photo 0.05-0.09 s. With only the variants the aspects allow: 92.4 s /
128.7 s CPU against 71.9 s (ratio 1.28, load 1.5-1.7), the screen 10.5 s. (Each measuring run
adds its five "new" photos to a kept home.)

With the update's stages overlapped (the next chunk's kNN on a thread, the previous chunk's
screen and store on another, the kNN and the cells each on one core while the other runs;
exact cosines read only for the pairs the cells may check; the copy residual's refits by the
normal equations; RANSAC grouped by match count), same box, 2026-12-02, quiet (other processes
0.6 % of the cores during the grouping, ``others_cpu_share_during_full``), three runs: 47.6 /
53.1 / 53.3 s wall (79.4 / 89.3 / 89.8 s CPU) against the reference's 43.4 / 49.3 / 48.9 s
(ratio 1.10 / 1.08 / 1.09); peak RSS 824-826 MB; one new photo 0.035-0.094 s; 2,000/2,000
planted copies found. With the cell checks' RANSAC replaced by the search's
(``ransac.ransac_affines``, one RANSAC in the project): 51.9 s (87.0 s CPU) against 48.0 s
(ratio 1.08). Earlier the same day, with another session's benchmarks on the box (its
share 1-13 %; the reference then took 63-71 s), 57.0-69.9 s against 63.3-71.1 s. The phases
overlap, so ``phases_s`` adds up to more than ``full_s``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query_speed as qs
from lookalike.library.facade import CATALOG_FILE, Library
from lookalike.search import grouping
from lookalike.search.copy_align import dihedral
from lookalike.search.pair_check import PairEvidence
from lookalike.store.catalog import Catalog
from lookalike.store.thumbs import put_thumbs
from lookalike.types import (
    Embedding,
    Thumb,
    locals_from_bytes,
    locals_to_bytes,
    peaks_from_bytes,
)

PLANTED = "duplicates.json"
THUMB_SIDE = 32
"""Side of the synthetic thumbnails (``decode.thumb.THUMB_SIDE``)."""


def random_thumb(rng: np.random.Generator) -> Thumb:
    """A synthetic thumbnail: uniform noise (unrelated to every other: it measures the cost of
    the screen, not its accuracy)."""
    return Thumb(rng.integers(0, 256, (THUMB_SIDE, THUMB_SIDE), np.uint8), 1024, 768)


def plant_thumbs(home: Path, seed: int, planted: dict[str, Any]) -> int:
    """Give every photo of the home a random thumbnail (once per home), and each planted copy
    its original's, turned by a random quarter turn or mirror: the copies pass the screen and
    reach the pixel test, whose files do not exist (so its cost is not measured). Returns the
    thumbnails written."""
    rng = np.random.default_rng(seed + 2)
    with Catalog.open(home / CATALOG_FILE) as catalog:
        if catalog._one("SELECT count(*) FROM thumbs"):
            return 0
        ids, _ = catalog.vector_digests(qs.MODEL)
        thumbs = {int(i): random_thumb(rng) for i in ids.tolist()}
        for original, copy in planted["pairs"]:
            variant, base = int(rng.integers(8)), thumbs[original]
            size = (768, 1024) if variant % 2 else (1024, 768)
            thumbs[copy] = Thumb(np.ascontiguousarray(dihedral(base.pixels, variant)), *size)
        put_thumbs(catalog, thumbs)
    return len(thumbs)


def copy_of(rng: np.random.Generator, vector: Any, locals_: Any) -> tuple[Any, Any]:
    """A synthetic copy: the vector with a little noise, the same cells jittered by a tenth of a
    cell, codes with a little noise."""
    vec = qs.unit(vector + rng.standard_normal(vector.shape).astype(np.float32) * 0.006)
    loc = np.asarray(locals_, np.float32).copy()
    loc[:, :2] += rng.normal(0.0, 0.0015, (len(loc), 2))
    loc[:, 2:] = qs.unit(loc[:, 2:] + rng.standard_normal(loc[:, 2:].shape) * 0.02)
    return vec, loc.astype(np.float16)


def plant(home: Path, seed: int) -> dict[str, Any]:
    """Add one copy of each of N/50 random photos (once per home); returns the planted pairs."""
    marker = home / PLANTED
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    rng = np.random.default_rng(seed + 1)
    pairs = []
    with Catalog.open(home / CATALOG_FILE) as catalog:
        root = catalog.roots()[0].id
        ids, _ = catalog.vector_digests(qs.MODEL)
        chosen = rng.choice(ids, size=max(1, len(ids) // 50), replace=False)
        with catalog.transaction():
            for n, original in enumerate(chosen.tolist()):
                vector, peaks = catalog.vector(original)  # type: ignore[misc]
                loc = locals_from_bytes(catalog.locals_of([original])[original])
                vec, copy_loc = copy_of(rng, vector, loc)
                path = home / "photos" / f"copy_{n:06d}.jpg"
                new = catalog.upsert_pending(root, path, 1, 1, None)
                catalog.set_indexed(new, qs.MODEL, vec, peaks, locals_to_bytes(copy_loc))
                pairs.append([original, new])
    planted = {"pairs": pairs}
    marker.write_text(json.dumps(planted))
    return planted


def timed(obj: Any, names: tuple[str, ...]) -> dict[str, float]:
    """Wrap ``obj``'s methods ``names`` to add up their wall time and the process's CPU time
    (all threads) in the returned dict (``name`` and ``name_cpu``)."""
    spent = dict.fromkeys([*names, *(f"{n}_cpu" for n in names)], 0.0)
    for name in names:
        inner = getattr(obj, name)

        def wrapper(*args: Any, _name: str = name, _inner: Any = inner) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return _inner(*args)
            finally:
                spent[_name] += time.perf_counter() - started
                spent[f"{_name}_cpu"] += time.process_time() - cpu
        setattr(obj, name, wrapper)
    return spent


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def knn_pass(library: Library) -> tuple[float, float]:
    """The reference: the kNN pass of the previous design alone (k = 9, the index's own ef
    32, chunks of 1,024 queries, the index's threads); returns wall and CPU seconds."""
    index = library._writer.index
    ids = np.asarray(sorted(index.labels()), np.int64)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(ids), 1024):
        vectors = index.vectors(ids[start : start + 1024])
        index.knn(vectors, grouping.NEIGHBOURS + 1, whitened=True)
    return time.perf_counter() - started, time.process_time() - cpu


def one_new_photo(library: Library, rng: np.random.Generator) -> float:
    """Store a copy of a library photo through the write path, then update and regroup."""
    finder = library.duplicates()
    catalog = library._catalog
    original = int(rng.choice(sorted(library._writer.index.labels())))
    vector, peaks = catalog.vector(original)  # type: ignore[misc]
    vec, loc = copy_of(rng, vector, library.embedding(original).locals)  # type: ignore[union-attr]
    root = catalog.roots()[0].id
    path = library.home / "photos" / f"new_{time.time_ns()}.jpg"
    with library._writer.write():
        row = catalog.photo_by_id(catalog.upsert_pending(root, path, 1, 1, None))
    found = Embedding(vec, peaks_from_bytes(peaks), loc, random_thumb(rng))
    library._writer.commit([(row, found)])  # type: ignore[list-item]
    started = time.perf_counter()
    checked = finder.update()
    groups = grouping.groups_touching(finder.edges(), [row.id])  # type: ignore[union-attr]
    took = time.perf_counter() - started
    assert checked == 1 and any(original in g.members for g in groups), (checked, groups)
    return took


def count_handoff(finder: Any) -> list[int]:
    """Set a file check on ``finder`` that only counts the pairs handed to it (the synthetic
    photos have no files): what the file check of turned and mirrored copies would be given."""
    handed = [0]

    def file_check(a: Path, b: Path, cosine: float) -> PairEvidence:
        handed[0] += 1
        return PairEvidence(None, cosine)

    finder.file_check = file_check
    return handed


def measure(home: str, planted: dict[str, Any], out: Any, handoff: bool = False) -> None:
    """Runs in a fresh process; puts the result dict on ``out``."""
    library = Library.open(Path(home), qs.StandIn())
    with sqlite3.connect(Path(home) / CATALOG_FILE) as db:  # from scratch
        db.execute("DROP TABLE IF EXISTS dup_edges")
        db.execute("DROP TABLE IF EXISTS dup_checked")
    opened_mb = peak_mb()
    finder = library.duplicates()
    handed = count_handoff(finder) if handoff else [None]
    phases = timed(finder, ("_candidates", "_verify"))
    screen = {} if finder.screen is None else timed(finder.screen, ("copies",))  # thumbnails
    verify = finder._verify
    pairs = [0]

    def counted(a: Any, *rest: Any) -> Any:
        pairs[0] += len(a)
        return verify(a, *rest)

    finder._verify = counted  # type: ignore[method-assign,assignment]
    started, cpu, busy = time.perf_counter(), time.process_time(), qs.cpu_snapshot()
    checked = finder.update(threading.Event())
    edges = finder.edges()
    groups = grouping.build_groups(edges)
    full_s, full_cpu = time.perf_counter() - started, time.process_time() - cpu
    others = qs.others_share(busy, qs.cpu_snapshot())
    full_mb = peak_mb()
    load_full = os.getloadavg()[0]
    reference_s, reference_cpu = knn_pass(library)
    load_knn = os.getloadavg()[0]
    found = {grouping.pair(a, b) for a, b in planted["pairs"]} & set(edges)
    finder.file_check = None
    one = [one_new_photo(library, np.random.default_rng(s)) for s in range(5)]
    library.close()
    out.put({
        "photos": checked, "edges": len(edges), "groups": len(groups),
        "planted_pairs": len(planted["pairs"]), "planted_found": len(found),
        "full_s": round(full_s, 2), "knn_pass_s": round(reference_s, 2),
        "full_over_knn": round(full_s / reference_s, 2),
        "full_cpu_s": round(full_cpu, 1), "knn_pass_cpu_s": round(reference_cpu, 1),
        "others_cpu_share_during_full": others,
        "load_after_full": round(load_full, 2), "load_after_knn_pass": round(load_knn, 2),
        "peak_rss_after_open_mb": round(opened_mb), "peak_rss_after_grouping_mb": round(full_mb),
        "one_photo_s": [round(t, 3) for t in one],
        "phases_s": {k: round(v, 2) for k, v in (phases | screen).items()},
        "pairs_checked": pairs[0],
        "edges_by_kind": {k: sum(e.kind == k for e in edges.values()) for k in ("copy", "burst")},
        "file_check_pairs": handed[0], "neighbours": finder._neighbours(),
        "floor": finder._floor(),
        "screened_pairs": None if finder.screen is None else finder.screen.screened,
        "screen_passed_pairs": None if finder.screen is None else finder.screen.tested,
        "prefilter": grouping.PREFILTER, "chance_cosine": grouping.CHANCE_COSINE,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="library home to build once and reuse")
    ap.add_argument("--handoff", action="store_true",
                    help="count the pairs a file check would be given (candidates down to "
                    "grouping.CHANCE_COSINE that the cells do not call a copy or a burst)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        build = qs.prepare_home(home, args.n, args.seed)
        planted = plant(home, args.seed)
        thumbs = plant_thumbs(home, args.seed, planted)
        load_before = os.getloadavg()
        # the measuring process runs NumPy's BLAS on one thread per caller, as the app does
        # (lookalike.app sets these before NumPy is imported)
        for blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(blas, "1")
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=measure, args=(str(home), planted, out, args.handoff))
        child.start()
        result = out.get()
        child.join()
    result.update(build=build, thumbs_written=thumbs,
                  load_before=[round(x, 2) for x in load_before],
                  load_after=[round(x, 2) for x in os.getloadavg()], cores=os.cpu_count())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
