"""What the commands share on the terminal: JSON on stdout, counts in words, Ctrl-C handling."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType


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
