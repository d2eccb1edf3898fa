#!/usr/bin/env python3
"""Smoke-test a BUILT Lookalike bundle (the PyInstaller output, not the source tree).

    python scripts/smoke_bundle.py dist/Lookalike            # Linux, Windows
    python scripts/smoke_bundle.py dist/Lookalike.app        # macOS

Every program runs with a clean environment (no PYTHONPATH, no venv, HOME and LOOKALIKE_HOME in a
temporary folder, Qt offscreen) from a working directory outside the repository:

1. ``lookalike-cli index PHOTOS --json``: 10 generated photos in 8 formats (JPEG, PNG, WebP, HEIC,
   TIFF, BMP, GIF, AVIF where the harness can write them) → exit 0, all indexed, none skipped.
2. ``lookalike-cli search PHOTO --json``: a library photo → its near-duplicate (a crop + resize
   in another format) ranks first; an outside crop of a scene → that scene ranks first.
3. ``lookalike-cli eval BENCH --preset fast --json``: 3 generated scenes × 3 crops + 1 distractor
   → valid JSON with mAP (this also loads the second model, the fast preset's).
4. ``lookalike-cli watch``: a photo copied into the folder gets indexed (the platform's
   watchdog observer works frozen); SIGTERM → exit 0; ``status --json`` counts it.
5. the window: ``Lookalike -v gui`` until Qt paints its first top-level frame (Qt's own
   ``qt.widgets.painting`` log; the app needs no test hook), then SIGINT → exit 0, no traceback.
   On Windows the windowed exe has no stderr, so ``lookalike-cli gui`` runs the window there,
   and it is terminated (a clean quit is not checked).
6. Linux with strace: all of the above run under ``strace -f`` (connect, bind, sendto, sendmsg,
   open, openat); any AF_INET/AF_INET6 address in them fails the test (AF_UNIX for X11/D-Bus is
   fine), and so does any file opened inside the source tree (the bundle must carry everything).
7. the time from exec to the window's first painted frame, measured again without strace.

Needs Python 3.10+ with Pillow and numpy (pillow-heif for the HEIC photo). Exit status 0 when
every check passed; ``--report FILE`` also writes the measurements as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
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

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, features

REPO = Path(__file__).resolve().parents[1]
WINDOWS = sys.platform == "win32"
MACOS = sys.platform == "darwin"
# Qt logs every top-level repaint in this category; the first "DrawAsRoot" line of the main
# window is the first frame of the window (then flushed to the screen).
PAINT_RULES = "qt.widgets.painting=true"
FIRST_FRAME = re.compile(r"Drawing QRegion\(.*\) of (\w+)\(0x[0-9a-fA-F]+.*DrawAsRoot")
# The app's own warnings and errors (its log format is "LEVEL logger: message"): in this
# controlled run there should be none (a missing stylesheet, icon or codec shows up here).
APP_COMPLAINT = re.compile(r"^(?:WARNING|ERROR|CRITICAL) lookalike[\w.]*: .*$", re.M)


class SmokeFailure(Exception):
    """One check failed; the message says which and why."""


def reap(proc: subprocess.Popen[str]) -> None:
    """Make sure a started app and everything it spawned is gone (the whole process group:
    under strace, killing only strace would orphan the app)."""
    if not WINDOWS:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# --- the bundle ----------------------------------------------------------------------------------

def executables(bundle: Path) -> tuple[Path, Path]:
    """(window program, console program) of a bundle folder or a macOS .app."""
    folder = bundle / "Contents" / "MacOS" if bundle.suffix == ".app" else bundle
    suffix = ".exe" if WINDOWS else ""
    gui, cli = folder / f"Lookalike{suffix}", folder / f"lookalike-cli{suffix}"
    for exe in (gui, cli):
        if not exe.is_file():
            raise SmokeFailure(f"{exe} not found: is {bundle} a built bundle?")
    return gui, cli


def clean_env(tmp: Path) -> dict[str, str]:
    """A minimal environment: nothing from the developer's shell or virtualenv leaks in."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.defpath if not WINDOWS else os.environ.get("SYSTEMROOT", r"C:\Windows")
        + r"\System32",
        "HOME": str(home),
        "LOOKALIKE_HOME": str(tmp / "library"),
        "QT_QPA_PLATFORM": "offscreen",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
    }
    if WINDOWS:  # Windows needs these to start a process at all
        for key in ("SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "NUMBER_OF_PROCESSORS",
                    "PROCESSOR_ARCHITECTURE"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(USERPROFILE=str(home), APPDATA=str(home / "Roaming"),
                   LOCALAPPDATA=str(home / "Local"), TEMP=str(tmp), TMP=str(tmp))
    return env


# --- generated photos ----------------------------------------------------------------------------

def _texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """(h, w, 3) float: stripes, checks, rings, dots or bricks at a random angle, scale, colours."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(8, 60)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    kind = int(rng.integers(0, 5))
    if kind == 0:
        mask = np.sin(u / period * 2 * np.pi) > 0
    elif kind == 1:
        mask = (u // period + v // period) % 2 == 0
    elif kind == 2:
        mask = np.hypot(x - rng.uniform(0, w), y - rng.uniform(0, h)) // period % 2 == 0
    elif kind == 3:
        mask = np.hypot(u % period - period / 2, v % period - period / 2) < period / 3
    else:
        row = (v // period) % 2
        mask = ((u + row * period) % (2 * period)) < 1.8 * period
    light, dark = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    return np.where(mask[..., None], light, dark).astype(np.float32)


def scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A synthetic 'photo': one texture with four regions of others (a CNN tells them apart;
    random shapes on a gradient all look alike to it)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = _texture(rng, w, h)
    for _ in range(4):
        mask = Image.new("L", size, 0)
        x0, y0 = int(rng.integers(0, w - 100)), int(rng.integers(0, h - 100))
        x1, y1 = x0 + int(rng.integers(120, w // 2)), y0 + int(rng.integers(120, h // 2))
        shape = ImageDraw.Draw(mask).ellipse if rng.integers(0, 2) else \
            ImageDraw.Draw(mask).rectangle
        shape((x0, y0, x1, y1), fill=255)
        alpha = np.asarray(mask, np.float32)[..., None] / 255
        pixels = pixels * (1 - alpha) + _texture(rng, w, h) * alpha
    img = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(1))


def variant(img: Image.Image, box: tuple[float, float, float, float], scale: float) -> Image.Image:
    """A near-duplicate: crop (fractions), resize, a little brighter."""
    w, h = img.size
    crop = img.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    crop = crop.resize((int(crop.width * scale), int(crop.height * scale)), Image.LANCZOS)
    return ImageEnhance.Brightness(crop).enhance(1.08)


def save(img: Image.Image, path: Path) -> Path:
    """Save in the format of the suffix; falls back to JPEG when the harness cannot write it."""
    fmt = {".heic": "HEIF", ".avif": "AVIF"}.get(path.suffix)
    try:
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        elif fmt == "AVIF" and not features.check("avif"):
            raise ImportError("Pillow without AVIF")
        img.save(path, quality=85) if path.suffix in (".jpg", ".webp", ".heic", ".avif") \
            else img.save(path)
        return path
    except (ImportError, OSError, KeyError, ValueError) as exc:
        fallback = path.with_suffix(".jpg")
        print(f"  (cannot write {path.name} here: {exc}; using {fallback.name})")
        img.save(fallback, quality=85)
        return fallback


def make_library(folder: Path) -> dict[str, Path]:
    """3 scenes, a near-duplicate of each in another format, 4 distractors (10 photos)."""
    folder.mkdir(parents=True)
    files: dict[str, Path] = {}
    for name, seed, dup_suffix in (("a", 1, ".heic"), ("b", 2, ".webp"), ("c", 3, ".png")):
        img = scene(seed)
        files[name] = save(img, folder / f"scene_{name}.jpg")
        files[f"{name}_dup"] = save(variant(img, (0.08, 0.1, 0.9, 0.95), 0.7),
                                    folder / f"scene_{name}_near_duplicate{dup_suffix}")
    for i, suffix in enumerate((".tiff", ".bmp", ".gif", ".avif")):
        img = scene(100 + i)
        if suffix == ".gif":
            img = img.convert("P", palette=Image.ADAPTIVE)
        files[f"other{i}"] = save(img, folder / f"other_{i}{suffix}")
    return files


def make_bench(folder: Path) -> None:
    """groundtruth.json: 3 groups of 3 crops of a generated scene, plus 1 distractor."""
    folder.mkdir(parents=True)
    boxes = ((0.0, 0.0, 0.8, 0.8), (0.2, 0.1, 1.0, 0.9), (0.1, 0.2, 0.9, 1.0))
    groups: dict[str, list[str]] = {}
    for name, seed in (("harbour", 11), ("market", 12), ("tower", 13)):
        img = scene(seed)
        groups[name] = []
        for i, box in enumerate(boxes):
            rel = f"{name}_{i}.jpg"
            variant(img, box, 0.6 + 0.1 * i).save(folder / rel, quality=88)
            groups[name].append(rel)
    scene(99).save(folder / "distractor.jpg", quality=88)
    (folder / "groundtruth.json").write_text(
        json.dumps({"groups": groups, "distractors": ["distractor.jpg"]}, indent=1))


# --- running the bundle --------------------------------------------------------------------------

class Runner:
    """Runs bundle programs in the clean environment, under strace when asked."""

    def __init__(self, env: dict[str, str], cwd: Path, trace_dir: Path | None) -> None:
        self.env, self.cwd, self.trace_dir = env, cwd, trace_dir
        self.traces: list[Path] = []

    def argv(self, name: str, argv: list[str]) -> list[str]:
        if self.trace_dir is None:
            return argv
        trace = self.trace_dir / f"{name}.strace"
        self.traces.append(trace)
        return ["strace", "-f", "-qq", "-e", "trace=connect,bind,sendto,sendmsg,open,openat",
                "-o", str(trace),
                "--", *argv]

    def run(self, name: str, argv: list[str], timeout: float = 900) -> str:
        """Run to completion; returns stdout; fails on a non-zero exit or a traceback."""
        started = time.perf_counter()
        proc = subprocess.run(self.argv(name, argv), env=self.env, cwd=self.cwd, timeout=timeout,
                              capture_output=True, text=True, encoding="utf-8", errors="replace")
        seconds = time.perf_counter() - started
        print(f"  {name}: exit {proc.returncode} in {seconds:.1f} s")
        if proc.returncode != 0 or "Traceback" in proc.stderr:
            raise SmokeFailure(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        complaints = APP_COMPLAINT.findall(proc.stderr)
        if complaints:  # e.g. a resource or codec missing from the bundle
            raise SmokeFailure(f"{name} logged problems:\n" + "\n".join(complaints))
        return proc.stdout


def start_window(runner: Runner, name: str, exe: Path, timeout: float) -> dict[str, object]:
    """Start the window, wait for its first painted frame, quit it; returns timings."""
    env = dict(runner.env, QT_LOGGING_RULES=PAINT_RULES)
    lines: list[str] = []
    shown = threading.Event()
    found: dict[str, object] = {}
    started = time.perf_counter()
    flags = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if WINDOWS \
        else {"start_new_session": True}  # SIGINT reaches the app even under strace
    proc = subprocess.Popen(runner.argv(name, [str(exe), "-v", "gui"]), env=env, cwd=runner.cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", errors="replace", **flags)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("qt.widgets.painting"):
                lines.append(line)
            match = FIRST_FRAME.search(line)
            if match and not shown.is_set():
                found.update(seconds=time.perf_counter() - started, widget=match.group(1))
                shown.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while not shown.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SmokeFailure(f"{name}: no window within {timeout:.0f} s "
                                   f"(exit {proc.poll()}):\n{''.join(lines)[-4000:]}")
        time.sleep(2.0)  # let it start indexing and load thumbnails, then quit
        if proc.poll() is not None:
            raise SmokeFailure(f"{name}: the window closed by itself (exit {proc.returncode}):\n"
                               + "".join(lines)[-4000:])
        if WINDOWS:
            proc.terminate()
            code = proc.wait(15)
        else:
            quit_at = time.perf_counter()
            os.killpg(proc.pid, signal.SIGINT)  # the window closes on Ctrl+C (SIGINT)
            code = proc.wait(30)
            found["quit_seconds"] = round(time.perf_counter() - quit_at, 2)
    finally:
        reap(proc)
    reader.join(5)
    log = "".join(lines)
    if "Traceback" in log or "Fatal Python error" in log:
        raise SmokeFailure(f"{name}: traceback in the window's output:\n{log[-4000:]}")
    if APP_COMPLAINT.search(log):
        raise SmokeFailure(f"{name}: the window logged problems:\n"
                           + "\n".join(APP_COMPLAINT.findall(log)))
    if not WINDOWS and code != 0:
        raise SmokeFailure(f"{name}: exit {code} after SIGINT, expected 0:\n{log[-4000:]}")
    print(f"  {name}: first frame of {found['widget']} after {found['seconds']:.2f} s; "
          + ("terminated (Windows)" if WINDOWS else f"quit on SIGINT with exit 0 in "
             f"{found['quit_seconds']} s"))
    return found


# --- checks --------------------------------------------------------------------------------------

def check_index(runner: Runner, cli: Path, photos: Path, expected: int) -> dict[str, object]:
    out = json.loads(runner.run("index", [str(cli), "index", str(photos), "--json"]))
    if out["indexed"] != expected or out["skipped"] or out["pending"]:
        raise SmokeFailure(f"index: expected {expected} indexed, none skipped/pending; got "
                           f"{out['indexed']} indexed, {out['pending']} pending, "
                           f"skipped {out['skipped']}")
    print(f"  index: {out['indexed']} photos indexed in {out['seconds']} s, none skipped")
    return out


def check_search(runner: Runner, cli: Path, query: Path, expected: set[Path], name: str) -> None:
    matches = json.loads(runner.run(name, [str(cli), "search", str(query), "--json"]))
    if not matches:
        raise SmokeFailure(f"{name}: no matches")
    first = Path(matches[0]["path"]).resolve()
    if first not in {p.resolve() for p in expected}:
        raise SmokeFailure(f"{name}: expected one of {sorted(p.name for p in expected)} first, "
                           f"got {json.dumps(matches[:3], indent=1)}")
    print(f"  {name}: {query.name} → {first.name} first (score {matches[0]['score']:.3f}, "
          f"next {matches[1]['score'] if len(matches) > 1 else 'none'})")


def check_eval(runner: Runner, cli: Path, bench: Path) -> dict[str, object]:
    out = json.loads(runner.run("eval", [str(cli), "eval", str(bench), "--preset", "fast",
                                         "--json"]))
    if not isinstance(out.get("mAP"), (int, float)) or out.get("images") != 10:
        raise SmokeFailure(f"eval: expected mAP over 10 images, got {out}")
    if out.get("unreadable"):
        raise SmokeFailure(f"eval: unreadable images {out['unreadable']}")
    if out["mAP"] < 50:
        raise SmokeFailure(f"eval: mAP {out['mAP']} on crops of 3 synthetic scenes; expected "
                           "≥ 50 (is the model right?)")
    print(f"  eval: mAP {out['mAP']}, recall@1 {out['recall@1']}, model {out['model']}")
    return out


def check_watch(runner: Runner, cli: Path, photos: Path, new_photo: Image.Image,
                timeout: float) -> None:
    """``watch``: a photo copied into a library folder gets indexed; SIGTERM stops it (exit 0)."""
    lines: list[str] = []
    ready, updated = threading.Event(), threading.Event()
    flags = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if WINDOWS \
        else {"start_new_session": True}
    proc = subprocess.Popen(runner.argv("watch", [str(cli), "watch"]), env=runner.env,
                            cwd=runner.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", errors="replace", **flags)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("watching "):
                ready.set()
            elif "photos updated" in line:
                updated.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code: int | None = None
    try:
        for event, what in ((ready, "'watching' line"), (None, ""), (updated, "update")):
            if event is None:  # add a photo once the observer runs: the CLI prints
                time.sleep(3)  # "watching" just before it starts the observer
                new_photo.save(photos / "added_while_watching.jpg", quality=85)
                continue
            if not event.wait(timeout):
                raise SmokeFailure(f"watch: no {what} within {timeout:.0f} s (exit "
                                   f"{proc.poll()}):\n{''.join(lines)[-4000:]}")
        if WINDOWS:
            proc.terminate()
        else:
            os.killpg(proc.pid, signal.SIGTERM)  # as a service manager stops it
        code = proc.wait(30)
    finally:
        reap(proc)
    reader.join(5)
    log = "".join(lines)
    if "Traceback" in log or (not WINDOWS and code != 0):
        raise SmokeFailure(f"watch: exit {code} after SIGTERM, expected 0:\n{log[-4000:]}")
    print("  watch: a photo added to the folder was indexed; "
          + ("terminated (Windows)" if WINDOWS else "SIGTERM → exit 0"))


def check_traces(traces: list[Path], bundle: Path) -> dict[str, object]:
    """No AF_INET/AF_INET6 connect, bind or sendto, and nothing opened from the source tree."""
    inet, unix, source = [], set(), []
    bundle = bundle.resolve()
    for trace in traces:
        for line in trace.read_text(errors="replace").splitlines():
            if "sa_family=AF_INET" in line:  # connect/bind/sendto, IPv4 or IPv6
                inet.append(f"{trace.stem}: {line}")
            elif "connect(" in line and "AF_UNIX" in line:
                path = re.search(r'sun_path=@?"([^"]*)"', line)
                unix.add(path.group(1) if path else "?")
            opened = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)"', line)
            if opened and "ENOENT" not in line:
                path = Path(opened.group(1))
                if path.is_absolute() and path.is_relative_to(REPO) \
                        and not path.is_relative_to(bundle):
                    source.append(f"{trace.stem}: {path}")
    if inet:
        raise SmokeFailure("network connections:\n" + "\n".join(inet[:20]))
    if source:
        raise SmokeFailure("files opened from the source tree, not the bundle:\n"
                           + "\n".join(sorted(set(source))[:20]))
    print(f"  strace: no AF_INET/AF_INET6 connect/bind/sendto in {len(traces)} runs; AF_UNIX to "
          f"{sorted(unix) or 'nothing'}; nothing opened from the source tree")
    return {"inet_connects": 0, "unix_sockets": sorted(unix)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="dist/Lookalike (or dist/Lookalike.app)")
    parser.add_argument("--no-strace", action="store_true", help="skip the network check")
    parser.add_argument("--gui-timeout", type=float, default=120, help="seconds (120)")
    parser.add_argument("--report", type=Path, help="write the measurements here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    gui, cli = executables(args.bundle.resolve())
    window_exe = cli if WINDOWS else gui
    use_strace = sys.platform.startswith("linux") and not args.no_strace \
        and shutil.which("strace") is not None
    tmp = Path(tempfile.mkdtemp(prefix="lookalike-smoke-"))
    report: dict[str, object] = {"bundle": str(args.bundle), "platform": sys.platform}
    try:
        print(f"smoke test of {args.bundle} in {tmp} (strace: {'yes' if use_strace else 'no'})")
        files = make_library(tmp / "photos")
        make_bench(tmp / "bench")
        query = tmp / "query" / "crop_of_scene_b.jpg"
        query.parent.mkdir()
        variant(scene(2), (0.3, 0.25, 0.85, 0.8), 0.9).save(query, quality=80)
        work = tmp / "cwd"
        work.mkdir()
        env = clean_env(tmp)
        traced = Runner(env, work, tmp if use_strace else None)

        report["version"] = traced.run("version", [str(cli), "--version"]).strip()
        report["index"] = check_index(traced, cli, tmp / "photos", expected=len(files))
        check_search(traced, cli, files["a"], {files["a_dup"]}, "search-library-photo")
        check_search(traced, cli, query, {files["b"], files["b_dup"]}, "search-outside-crop")
        report["eval"] = check_eval(traced, cli, tmp / "bench")
        check_watch(traced, cli, tmp / "photos", scene(50), args.gui_timeout)
        status = json.loads(traced.run("status", [str(cli), "status", "--json"]))
        if status["indexed"] != len(files) + 1:
            raise SmokeFailure(f"status: expected {len(files) + 1} indexed after watch, got "
                               f"{status['indexed']}")
        start_window(traced, "window" + ("-traced" if use_strace else ""), window_exe,
                     args.gui_timeout)
        if use_strace:
            report["network"] = check_traces(traced.traces, args.bundle)
        else:
            print("  strace: not run (not Linux, or strace missing): network NOT checked")
            report["network"] = "not checked"
        plain = Runner(env, work, None)
        report["window_first_frame_s"] = [
            round(float(start_window(plain, f"window-start-{i}", window_exe,
                                     args.gui_timeout)["seconds"]), 3) for i in (1, 2)]
    except (SmokeFailure, subprocess.TimeoutExpired) as exc:
        print(f"SMOKE TEST FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1, default=str))
    print("SMOKE TEST PASSED: " + json.dumps({k: report[k] for k in
                                               ("version", "window_first_frame_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
