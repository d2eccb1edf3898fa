"""Render the Duplicates page: a copy group and a burst group, offscreen (docs/duplicates.png).

Makes a throwaway library (in a temporary ``$LOOKALIKE_HOME``) from two photos of a folder
(default ../shared/bench/perf, photos in no retrieval bench): the first with a 1280 px
recompressed copy, a crop and a copy turned a quarter (its pixels, no EXIF turn), the second
as two takes a second apart (shifted by a few pixels, camera EXIF with two dates). Then saves
the page as found (docs/duplicates.png) and after "Keep suggested in all groups"
(docs/duplicates_marked.png):

    python docs/render_duplicates.py [PHOTOS] [--out docs] [--dark]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared" / "bench" / "perf"
sys.path.insert(0, str(REPO / "docs"))
sys.path.insert(0, str(REPO / "desktop"))

import render_screenshots as shots  # noqa: E402  (waiting, saving, the dark palette)

log = logging.getLogger("render_duplicates")


def make_photos(sources: list[Path], folder: Path) -> None:
    """The copy group from ``sources[0]``, the burst from ``sources[1]``."""
    from PIL import Image

    def exif(taken: str) -> Image.Exif:
        tags = Image.Exif()
        tags[0x010F], tags[0x0110] = "Lookalike", "Camera"
        tags.get_ifd(0x8769)[0x9003] = taken
        return tags

    (folder / "Camera").mkdir(parents=True)
    (folder / "WhatsApp").mkdir()
    (folder / "Edits").mkdir()
    with Image.open(sources[0]) as im:
        im = im.convert("RGB")
        im.save(folder / "Camera" / "IMG_2041.jpg", quality=92, exif=exif("2024:06:14 18:02:11"))
        small = im.copy()
        small.thumbnail((1280, 1280))
        small.save(folder / "WhatsApp" / "IMG-20240614-WA0003.jpg", quality=70)
        w, h = im.size
        im.crop((w // 8, h // 8, w - w // 8, h - h // 8)).save(
            folder / "Edits" / "IMG_2041_crop.jpg", quality=88, exif=exif("2024:06:14 18:02:11"))
        turned = small.transpose(Image.Transpose.ROTATE_90)  # pixels turned, no EXIF turn
        turned.save(folder / "Edits" / "IMG_2041_turned.jpg", quality=85)
    with Image.open(sources[1]) as im:
        im = im.convert("RGB")
        w, h = im.size
        for i in (0, 1):
            take = im.crop((6 * i, 4 * i, w - 6 * (1 - i), h - 4 * (1 - i)))
            take.save(folder / "Camera" / f"IMG_2050_{i + 1}.jpg", quality=92,
                      exif=exif(f"2024:06:15 09:14:0{2 + i}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LOOKALIKE_HOME"] = tempfile.mkdtemp(prefix="lookalike-dups-")
    from PySide6.QtCore import QSize

    from lookalike.gui import app as gui_app
    from lookalike.library import Library
    from lookalike.settings import Settings

    root = Path(os.environ["LOOKALIKE_HOME"]) / "Pictures"
    sources = sorted(args.photos.glob("*.jpg"))
    make_photos([sources[0], sources[len(sources) // 2]], root)  # two different scenes
    library = Library.open(Path(os.environ["LOOKALIKE_HOME"]) / "library",
                           shots.make_embedder(False))  # type: ignore[arg-type]
    library.add_root(root)
    list(library.sync())
    app = gui_app.application()
    if args.dark:
        shots.use_dark_palette(app)
    suffix = "_dark" if args.dark else ""
    window = gui_app.create_window(library, Settings(), None)
    window.resize(QSize(1280, 860))
    window.show()
    window.start()
    shots.wait_for(window.statusRefreshed)
    page = window.duplicates
    window.tabs.setCurrentWidget(page)
    shots.wait_for(page.loaded, 300)
    shots.settle_thumbnails(window)
    args.out.mkdir(parents=True, exist_ok=True)
    shots.save(window.grab(), args.out / f"duplicates{suffix}.png")
    page.suggest_all.click()
    app.processEvents()
    shots.save(window.grab(), args.out / f"duplicates_marked{suffix}.png")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
