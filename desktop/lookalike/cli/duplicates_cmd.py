"""``lookalike duplicates``: copies and burst takes in the library, and what to keep.

Prints the groups, the most space to free first; with ``--json`` a list of objects with
``kind``, ``keep`` (a path) and ``photos`` (``path``, ``bytes``, ``width``, ``height``,
``reason``). Nothing is removed unless ``--trash`` names photos, and those go to the system
trash (restore them from there).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.cli.progress import CheckingNotice

if TYPE_CHECKING:
    from lookalike.library import DuplicateGroup, Library


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``duplicates`` command."""
    p = subparsers.add_parser(
        "duplicates", help="find copies and bursts; suggest the photo to keep",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=("copy", "burst"), help="only copies or only bursts")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--trash", nargs="+", type=Path, metavar="PATH",
                   help="move these photos to the system trash (never deletes)")
    p.add_argument("--reference", nargs="*", type=Path, metavar="FOLDER",
                   help="set the reference folders, whose photos are never offered for "
                        "removal (none: clear them)")


def group_json(group: DuplicateGroup) -> dict[str, Any]:
    """One group as the ``--json`` output has it."""
    return {
        "kind": group.kind,
        "keep": str(group.keep.path),
        "photos": [{"path": str(p.path), "bytes": p.size_bytes, "width": p.width,
                    "height": p.height, "reason": p.reason} for p in group.photos],
    }


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _print_text(groups: list[DuplicateGroup]) -> None:
    if not groups:
        print("No copies or bursts found.")
        return
    total = sum(g.freeable_bytes for g in groups)
    print(f"{len(groups)} groups; {_mb(total)} can be freed by keeping one photo of each.\n")
    for group in groups:
        print(f"{group.kind}: {len(group.photos)} photos, {_mb(group.freeable_bytes)} to free")
        for p in group.photos:
            mark = "keep  " if p.keep else "      "
            print(f"  {mark}{p.path}  {p.width}×{p.height} {p.format} {_mb(p.size_bytes)}"
                  f"  ({p.reason})")
        print()


def run(args: argparse.Namespace, library: Library) -> int:
    """Update the duplicate edges, then print the groups or trash the named photos."""
    finder = library.duplicates()
    if args.reference is not None:
        folders = [f.expanduser().resolve() for f in args.reference]
        finder.store.set_reference_folders(folders)
        print("reference folders: " + (", ".join(map(str, folders)) or "none"), file=sys.stderr)
    if args.trash:
        result = library.trash(args.trash)
        for item in result.moved:
            print(f"moved to the trash: {item.original}")
        for path, reason in result.failed:
            print(f"lookalike: not moved: {path}: {reason}", file=sys.stderr)
        return 1 if result.failed else 0
    finder.update(progress=CheckingNotice(sys.stderr))
    groups = finder.groups(args.kind)
    if args.json:
        json.dump([group_json(g) for g in groups], sys.stdout, indent=1, ensure_ascii=False)
        print()
    else:
        _print_text(groups)
    return 0
