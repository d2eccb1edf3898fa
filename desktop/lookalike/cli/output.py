"""What the commands share on the terminal: JSON on stdout, counts in words, Ctrl-C handling."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON on stdout."""
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def plural(n: int, noun: str) -> str:
    """"1 photo", "2 photos", "1,234 photos"."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@contextlib.contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """An Event set by the first Ctrl-C or SIGTERM (a second Ctrl-C interrupts at once).

    Outside the main thread (e.g. in tests) the signals are left alone.
    """
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if cancel.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        print("\nlookalike: stopping (press Ctrl-C again to stop at once)", file=sys.stderr)
        cancel.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def print_ablation(rows: list[dict[str, Any]], as_json: bool, bench: Path, images: int,
                   seconds: float) -> None:  # fmt: skip
    """The table of ``lookalike eval --ablation``: one row per combination of options."""
    if as_json:
        print(json.dumps({"images": images, "seconds": round(seconds, 2), "ablation": rows}))
        return
    print(f"bench {bench}: {images} images embedded in {seconds:.1f} s")
    print(f"{'options':28s} {'mAP':>6s} {'R@1':>6s} {'R@5':>6s} {'ms/query':>9s}")
    for r in rows:
        if r["mAP"] is None:
            print(f"{r['options']:28s} {r['error']}")
            continue
        print(f"{r['options']:28s} {r['mAP']:6.2f} {r['recall@1']:6.2f} {r['recall@5']:6.2f} "
              f"{r['ms_per_query']:9.1f}")
