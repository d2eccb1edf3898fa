"""Render the verdict screenshots: results in sections, "nothing in your library", match views.

    python docs/render_verdict_screenshots.py COPIES_BENCH [--groups astronaut,chelsea,coffee]
        [--absent flower] [--out docs]

COPIES_BENCH is a bench made by ``benchmarks/make_copies_bench.py`` (photos from no bench). A
throwaway library (temporary ``$LOOKALIKE_HOME``) holds the copies and other shots of a few
copy groups; the first group's original is the query. Saves docs/verdicts.png (same photo, same
place and look-alike sections), docs/verdict_copy.png and docs/verdict_unrelated.png (the
match view of a copy and of an unverified result) and docs/verdict_nothing.png (a query whose
scene is not in the library). Real default embedder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs"))

from render_screenshots import (  # noqa: E402
    save,
    settle_thumbnails,
    wait_for,
    window_with_results,
)


def build_folder(bench: Path, groups: list[str], folder: Path) -> Path:
    """Copy the groups' images and other shots into ``folder``; returns the query (the first
    group's original, kept out of the library)."""
    gt = json.loads((bench / "groundtruth.json").read_text())
    query = Path(tempfile.mkdtemp()) / Path(gt["groups"][groups[0]][0]).name
    shutil.copy(bench / gt["groups"][groups[0]][0], query)
    for name in groups:
        for rel in gt["groups"][name][1:] + gt["scenes"].get(name, []):
            shutil.copy(bench / rel, folder / Path(rel).name)
    return query


def select_row(search: object, app: object, verdict: str) -> None:
    """Select the first result with ``verdict`` and wait for its match view."""
    model = search.model  # type: ignore[attr-defined]
    row = next(r for r in range(model.rowCount()) if model.item(r).verdict == verdict)
    search.results.setCurrentIndex(model.index(row))  # type: ignore[attr-defined]
    wait_for(search.match_view.highlightsShown)  # type: ignore[attr-defined]
    app.processEvents()  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", type=Path)
    ap.add_argument("--groups", default="astronaut,chelsea,coffee")
    ap.add_argument("--absent", default="distractors/flower_orig.jpg")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LOOKALIKE_HOME"] = tempfile.mkdtemp(prefix="lookalike-verdicts-")
    sys.path.insert(0, str(REPO / "desktop"))

    from lookalike.embed.model import Embedder
    from lookalike.library import Library

    folder = Path(os.environ["LOOKALIKE_HOME"]) / "Pictures"
    folder.mkdir()
    query = build_folder(args.bench, args.groups.split(","), folder)
    library = Library.open(Path(os.environ["LOOKALIKE_HOME"]) / "lib",
                           Embedder.from_preset("balanced"))  # fmt: skip
    library.add_root(folder)
    list(library.sync())
    app, window = window_with_results(library, query, (1400, 900))
    search = window.search
    wait_for(search.match_view.highlightsShown)
    settle_thumbnails(window)
    search.match_view.set_lines_visible(True)
    save(window.grab(), args.out / "verdicts.png")
    select_row(search, app, "same_photo")
    save(search.match_view.grab(), args.out / "verdict_copy.png")
    select_row(search, app, "similar")
    save(search.match_view.grab(), args.out / "verdict_unrelated.png")
    search.search_file(args.bench / args.absent)
    wait_for(search.resultsShown)
    wait_for(search.match_view.highlightsShown)
    settle_thumbnails(window)
    save(window.grab(), args.out / "verdict_nothing.png")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
