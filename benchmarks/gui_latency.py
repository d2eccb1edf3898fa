"""How quickly the window responds: launch → shown, drop → results, select → highlights.

Builds (or reuses, with ``--home``) a library of a folder of photos, then drives the real window
offscreen and prints medians and 90th percentiles:

    python benchmarks/gui_latency.py [IMAGES] [--fake] [--preset P] [--queries 20] [--home DIR]

IMAGES defaults to ../shared/bench/dev/images. The real embedder of ``--preset`` (the app's
default) is used unless ``--fake`` (the tests' FakeEmbedder: measures the GUI's own overhead,
not the model's).

Measured:
- launch: from before the GUI modules are imported to the window's first paint (the library is
  opened before, its time is printed separately);
- drop → results: from the drop event to the results being in the grid (``resultsShown``), for
  a library photo (its stored vector is reused) and for a copy outside the library (embedded),
  also when that copy was dragged over the window ``--hover`` ms before its drop (the window
  embeds it meanwhile); plus until the visible thumbnails are painted (cold thumbnail cache);
- select → highlights: from selecting a result to the match view's boxes (``highlightsShown``),
  the result's photo not yet decoded (cold) and decoded before (warm).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = next((up / "shared" / "bench" / "dev" / "images" for up in REPO.parents
                       if (up / "shared" / "bench" / "dev").is_dir()), Path("shared/bench/dev"))
"""bench/dev's photos, in ``shared/`` next to the repository (a worktree sits deeper)."""

log = logging.getLogger("gui_latency")


def make_embedder(fake: bool, preset: str) -> object:
    """The real embedder of ``preset``, or the tests' FakeEmbedder with ``--fake``."""
    if fake:
        sys.path.insert(0, str(REPO))
        from tests.fakes import FakeEmbedder

        return FakeEmbedder()
    from lookalike.embed.model import Embedder

    return Embedder.from_preset(preset)


def timed(signal: object, action: object, timeout_s: float = 60.0) -> float:
    """Seconds from calling ``action()`` to ``signal`` firing (the event loop runs meanwhile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, fired_at = QEventLoop(), []

    def fired(*_args: object) -> None:
        fired_at.append(time.perf_counter())
        loop.quit()

    signal.connect(fired)  # type: ignore[attr-defined]
    guard = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    guard.timeout.connect(loop.quit)
    guard.start()
    start = time.perf_counter()
    action()  # type: ignore[operator]
    if not fired_at:
        loop.exec()
    signal.disconnect(fired)  # type: ignore[attr-defined]
    if not fired_at:
        raise TimeoutError(f"{signal} did not fire within {timeout_s} s")
    return fired_at[0] - start


def thumbnails_painted(window: object) -> None:
    """Paint, and wait until the thumbnails that paint asked for are loaded and painted."""
    thumbs = window.thumbnails  # type: ignore[attr-defined]
    window.grab()  # type: ignore[attr-defined]
    while thumbs.pending_count():
        timed(thumbs.ready, lambda: None, 30)
    window.grab()  # type: ignore[attr-defined]


def drop(window: object, path: Path) -> None:
    """The same call a drop from the file manager makes."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(300, 300),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)  # type: ignore[attr-defined]


def drag_enter(window: object, path: Path) -> None:
    """What the window gets when a file from the file manager is dragged over it."""
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDragEnterEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    window.dragEnterEvent(event)  # type: ignore[attr-defined]


