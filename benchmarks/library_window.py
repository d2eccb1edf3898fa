"""The window on a big library: open, visible, idle memory, first results, drop → results.

Uses a library home built by ``query_speed.py --keep HOME`` (N synthetic photos with vectors,
peaks and local features; 100k by default), so build that first::

    python benchmarks/query_speed.py --keep /tmp/qs100k            # builds the 100k home
    python benchmarks/library_window.py /tmp/qs100k [--perf ../shared/bench/perf] [--json]

Opening a library may write to its home (WAL, a repaired index): point it at a copy of a home
that others read. Measured, in this order, in one process (offscreen Qt unless
``QT_QPA_PLATFORM`` says otherwise):

- open: ``Library.open`` of the home (catalog checks, the HNSW index loaded);
- visible: from before the GUI modules are imported to the window's first paint;
- first results: a full-size photo from outside the library dropped as soon as the window
  shows (embedded for real with the ``--preset`` model after the window's warm-up run, as
  ``MainWindow.start`` queues it; searched with the window's options) until the results are
  in the grid, from before the GUI modules are imported and from the drop;
- idle RSS: resident memory once that search is done and the window is idle (the model's
  buffers allocated); also before the library is opened (the model's session made), after it
  is opened (the index loaded) and once visible;
- idle RSS once the window has given the model's working memory back
  (``gui/idle_memory.py``, after its quiet time), and the next drop → results;
- drop → results over ``--drops`` more drops of different photos, and drag → drop → results
  where each photo was dragged over the window ``--hover`` ms before it was dropped (the
  window embeds it meanwhile);
- disk: the catalog (+ WAL) and the index files;
- with ``--cold-catalog`` (root), all of it with the library out of the page cache (as after a
  reboot): each search then reads its shortlist's vectors, DBA's neighbours and the local
  features from the disk;
- reference: a fixed NumPy workload timed at the start and the end, so that runs on a busy
  machine can be compared (ratios), with the load average.

The synthetic photos do not exist on disk, so the window's start-up sync is not started (it
would sweep them as deleted), and their thumbnails show as missing.

Measured 2026-12-02 on a 100k home, ``--quiet 0.05`` (each drop timed while other processes
used < 5 % of the 2 shared cores, load 0.6-0.7), back to back with the code before that day's
search-path work: drop → results p50 356 ms / p95 371 (before 380 / 491), its
``Library.search`` 352 / 367 (before 374 / 485), the window's own share 2 + 2 ms; drag → drop
→ results 108 / 116 (before 126 / 137). The window searches with "Best 100" (a kNN of 100:
~10 ms more than ``query_speed.py``'s 50) and drops photos 01-06 of bench/perf, one of them a
3072x2048 JPEG without restart markers (decoded on one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bundle_start import drop_caches  # noqa: E402
from gui_latency import drag_enter, drop, open_window, timed  # noqa: E402
from query_speed import (  # noqa: E402
    PHOTOS,
    StandIn,
    cpu_snapshot,
    others_share,
    reference_ms,
    storage,
    when_quiet,
)


def rss_mib() -> float:
    """Resident memory of this process now, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def settle(app: Any, seconds: float) -> None:
    """Run the event loop for a while (counts, thumbnails, timers)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def idle(app: Any, window: Any) -> None:
    """Run the event loop until the window's library calls have all answered."""
    while window.runner.busy() or window.decoder.busy():
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


class Calls:
    """perf_counter times at which the window's calls of ``library.search`` and
    ``library.prepare`` started and returned (instance attributes shadow the methods while
    the benchmark runs)."""

    def __init__(self, library: Any) -> None:
        self.library = library
        self.spans = self._timed("search")
        self.prepared = self._timed("prepare")

    def _timed(self, name: str) -> list[tuple[float, float]]:
        spans: list[tuple[float, float]] = []
        original = getattr(self.library, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spans.append((start, time.perf_counter()))

        setattr(self.library, name, timed)
        return spans

    def restore(self) -> None:
        del self.library.search, self.library.prepare


def drops(app: Any, window: Any, photos: list[Path], hover_ms: float, calls: Calls,
          quiet: float = 0.0) -> tuple[list[float], dict[str, list[float]]]:  # fmt: skip
    """Drop → results seconds per photo, and the seconds of its parts; with ``hover_ms``,
    each is dragged over the window that long before its drop (the clock starts at the
    drop). Parts: the window's work from the drop until the library call starts (Qt, the
    runner's queue), the library call, and from its return to the results shown (Qt). With
    ``quiet`` > 0, each photo is dropped once other processes use less than that share of
    the cores, and again (up to 10 times) when they used more meanwhile."""
    out: list[float] = []
    parts: dict[str, list[float]] = {}
    for photo in photos:
        for _ in range(10):
            idle(app, window)
            when_quiet(quiet)
            # when_quiet sleeps without running the event loop; a window that was left to run
            # has painted the last results (and their thumbnails) long before the next drop,
            # so let that happen now rather than during the timed drop (measured: +28 ms p50)
            settle(app, 0.3)
            idle(app, window)
            if hover_ms:
                drag_enter(window, photo)
                settle(app, hover_ms / 1000)
            calls.spans.clear()
            at, before = time.perf_counter(), cpu_snapshot()
            took = timed(window.search.resultsShown, lambda p=photo: drop(window, p))
            used = others_share(before, cpu_snapshot())
            if quiet <= 0 or used is None or used < quiet:
                break
        out.append(took)
        (begin, end), shown = calls.spans[-1], at + out[-1]
        for name, sec in (("window: drop → library call starts", begin - at),
                          ("library call: Library.search", end - begin),
                          ("window: call returns → results shown", shown - end)):  # fmt: skip
            parts.setdefault(name, []).append(sec)
        if hover_ms and calls.prepared:
            first, last = calls.prepared[-1]
            parts.setdefault("Library.prepare while dragged (ends after the drop)",
                             []).append(last - first)  # fmt: skip
        idle(app, window)
    return out, parts


def ms(seconds: list[float]) -> dict[str, float]:
    values = sorted(s * 1000 for s in seconds)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"p50": round(statistics.median(values)), "p95": round(p95),
            "max": round(values[-1]), "n": len(values)}  # fmt: skip


