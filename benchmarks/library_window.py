"""The window on a big library: time to open it, to show the window, to first results; idle RSS.

Uses a library home built by ``query_speed.py --keep HOME`` (N synthetic photos with vectors,
peaks and local features; 100k by default), so build that first::

    python benchmarks/query_speed.py --keep /tmp/qs100k            # builds the 100k home
    python benchmarks/library_window.py /tmp/qs100k [--photo ../shared/bench/perf/x.jpg]

Measured, in this order, in one process (offscreen Qt):

- open: ``Library.open`` of the home (catalog checks, the HNSW index loaded);
- visible: from before the GUI modules are imported to the window's first paint;
- idle RSS: resident memory once the window has painted and its counts have loaded;
- first results: dropping a full-size photo from outside the library (embedded for real with
  the ``--preset`` model, searched with the default options) until the results are in the grid,
  ``--drops`` times (median and max);
- disk: the catalog (+ WAL) and the index files.

The synthetic photos do not exist on disk, so the window's start-up sync is not started (it
would sweep them as deleted): the figure is the window itself plus the status query it makes.
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
from gui_latency import drop, open_window, timed  # noqa: E402
from query_speed import StandIn, storage  # noqa: E402

PERF = HERE.parents[0] / ".." / "shared" / "bench" / "perf"


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


def measure(home: Path, photo: Path, preset: str, drops: int) -> dict[str, Any]:
    from lookalike.embed.model import Embedder
    from lookalike.library.facade import Library

    stand_in = StandIn()
    stand_in.real = Embedder.from_preset(preset)
    result: dict[str, Any] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    result["rss_before_open_mib"] = round(rss_mib())
    start = time.perf_counter()
    library = Library.open(home, stand_in)  # type: ignore[arg-type]
    result["open_s"] = round(time.perf_counter() - start, 2)
    t_gui = time.perf_counter()
    app, window, painted = open_window(library, start=False)
    result["visible_s"] = round(painted - t_gui, 3)
    settle(app, 3.0)
    result["idle_rss_mib"] = round(rss_mib())
    search = window.search
    times = [timed(search.resultsShown, lambda: drop(window, photo)) for _ in range(drops)]
    result["first_results_ms"] = round(times[0] * 1000)
    result["drop_to_results_median_ms"] = round(statistics.median(times) * 1000)
    result["drop_to_results_max_ms"] = round(max(times) * 1000)
    result["rss_after_searches_mib"] = round(rss_mib())
    window.close()
    library.close()
    result["storage"] = storage(home)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("home", type=Path, help="a home built by query_speed.py --keep")
    ap.add_argument("--photo", type=Path, default=None, help="a photo outside the library")
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--drops", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ["LOOKALIKE_HOME"] = tempfile.mkdtemp(prefix="lookalike-window-")
    photo = args.photo or sorted(PERF.resolve().glob("*.jpg"))[0]
    print(json.dumps(measure(args.home.resolve(), photo, args.preset, args.drops), indent=1))


if __name__ == "__main__":
    main()
