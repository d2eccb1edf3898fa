"""Start time of the BUILT window: exec → first painted frame → window mapped on the X server.

    python benchmarks/bundle_start.py dist/Lookalike [--runs 3] [--drop-caches] [--library DIR]

Linux. With Xvfb and xev (x11-utils) installed (and no $DISPLAY) it starts a private X server,
so the real xcb platform plugin runs, as on a desktop; otherwise Qt runs offscreen and only the
paint time is measured. Two clocks, both from just before exec:

* ``paint_s``: Qt logs (``qt.widgets.painting``) that it drew the main window's first frame as a
  top level (``DrawAsRoot``); the frame is flushed to the screen right after;
* ``mapped_s``: the X server reports the first MapNotify of a top-level window (``xev -root
  -event substructure``, event-driven: polling with xdotool every 20 ms slowed the app by ~1 s
  on two cores), i.e. the window is on the screen.

``--drop-caches`` (root only) empties the page cache before every run, so each is a cold start
from disk; without it the first run is usually cold and the rest warm. The library is an empty
one in a temporary folder unless ``--library`` names one (a big library opens more slowly).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FIRST_FRAME = re.compile(r"Drawing QRegion\(.*\) of (\w+)\(0x[0-9a-fA-F]+.*DrawAsRoot")


def drop_caches() -> bool:
    """Flush dirty pages and empty the page cache; False if not permitted."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_xvfb() -> tuple[subprocess.Popen[bytes] | None, str | None]:
    """A private Xvfb display (Xvfb picks a free number), or (None, None) without Xvfb."""
    if shutil.which("Xvfb") is None:
        return None, None
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        return None, None
    return proc, f":{number}"


def watch_maps(display: str, mapped: threading.Event, result: dict[str, float | str],
               started: list[float]) -> subprocess.Popen[str]:
    """Start xev on the root window; sets ``result["mapped_s"]`` at the first MapNotify."""
    proc = subprocess.Popen(["stdbuf", "-oL", "xev", "-root", "-event", "substructure"],
                            env={"DISPLAY": display, "PATH": os.defpath},
                            stdout=subprocess.PIPE, text=True, errors="replace")

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("MapNotify") and not mapped.is_set() and started:
                result["mapped_s"] = round(time.perf_counter() - started[0], 3)
                mapped.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.3)  # xev has selected its events
    return proc


def one_run(exe: Path, env: dict[str, str], cwd: Path, display: str | None,
            timeout: float) -> dict[str, float | str]:
    """Start the window once, time it, quit it with SIGINT."""
    result: dict[str, float | str] = {}
    painted, mapped = threading.Event(), threading.Event()
    started: list[float] = []
    xev = watch_maps(display, mapped, result, started) if display else None
    started.append(time.perf_counter())
    proc = subprocess.Popen([str(exe), "gui"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = FIRST_FRAME.search(line)
            if match and not painted.is_set():
                result["paint_s"] = round(time.perf_counter() - started[0], 3)
                result["widget"] = match.group(1)
                painted.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        for event, what in ((painted, "first frame logged"), (mapped, "window mapped")):
            if event is mapped and xev is None:
                continue
            if not event.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"no {what} (exit {proc.poll()})")
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        result["exit"] = proc.wait(30)
    finally:
        for child in (proc, xev):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="dist/Lookalike")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true", help="cold start every run (root)")
    parser.add_argument("--library", type=Path, help="LOOKALIKE_HOME (default: a new empty one)")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    exe = args.bundle.resolve() / "Lookalike"
    tmp = Path(tempfile.mkdtemp(prefix="lookalike-start-"))
    xvfb, display = (None, os.environ.get("DISPLAY")) if os.environ.get("DISPLAY") \
        else start_xvfb()
    if display is not None and (shutil.which("xev") is None or shutil.which("stdbuf") is None):
        print("xev missing (apt-get install x11-utils): measuring the paint time only",
              file=sys.stderr)
        display_for_poll = None
    else:
        display_for_poll = display
    env = {"PATH": os.defpath, "HOME": str(tmp), "LANG": "C.UTF-8",
           "LOOKALIKE_HOME": str(args.library or tmp / "library"),
           "QT_LOGGING_RULES": "qt.widgets.painting=true"}
    env.update({"DISPLAY": display} if display else {"QT_QPA_PLATFORM": "offscreen"})
    runs = []
    try:
        for _ in range(args.runs):
            cold = drop_caches() if args.drop_caches else False
            run = one_run(exe, env, tmp, display_for_poll, args.timeout)
            run["cold_cache"] = cold
            runs.append(run)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"platform": "xcb (Xvfb)" if xvfb else "xcb" if display else "offscreen",
                      "library": str(args.library or "new, empty"), "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
