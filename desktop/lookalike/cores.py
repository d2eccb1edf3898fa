"""How many cores this process may run on (a leaf module: any layer may ask)."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores the process's CPU affinity allows (a container or ``taskset`` may allow fewer
    than the machine has); every core on systems without affinity (macOS, Windows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
