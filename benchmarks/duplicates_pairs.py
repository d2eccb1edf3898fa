"""Copy groups of ``lookalike duplicates --kind copy`` on a copies bench, scored as pairs.

    python benchmarks/duplicates_pairs.py BENCH [--home DIR] [--check cells|pixels|both]
        [--file-check none|oracle] [--json]

BENCH is a bench of ``benchmarks/make_copies_bench.py``. Its photos are indexed into a library
(``Library.open`` + ``add_root`` + ``sync``, the default preset; ``--home`` keeps it between
runs, and a copy of it is used so that every run checks every pair afresh), then the library's
duplicate finder runs as the ``duplicates`` command runs it (``update()``, then
``groups("copy")``), with its pair check:

- ``pixels``: the finder's default (the cells' fit of the stored local features, batched, with
  each copy confirmed on the two files' pixels: ``pair_check.pixel_confirmed``, see
  ``search.copy_pixels``);
- ``cells``: the cells' copy test only (``DuplicateFinder.pixels`` off), as before.

Either way the pairs the cells cannot fit go to the finder's thumbnail screen
(``library.copy_screening``: stored thumbnails, then the pixel test of the pairs that pass;
``--no-screen``: without it, as before it existed). A library indexed before the thumbnails
(schema v8) gets them from the files on this first update (the backfill, in ``update_s``).

Scores (ground truth: the bench's copy groups): pair precision (pairs of photos inside one
reported copy group that are copies of each other), pair recall (copy pairs found inside one
group), and the other shots of a scene (``scenes``) or distractors put into a copy group (the
target is none). Also the time of ``update()``, the machine's load, and the pairs handed to
the file check (``DuplicateFinder.file_check``: the pairs the cells cannot fit as a copy).
``--file-check oracle`` sets one that answers from the ground truth: what the finder's side
(neighbours, floor, hand-off, grouping) allows a real file check to reach. Measures only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "desktop"))

from lookalike.embed.model import Embedder  # noqa: E402
from lookalike.library import Library  # noqa: E402
from lookalike.search import grouping  # noqa: E402
from lookalike.search.pair_check import FileCheck, PairEvidence  # noqa: E402


def index(bench: Path, home: Path) -> None:
    """Index the bench's photos into the library at ``home`` (kept if already there)."""
    with Library.open(home, Embedder.from_preset()) as library:
        if not library.roots():
            library.add_root(bench)
        for _ in library.sync():
            pass


def score(bench: Path, groups: list[list[Path]]) -> dict[str, object]:
    """Pair precision / recall of reported copy groups against the bench's copy groups."""
    truth = json.loads((bench / "groundtruth.json").read_text())
    group_of = {(bench / p).resolve(): name for name, ps in truth["groups"].items() for p in ps}
    shots = {(bench / p).resolve() for ps in truth["scenes"].values() for p in ps}
    true_pairs = {frozenset(p) for ps in truth["groups"].values()
                  for p in itertools.combinations([(bench / q).resolve() for q in ps], 2)}
    found = {frozenset(p) for g in groups for p in itertools.combinations(g, 2)}
    right = sum(1 for p in found if len({group_of.get(q) for q in p}) == 1
                and None not in {group_of.get(q) for q in p})  # fmt: skip
    intruders = sorted(str(p.relative_to(bench.resolve())) for g in groups for p in g
                       if p in shots or p not in group_of)  # fmt: skip
    return {"copy_groups": len(groups), "pairs_found": len(found),
            "pair_precision": round(right / len(found), 4) if found else 0.0,
            "pair_recall": round(right / len(true_pairs), 4),
            "other_shots_or_distractors_in_copy_groups": intruders}  # fmt: skip