def hover(app: object, seconds: float) -> None:
    """Run the event loop for ``seconds`` (a photo held over the window)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.005)


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"{name:<44} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ms)})"


def build_library(images: Path, home: Path, fake: bool, preset: str) -> object:
    from lookalike.library import Library

    started = time.perf_counter()
    library = Library.open(home, make_embedder(fake, preset))  # type: ignore[arg-type]
    library.add_root(images)
    for progress in library.sync():
        last = progress
    log.info(
        "library ready: %d photos embedded now, %.1f s", last.done, time.perf_counter() - started
    )
    return library



def open_window(library: Any, start: bool) -> tuple[Any, Any, float]:
    """Create the app's window for ``library``, show it and wait for its first paint.

    Returns:
        The QApplication, the window, and the perf_counter time of the first paint.
    """
    from PySide6.QtCore import QEvent, QObject, QSize

    from lookalike.gui import app as gui_app
    from lookalike.settings import Settings

    app = gui_app.application()
    window = gui_app.create_window(library, Settings(), None)
    window.resize(QSize(1280, 800))

    class FirstPaint(QObject):
        at: float | None = None

        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and self.at is None:
                self.at = time.perf_counter()
            return False

    first_paint = FirstPaint()
    window.installEventFilter(first_paint)
    window.show()
    if start:
        window.start()
    else:
        window.request_status()
    while first_paint.at is None:
        app.processEvents()
    return app, window, first_paint.at

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="?", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--fake", action="store_true", help="use the tests' FakeEmbedder")
    parser.add_argument("--preset", default=None, help="model preset (default: the app's)")
    parser.add_argument("--hover", type=float, default=300.0,
                        help="ms a photo is dragged over the window before its drop")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--home", type=Path, help="library folder to build or reuse")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = Path(tempfile.mkdtemp(prefix="lookalike-latency-"))
    os.environ["LOOKALIKE_HOME"] = str(scratch)  # fresh thumbnail cache, window state
    sys.path.insert(0, str(REPO / "desktop"))
    images = args.images.resolve()
    from lookalike.embed.presets import DEFAULT_PRESET

    preset = args.preset or DEFAULT_PRESET
    library = build_library(images, args.home or scratch / "library", args.fake, preset)

    t_open = time.perf_counter()
    app, window, painted = open_window(library, start=True)
    launch = painted - t_open

    photos = sorted(p for p in images.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step = max(1, len(photos) // args.queries)
    queries = photos[::step][: args.queries]
    outside = scratch / "outside"
    outside.mkdir()
    results_lib, results_ext, thumbs_cold, select_cold, select_warm = [], [], [], [], []
    results_dragged: list[float] = []
    search, match = window.search, window.search.match_view

    def settle_auto_selection() -> None:
        """Wait for the highlights of the result selected automatically after a search."""
        detail = match.detail()
        if detail is None or detail.item != search.results.current_item():
            timed(match.highlightsShown, lambda: None)

    for n, query in enumerate(queries):
        results_lib.append(timed(search.resultsShown, lambda q=query: drop(window, q)))
        t0 = time.perf_counter()
        thumbnails_painted(window)
        thumbs_cold.append(time.perf_counter() - t0)
        settle_auto_selection()
        copy = shutil.copy(query, outside / f"{n}_{query.name}")
        results_ext.append(timed(search.resultsShown, lambda c=copy: drop(window, Path(c))))
        settle_auto_selection()
        dragged = Path(shutil.copy(query, outside / f"dragged_{n}_{query.name}"))
        drag_enter(window, dragged)
        hover(app, args.hover / 1000)
        results_dragged.append(timed(search.resultsShown, lambda d=dragged: drop(window, d)))
        settle_auto_selection()
        for row in (2, 3):  # rows 0 (auto-selected) and 1 may be decoded already
            index = search.model.index(row)
            select_cold.append(
                timed(match.highlightsShown, lambda i=index: search.results.setCurrentIndex(i))
            )
        index = search.model.index(2)
        select_warm.append(
            timed(match.highlightsShown, lambda i=index: search.results.setCurrentIndex(i))
        )
    indexed = library.status().indexed
    window.close()

    print(
        f"photos in library: {indexed}  ({'fake' if args.fake else preset} "
        f"embedder, {len(queries)} queries, platform {app.platformName()}, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    print(f"{'launch → window painted':<44} {launch * 1000:7.1f} ms")
    print(summary("drop library photo → results in grid", results_lib))
    print(summary("drop outside photo → results in grid", results_ext))
    print(summary(f"drag {args.hover:.0f} ms, drop → results in grid", results_dragged))
    print(summary("results → visible thumbnails painted (cold)", thumbs_cold))
    print(summary("select result → highlights (cold decode)", select_cold))
    print(summary("select result → highlights (warm)", select_warm))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
