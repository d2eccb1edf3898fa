"""``lookalike watch``: sync once, then follow the disk and say what each change did."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.cli.output import cancel_on_interrupt, plural

if TYPE_CHECKING:
    from lookalike.library import Library


def cmd_watch(args: argparse.Namespace, library: Library) -> int:
    """``watch``: sync once, then apply changes as they happen until Ctrl-C or SIGTERM."""
    from lookalike.cli.progress import ProgressPrinter

    printer = ProgressPrinter(sys.stderr)
    with cancel_on_interrupt() as cancel:
        for progress in library.sync(cancel):
            printer.update(progress)
        printer.finish()
        if cancel.is_set():
            return 0
        roots = [r.path for r in library.roots() if r.online]
        print(f"watching {plural(len(roots), 'folder')}; press Ctrl-C to stop", file=sys.stderr)
        handle = library.watch(on_progress=_watch_reporter(library))
        try:
            while not cancel.wait(0.5):
                pass
        finally:
            handle.stop()
    print("stopped", file=sys.stderr)
    return 0


def _watch_reporter(library: Library) -> Callable[[Any], None]:
    """An on_progress callback that prints what each batch of changes did to the library.

    The catalog is listed before and after each batch: photos that appeared are "added",
    vanished ones "removed", and ones whose id kept a new path "moved" (their vectors stay).
    """
    before = library.catalogued()

    def report(progress: Any) -> None:
        nonlocal before
        if progress.phase != "done":
            return
        after = library.catalogued()
        for line in describe_changes(before, after):
            print(line, file=sys.stderr, flush=True)
        before = after
        if progress.done:
            print(f"{plural(progress.done, 'photo')} updated"
                  + (f", {progress.skipped} skipped" if progress.skipped else ""),
                  file=sys.stderr, flush=True)
    return report


def describe_changes(before: dict[int, Path], after: dict[int, Path]) -> list[str]:
    """"added/removed/moved PATH" lines for two catalog listings (id → path), by path."""
    lines = [(str(p), f"added {p}") for i, p in after.items() if i not in before]
    lines += [(str(p), f"removed {p}") for i, p in before.items() if i not in after]
    lines += [(str(p), f"moved {p} -> {after[i]}") for i, p in before.items()
              if i in after and after[i] != p]
    return [text for _key, text in sorted(lines)]
