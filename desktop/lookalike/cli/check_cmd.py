"""``lookalike check``: every integrity check on the library, in plain words."""

from __future__ import annotations

import argparse
from pathlib import Path

from lookalike.cli.output import print_json
from lookalike.errors import KnownError


def cmd_check(args: argparse.Namespace) -> int:
    """``check``: every integrity check, in plain words; exit 0 when nothing was found."""
    from lookalike import paths
    from lookalike.library.facade import CATALOG_FILE, INDEX_FILE
    from lookalike.library.integrity import check_library

    home = Path(args.library if args.library is not None else paths.data_dir())
    home = home.expanduser().resolve()
    if not (home / CATALOG_FILE).exists():
        raise KnownError(f"{home} holds no library (no {CATALOG_FILE})")
    report = check_library(home, CATALOG_FILE, INDEX_FILE)
    if args.json:
        print_json({"ok": not report.found, "found": report.found,
                     "repaired": report.repaired, "checked": report.checked})
        return 0 if not report.found else 1
    for line in report.checked:
        print(f"checked: {line}")
    for line in report.found:
        print(f"found: {line}")
    for line in report.repaired:
        print(f"repaired: {line}")
    print("all is well" if not report.found else f"{len(report.found)} problems found, "
          f"{len(report.repaired)} repairs made")
    return 0 if not report.found else 1