def measure(home: Path, photos: list[Path], preset: str, args: argparse.Namespace
            ) -> dict[str, Any]:  # fmt: skip
    from lookalike.embed.model import Embedder
    from lookalike.library.facade import Library

    result: dict[str, Any] = {"preset": preset, "load_average_start": os.getloadavg(),
                              # no cached bytecode (PYTHONDONTWRITEBYTECODE): "visible" then
                              # includes compiling the GUI modules, which an install has not
                              "python_writes_bytecode": not sys.dont_write_bytecode}
    result["reference_ms_start"] = reference_ms()
    stand_in = StandIn()
    stand_in.real = Embedder.from_preset(preset)
    result["rss_before_open_mib"] = round(rss_mib())
    if args.cold_catalog:  # as after a reboot: nothing of the library in the page cache, but
        # the dropped photos read once (a file manager has just shown them)
        result["cold_catalog"] = drop_caches()
        for photo in photos:
            photo.read_bytes()
    start = time.perf_counter()
    library = Library.open(home, stand_in)  # type: ignore[arg-type]
    result["open_s"] = round(time.perf_counter() - start, 2)
    result["rss_after_open_mib"] = round(rss_mib())
    t_gui = time.perf_counter()
    app, window, painted = open_window(library, start=False)
    result["visible_s"] = round(painted - t_gui, 3)
    result["rss_visible_mib"] = round(rss_mib())
    window.warm_up()  # as MainWindow.start does (its sync is left out, see the docstring)
    search = window.search
    first = timed(search.resultsShown, lambda: drop(window, photos[0]))  # dropped at once
    result["first_results_s"] = round(time.perf_counter() - t_gui, 2)
    result["first_drop_to_results_ms"] = round(first * 1000)
    idle(app, window)
    settle(app, 2.0)
    result["idle_rss_mib"] = round(rss_mib())
    if args.shot:
        idle(app, window)
        settle(app, 1.0)
        window.grab().save(str(args.shot))
    others = (photos[1:] * args.drops)[: args.drops] or photos[:1]
    calls = Calls(library)
    whole, parts = drops(app, window, others, 0.0, calls, args.quiet)
    result["drop_to_results_ms"] = ms(whole)
    result["drop_stages_ms"] = {name: ms(sec) for name, sec in parts.items()}
    whole, parts = drops(app, window, others, args.hover, calls, args.quiet)
    result["drag_drop_to_results_ms"] = ms(whole)
    result["drag_drop_stages_ms"] = {name: ms(sec) for name, sec in parts.items()}
    calls.restore()
    result["hover_ms"], result["quiet_share"] = args.hover, args.quiet
    result["results_shown"] = search.model.rowCount()
    result["rss_after_searches_mib"] = round(rss_mib())
    settle(app, window.idle_memory._timer.interval() / 1000 + 0.5)  # the window's idle release
    idle(app, window)
    settle(app, 0.5)
    result["idle_released_rss_mib"] = round(rss_mib())
    again = Calls(library)
    whole, _ = drops(app, window, others[:1], 0.0, again)  # the arena grows again
    again.restore()
    result["drop_after_release_ms"] = ms(whole)
    window.close()
    library.close()
    result["storage"] = storage(home)
    result["reference_ms_end"] = reference_ms()
    result["load_average_end"] = os.getloadavg()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("home", type=Path, help="a home built by query_speed.py --keep")
    ap.add_argument("--perf", type=Path, default=PHOTOS, help="folder of full-size JPEGs")
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--drops", type=int, default=6, help="drops after the first")
    ap.add_argument("--hover", type=float, default=300.0,
                    help="ms a photo is dragged over the window before its drop")
    ap.add_argument("--shot", type=Path, default=None, help="save a screenshot (PNG) here")
    ap.add_argument("--cold-catalog", action="store_true",
                    help="(root) empty the page cache before opening the library, then read "
                         "the photos once: every search reads the catalog from the disk")
    ap.add_argument("--quiet", type=float, default=0.0,
                    help="time each drop only while other processes use less than this share "
                         "of the cores (e.g. 0.05; 0: always)")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # as the app runs (see lookalike.app)
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    os.environ["LOOKALIKE_HOME"] = tempfile.mkdtemp(prefix="lookalike-window-")
    photos = sorted(args.perf.resolve().glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no JPEG photos in {args.perf}")
    print(json.dumps(measure(args.home.resolve(), photos, args.preset, args), indent=1))


if __name__ == "__main__":
    main()
