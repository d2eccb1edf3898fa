"""``lookalike search`` and ``lookalike explain``: one search pipeline, options per call."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.cli.output import print_json
from lookalike.errors import KnownError

if TYPE_CHECKING:
    from lookalike.library import Library, Scope, SearchOptions, SearchResult


def cmd_search(args: argparse.Namespace, library: Library) -> int:
    """``search IMAGE``: print the best matches."""
    from lookalike.library import at_least, search_options

    options = search_options(args.settings, top=args.top, qe=max(0, args.qe))
    if args.dba is not None:
        options = replace(options, dba=max(0, args.dba))
    if args.rerank is not None:
        options = replace(options, rerank=args.rerank)
    if args.rotate:
        options = replace(options, rotate=True)
    if args.within or args.date_from or args.date_to:
        options = replace(options, scope=_scope(args))
    result = library.search(args.image, options, crop=args.crop)
    if getattr(args, "verdict", None):
        result = replace(result, matches=[m for m in result.matches
                                          if at_least(m.verdict, args.verdict)])  # fmt: skip
    if args.json:
        print_json(_matches_json(library, result, options))
        return 0
    if not result.matches:
        print("no matches (is the library indexed? see 'lookalike status')", file=sys.stderr)
    for match in result.matches:
        print(f"{match.rank:>4}  {match.score:.3f}  {match.path}  "
              f"({_words(match.verdict, match.inliers)})")
    return 0


def add_scope_arguments(p: argparse.ArgumentParser) -> None:
    """``--in PATH`` (repeatable), ``--from DATE``, ``--to DATE`` of ``search``."""
    p.add_argument("--in", dest="within", action="append", type=Path, default=[],
                   metavar="PATH", help="only photos inside this folder (repeatable)")
    p.add_argument("--from", dest="date_from", type=_day, metavar="YYYY-MM-DD",
                   help="only photos taken (EXIF date, else file time) on or after this day")
    p.add_argument("--to", dest="date_to", type=_day, metavar="YYYY-MM-DD",
                   help="only photos taken on or before this day")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _scope(args: argparse.Namespace) -> Scope:
    """The search scope of ``--in``, ``--from`` and ``--to``.

    Raises:
        KnownError: a ``--in`` folder that does not exist, or ``--from`` after ``--to``.
    """
    from lookalike.library import days_scope

    folders = [Path(p).expanduser().resolve() for p in args.within]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise KnownError(f"--in: no such folder: {', '.join(missing)}")
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise KnownError(f"--from {args.date_from} is after --to {args.date_to}")
    return days_scope(folders, args.date_from, args.date_to)


def _matches_json(
    library: Library, result: SearchResult, options: SearchOptions
) -> list[dict[str, Any]]:
    """The JSON list of ``search --json``: what the window shows about each match.

    ``inliers`` counts the points that line up in both photos (the match view's "N matching
    points", from :meth:`Library.explain` as the window's); null when the query or the photo
    has no local features. ``verdict`` is the search's (same_photo / same_place / similar) and
    ``verified`` says whether it is same_place or stronger.
    """
    out = []
    for m in result.matches:
        found = library.explain(result.query, m.photo_id, options, m.verdict)
        inliers = found.inliers if found.query_points is not None else None
        out.append({"path": str(m.path), "score": round(m.score, 6), "rank": m.rank,
                    "inliers": inliers, "verdict": m.verdict,
                    "verified": m.verdict != "similar"})
    return out


def cmd_explain(args: argparse.Namespace, library: Library) -> int:
    """``explain QUERY PHOTO``: why a library photo matches a query (regions, points)."""
    from lookalike.library import search_options

    photo_id = library.photo_id(args.photo)
    if photo_id is None:
        raise KnownError(f"{args.photo} is not a library photo")
    query = library.query_embedding(args.query)
    found = library.explain(query, photo_id, search_options(args.settings))
    if args.json:
        print_json(found.to_json())
        return 0
    layout = "" if found.is_match else " (no matching layout)"
    print(f"{found.path}: {_words(found.verdict, found.inliers)}{layout}")
    for region in found.regions:
        box = ", ".join(f"{v:.2f}" for v in region.result_box)
        print(f"{region.number:>4}  {region.weight:5.0%}  result box {box}")
    return 0


def _words(verdict: str, inliers: int) -> str:
    """A verdict in words, e.g. "same place · 131 matching points"."""
    name = verdict.replace("_", " ")
    return name if verdict == "similar" else f"{name} · {inliers} matching points"
