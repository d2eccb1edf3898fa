"""``lookalike search`` and ``lookalike explain``: one search pipeline, options per call."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lookalike.cli.output import print_json
from lookalike.errors import KnownError

if TYPE_CHECKING:
    from lookalike.library import Library, SearchOptions, SearchResult


def cmd_search(args: argparse.Namespace, library: Library) -> int:
    """``search IMAGE``: print the best matches."""
    from lookalike.library import search_options

    options = search_options(args.settings, top=args.top, qe=max(0, args.qe))
    if args.dba is not None:
        options = replace(options, dba=max(0, args.dba))
    if args.rerank is not None:
        options = replace(options, rerank=args.rerank)
    if args.rotate:
        options = replace(options, rotate=True)
    result = library.search(args.image, options, crop=args.crop)
    if args.json:
        print_json(_matches_json(library, result, options))
        return 0
    if not result.matches:
        print("no matches (is the library indexed? see 'lookalike status')", file=sys.stderr)
    for match in result.matches:
        print(f"{match.rank:>4}  {match.score:.3f}  {match.path}")
    return 0


def _matches_json(
    library: Library, result: SearchResult, options: SearchOptions
) -> list[dict[str, Any]]:
    """The JSON list of ``search --json``: what the window shows about each match.

    ``inliers`` counts the points that line up in both photos (the match view's "N matching
    points", from :meth:`Library.explain` as the window's); null when the query or the photo
    has no local features.
    """
    out = []
    for m in result.matches:
        found = library.explain(result.query, m.photo_id, options)
        inliers = found.inliers if found.query_points is not None else None
        out.append({"path": str(m.path), "score": round(m.score, 6), "rank": m.rank,
                    "inliers": inliers})
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
    verdict = "a match" if found.is_match else "no matching layout"
    print(f"{found.path}: {found.inliers} verified matching points ({verdict})")
    for region in found.regions:
        box = ", ".join(f"{v:.2f}" for v in region.result_box)
        print(f"{region.number:>4}  {region.weight:5.0%}  result box {box}")
    return 0
