"""Kill a subprocess soon after it enters a phase: the phases are lines its bootstrap appends to
a file (test-side wrappers around product functions; no product code knows about them)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def wait_for_phase(proc: subprocess.Popen[bytes], phase_file: Path, target: str,
                   jitter_s: float, timeout_s: float = 120) -> None:  # fmt: skip
    """Return ``jitter_s`` after ``proc`` last entered ``target``, or once it ended or timed out."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        phases = phase_file.read_text().split()
        if phases and phases[-1] == target:
            time.sleep(jitter_s)
            return
        time.sleep(0.002)