def oracle(bench: Path, handed: list[tuple[str, str]]) -> FileCheck:
    """A file check that knows the answer (the bench's copy groups) and records what it is
    given: the ceiling of the finder's side (its candidates, hand-off and grouping) for a file
    check that finds every copy; a measurement, never a product check."""
    truth = json.loads((bench / "groundtruth.json").read_text())
    group_of = {(bench / p).resolve(): name for name, ps in truth["groups"].items() for p in ps}

    def check(a: Path, b: Path, cosine: float) -> PairEvidence:
        handed.append((a.name, b.name))
        same = group_of.get(a.resolve()) is not None and group_of.get(a.resolve()) == (
            group_of.get(b.resolve()))
        return PairEvidence("copy" if same else None, cosine, coverage_a=1.0, coverage_b=1.0)

    return check


def run(bench: Path, home: Path, check: str, file_check: str, screen: bool = True
        ) -> dict[str, object]:  # fmt: skip
    """Copy the indexed library, run the finder with ``check`` (and the ``oracle`` file check
    if asked), score its copy groups."""
    handed: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        work = Path(tmp) / "home"
        shutil.copytree(home, work)
        with Library.open(work, Embedder.from_preset()) as library:
            finder = library.duplicates()
            finder.pixels = check == "pixels"
            if file_check == "oracle":
                finder.file_check = oracle(bench, handed)
            if not screen:
                finder.screen = None
            started = time.perf_counter()
            finder.update()
            seconds = time.perf_counter() - started
            groups = [[p.path.resolve() for p in g.photos] for g in finder.groups("copy")]
            neighbours, floor = finder._neighbours(), finder._floor()
            screened = (0, 0) if finder.screen is None else (finder.screen.screened,
                                                             finder.screen.tested)
    out = score(bench, groups)
    return {"check": check, "file_check": file_check, "update_s": round(seconds, 2),
            "load": round(os.getloadavg()[0], 1), "neighbours": neighbours,
            "prefilter": grouping.PREFILTER, "floor": floor,
            "pairs_handed_to_file_check": len(handed), "screen": screen,
            "pairs_screened": screened[0], "pairs_pixel_tested_after_screen": screened[1]} | out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--home", type=Path, default=None,
                        help="library folder kept between runs (default: a temporary one)")
    parser.add_argument("--check", choices=("cells", "pixels", "both"), default="both")
    parser.add_argument("--prefilter", type=float, default=None,
                        help="override grouping.PREFILTER (the cosine below which no pair is "
                        "checked) to see what it costs in recall")
    parser.add_argument("--neighbours", type=int, default=None,
                        help="override grouping.NEIGHBOURS")
    parser.add_argument("--file-check", choices=("none", "oracle"), default="none",
                        help="none: the library's finder as it is (no file check); oracle: one "
                        "answering from the ground truth, to see what the finder's side allows "
                        "(a ceiling, not a result)")
    parser.add_argument("--chance", type=float, default=None,
                        help="override grouping.CHANCE_COSINE (the file check's floor)")
    parser.add_argument("--no-screen", action="store_true",
                        help="the finder without its thumbnail screen (as before it existed: "
                        "candidates from 8 neighbours at the prefilter)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.prefilter is not None:  # the finder reads it at each update
        grouping.PREFILTER = args.prefilter
    if args.neighbours is not None:
        grouping.NEIGHBOURS = args.neighbours
    if args.chance is not None:
        grouping.CHANCE_COSINE = args.chance
    bench = args.bench.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        home = (args.home or Path(tmp) / "library").resolve()
        home.parent.mkdir(parents=True, exist_ok=True)
        index(bench, home)
        checks = ["cells", "pixels"] if args.check == "both" else [args.check]
        results = [run(bench, home, c, args.file_check, not args.no_screen) for c in checks]
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            print(f"{r['check']:7s} file check {r['file_check']} (given "
                  f"{r['pairs_handed_to_file_check']} pairs) prefilter {r['prefilter']} floor "
                  f"{r['floor']} neighbours {r['neighbours']}: "
                  f"pair precision {r['pair_precision']:.4f}  recall "
                  f"{r['pair_recall']:.4f}  groups {r['copy_groups']}  update "
                  f"{r['update_s']} s (load {r['load']})  intruders "
                  f"{r['other_shots_or_distractors_in_copy_groups']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
