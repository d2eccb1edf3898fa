"""Decode every file of a folder and print outcome, time and peak memory per file.

A benchmark, not a test: numbers depend on the machine and on what else runs on it.

    python benchmarks/decode_memory.py [FOLDER] [--max-side 1024] [--repeat 3]

FOLDER defaults to ``../shared/bench/hostile`` next to the repository. Per file it prints the
decoded size (or the ``UnreadablePhoto`` reason), the median wall-clock and CPU time of
``--repeat`` decodes, and the peak resident-memory growth during the first decode. Peak memory
comes from ``VmHWM`` in ``/proc/self/status``, reset before each file through
``/proc/self/clear_refs`` (Linux only; elsewhere the column shows "n/a").
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "desktop"))

from lookalike.decode.image import decode, register_heif  # noqa: E402
from lookalike.errors import UnreadablePhoto  # noqa: E402

DEFAULT_FOLDER = REPO_ROOT.parent / "shared" / "bench" / "hostile"
STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB, or None where there is no /proc."""
    try:
        lines = STATUS.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _reset_peak() -> None:
    """Restart VmHWM from the current RSS (Linux >= 4.0); silently does nothing elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _decode_once(path: Path, max_side: int | None) -> tuple[str, float, float]:
    """Decode once: (outcome, wall seconds, CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        decoded = decode(path, max_side)
        height, width = decoded.rgb.shape[:2]
        outcome = f"{width}x{height} (original {decoded.original_size[0]}x"
        outcome += f"{decoded.original_size[1]}, scale {decoded.scale:.3f})"
    except UnreadablePhoto as error:
        outcome = f"UNREADABLE: {error.reason}"
    return outcome, time.perf_counter() - wall, time.process_time() - cpu


def measure(path: Path, max_side: int | None, repeat: int) -> str:
    """One table row for ``path``."""
    _reset_peak()
    before = _status_kib("VmRSS")
    outcome, wall, cpu = _decode_once(path, max_side)
    peak = _status_kib("VmHWM")
    walls, cpus = [wall], [cpu]
    for _ in range(repeat - 1):
        _, wall, cpu = _decode_once(path, max_side)
        walls.append(wall)
        cpus.append(cpu)
    growth = "n/a" if peak is None or before is None else f"{(peak - before) / 1024:.0f} MB"
    return (
        f"{path.name:32} {1000 * statistics.median(walls):7.1f} ms "
        f"{1000 * statistics.median(cpus):7.1f} ms {growth:>8}  {outcome}"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the table for the folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--max-side", type=int, default=1024, help="0 means full size")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    register_heif()
    with contextlib.suppress(UnreadablePhoto):  # warm up: load Pillow's plugins first
        decode(b"\x89PNG")
    print(f"{'file':32} {'wall':>10} {'cpu':>10} {'peak Δ':>8}  outcome")
    for path in sorted(p for p in args.folder.iterdir() if p.is_file()):
        print(measure(path, args.max_side or None, max(1, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
