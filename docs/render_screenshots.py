"""Render the README screenshots: the main window with results, and the match view.

Builds a throwaway library of a folder of photos (in a temporary ``$LOOKALIKE_HOME``, so the
user's own library is never touched), searches with one of them, and saves ``widget.grab()``
of the window offscreen: docs/main_window.png, docs/viewer.png, docs/shortcuts.png,
docs/match_view.png and docs/albums.png
(``*_dark.png`` with ``--dark``):

    python docs/render_screenshots.py [IMAGES] [--fake] [--dark] [--query PATH] [--out docs]

IMAGES defaults to ../shared/bench/dev/images (next to the repository). The real embedder
(``Embedder.from_preset("balanced")``) is used when its model is installed; ``--fake`` uses the test
suite's FakeEmbedder instead (colour layout, for layout work only).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "bench" / "dev" / "images"
DEFAULT_QUERY = "strecha_fountain_p11/strecha_fountain_p11_00.jpg"

log = logging.getLogger("render_screenshots")


def make_embedder(fake: bool) -> object:
    """The real default ("balanced") embedder, or the tests' FakeEmbedder with ``--fake``."""
    if fake:
        sys.path.insert(0, str(REPO))
        from tests.fakes import FakeEmbedder

        return FakeEmbedder()
    from lookalike.embed.model import Embedder

    return Embedder.from_preset("balanced")


def wait_for(signal: object, timeout_s: float = 60.0) -> list[object]:
    """Run the event loop until ``signal`` fires (or the timeout passes); returns its args."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, args = QEventLoop(), []

    def fired(*values: object) -> None:
        args.extend(values)
        loop.quit()

    signal.connect(fired)  # type: ignore[attr-defined]
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(fired)  # type: ignore[attr-defined]
    if not args:
        log.warning("timed out waiting for %s", signal)
    return args


def settle_thumbnails(window: object) -> None:
    """Paint, then wait until every thumbnail the paint asked for has loaded."""
    window.grab()  # type: ignore[attr-defined]
    thumbs = window.thumbnails  # type: ignore[attr-defined]
    while thumbs.pending_count():
        wait_for(thumbs.ready, 10)


def save(pixmap: object, path: Path) -> None:
    """Write a grabbed pixmap as PNG and say so."""
    if not pixmap.save(str(path)):  # type: ignore[attr-defined]
        raise SystemExit(f"could not write {path}")
    log.info("saved %s", path)


def use_dark_palette(app: object) -> None:
    """Fusion with a dark palette: roughly what a dark desktop theme hands the app."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")  # type: ignore[attr-defined]
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    palette = QPalette()
    for r, colour in (
        (role.Window, "#2b2b2d"),
        (role.WindowText, "#e8e8e8"),
        (role.Base, "#1f1f21"),
        (role.AlternateBase, "#2a2a2c"),
        (role.Text, "#e8e8e8"),
        (role.Button, "#353537"),
        (role.ButtonText, "#e8e8e8"),
        (role.Highlight, "#3d7ddc"),
        (role.HighlightedText, "#ffffff"),
        (role.PlaceholderText, "#8d8d92"),
        (role.Mid, "#4a4a4d"),
        (role.Dark, "#1a1a1a"),
        (role.Light, "#505053"),
        (role.ToolTipBase, "#353537"),
        (role.ToolTipText, "#e8e8e8"),
        (role.Link, "#6ea8ff"),
    ):
        palette.setColor(r, QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, r, QColor("#6d6d70"))
    app.setPalette(palette)  # type: ignore[attr-defined]


def window_with_results(library: object, query: Path, size: tuple[int, int],
                        dark: bool = False) -> tuple[object, object]:  # fmt: skip
    """The app and its main window on ``library``, shown at ``size``, once the search with
    ``query`` has put its results in the grid."""
    from PySide6.QtCore import QSize

    from lookalike.gui import app as gui_app
    from lookalike.settings import Settings

    app = gui_app.application()
    if dark:
        use_dark_palette(app)
    window = gui_app.create_window(library, Settings(), None)
    window.resize(QSize(*size))
    window.show()
    window.start()
    wait_for(window.statusRefreshed)
    window.search.search_file(query)
    wait_for(window.search.resultsShown)
    return app, window


def save_viewer_and_shortcuts(window: object, app: object, out: Path, suffix: str) -> None:
    """docs/viewer.png (the best result large, with its match highlights) and
    docs/shortcuts.png (Help → Keyboard Shortcuts)."""
    viewer = window.viewer  # type: ignore[attr-defined]
    window.search.results.viewRequested.emit(0)  # type: ignore[attr-defined]
    wait_for(viewer.loaded)
    app.processEvents()  # type: ignore[attr-defined]
    save(window.grab(), out / f"viewer{suffix}.png")  # type: ignore[attr-defined]
    window.navigation.close_viewer()  # type: ignore[attr-defined]
    dialog = window.show_shortcuts()  # type: ignore[attr-defined]
    app.processEvents()  # type: ignore[attr-defined]
    save(dialog.grab(), out / f"shortcuts{suffix}.png")
    dialog.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="?", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--fake", action="store_true", help="use the tests' FakeEmbedder")
    parser.add_argument("--query", type=Path, help="photo to search with")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--dark", action="store_true", help="dark colour scheme (*_dark.png)")
    parser.add_argument("--home", type=Path, help="library folder to build or reuse")
    parser.add_argument("--crop", help="search a region of the query: x0,y0,x1,y1 in 0..1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LOOKALIKE_HOME"] = tempfile.mkdtemp(prefix="lookalike-shots-")
    sys.path.insert(0, str(REPO / "desktop"))

    from PySide6.QtCore import QSize

    from lookalike.library import Library

    images = args.images.resolve()
    query = args.query or images / DEFAULT_QUERY
    if not query.exists():
        query = next(p for p in sorted(images.rglob("*.jpg")))
    home = args.home or Path(os.environ["LOOKALIKE_HOME"]) / "library"
    library = Library.open(home, make_embedder(args.fake))
    library.add_root(images)
    for progress in library.sync():
        if progress.phase in ("done", "cancelled"):
            log.info("indexed %d photos (%d unreadable)", progress.done, progress.skipped)

    suffix = "_dark" if args.dark else ""
    app, window = window_with_results(library, query, (1280, 800), args.dark)
    search = window.search
    if args.crop:
        while search.query_view.image() is None:  # the crop needs the photo shown
            app.processEvents()
        search.query_view.set_crop(tuple(float(v) for v in args.crop.split(",")))
        wait_for(search.resultsShown)
    if search.match_view.detail() is None:
        wait_for(search.match_view.highlightsShown)
    settle_thumbnails(window)
    args.out.mkdir(parents=True, exist_ok=True)
    save(window.grab(), args.out / f"main_window{suffix}.png")

    save_viewer_and_shortcuts(window, app, args.out, suffix)

    window.resize(QSize(1500, 940))  # room for a large match view
    search.right.setSizes([380, 480])
    search.match_view.set_lines_visible(True)
    app.processEvents()
    save(search.match_view.grab(), args.out / f"match_view{suffix}.png")

    window.resize(QSize(1280, 800))
    window.browse_folder(query.parent)
    wait_for(window.albums.photosShown)
    settle_thumbnails(window)
    save(window.grab(), args.out / f"albums{suffix}.png")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
