"""The ``lookalike`` command line: argv → Library calls → text or JSON on stdout.

Exit codes: 0 success, 1 a KnownError (its message on stderr, no traceback), 2 usage error,
130 interrupted. Progress and messages go to stderr; results (and ``--json``) to stdout.
Heavy modules (numpy, onnxruntime, hnswlib) are imported only by the commands that need them,
so ``lookalike --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike import __version__
from lookalike.cli import duplicates_cmd, eval_cmd
from lookalike.cli.check_cmd import cmd_check
from lookalike.cli.output import cancel_on_interrupt, plural, print_json
from lookalike.cli.search_cmd import add_scope_arguments, cmd_explain, cmd_search
from lookalike.cli.watch_cmd import cmd_watch
from lookalike.errors import KnownError
from lookalike.search.defaults import DBA_K
from lookalike.settings import PRESETS as PRESET_NAMES
from lookalike.settings import Settings

if TYPE_CHECKING:
    from lookalike.library import Library, Status

log = logging.getLogger(__name__)

LibraryFactory = Callable[..., "Library"]
"""``open_library(args, progress=None)``: the library of ``args`` (``progress(done, total)``
hears of an index rebuilt from the catalog while it opens)."""
LIBRARY_COMMANDS = (
    "index", "search", "explain", "watch", "status", "whiten", "remove", "duplicates",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy: ``--help`` stays instant)."""
    parser = argparse.ArgumentParser(
        prog="lookalike",
        description="Find the photos in your library that show the same place or object.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--library", type=_library_folder, metavar="DIR",
                        help="library folder (default: $LOOKALIKE_HOME or the user data folder)")
    parser.add_argument("--preset", dest="preset_global", choices=PRESET_NAMES,
                        help="model preset (default: from the settings, else balanced)")
    parser.add_argument("--threads", type=_count, metavar="N",
                        help="inference threads (default: from the settings; 0 = automatic)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="add folders to the library and index their photos")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="photo folders to add (none: the library's folders)")
    p.add_argument("--preset", dest="preset_global", choices=PRESET_NAMES,
                   default=argparse.SUPPRESS,
                   help="switch the library to this preset: its photos are embedded again in "
                        "the background while searches keep using the current model")
    p.add_argument("--json", action="store_true", help="print a JSON summary")

    p = sub.add_parser("search", help="find the library photos most similar to an image")
    p.add_argument("image", type=Path, metavar="IMAGE", help="query photo")
    p.add_argument("--top", type=_positive_int, default=20, metavar="K",
                   help="number of matches (20)")
    p.add_argument("--crop", type=_parse_crop, metavar="x0,y0,x1,y1",
                   help="search for part of the image, as fractions 0..1 of its width/height")
    p.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                   help="re-rank the top matches by spatial verification (default: the "
                        "rerank setting, on; needs a preset with local features)")
    p.add_argument("--rotate", action="store_true",
                   help="also search with the image turned 90/180/270 degrees")
    p.add_argument("--dba", type=_count, default=None, metavar="K",
                   help=f"average each top match with its K nearest photos (default {DBA_K}; "
                        "0: off)")
    p.add_argument("--qe", type=_count, default=0, metavar="K",
                   help="alpha query expansion with the K nearest photos (default 0: off)")
    p.add_argument("--verdict", choices=("same_photo", "same_place", "similar"),
                   help="keep only results at least this sure (same_photo > same_place > "
                        "similar)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    add_scope_arguments(p)

    p = sub.add_parser("explain", help="show why a library photo matches a query image")
    p.add_argument("query", type=Path, metavar="QUERY", help="query photo")
    p.add_argument("photo", type=Path, metavar="PHOTO", help="a library photo")
    p.add_argument("--json", action="store_true", help="print a JSON object")

    sub.add_parser("watch", help="index, then keep the library in sync until Ctrl-C "
                   "(prints each added, removed and moved photo)")

    p = sub.add_parser("remove", help="forget library folders (the files stay on disk)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="library folders")

    p = sub.add_parser("status", help="show the library folders and counts")
    p.add_argument("--json", action="store_true", help="print a JSON object")

    p = sub.add_parser("whiten", help="learn a whitening from the library's own photos "
                       "(better matches in big libraries), or --off to undo it")
    p.add_argument("--off", action="store_true", help="drop the learned whitening")
    p.add_argument("--json", action="store_true", help="print a JSON object")

    p = sub.add_parser("check", help="check the library for damage and repair what can be")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("gui", help="open the window")
    p.add_argument("query", nargs="?", type=Path, metavar="IMAGE",
                   help="start with a search for this photo (as from a file manager's Open With)")
    eval_cmd.add_parser(sub)
    duplicates_cmd.add_parser(sub)
    return parser


def _parse_crop(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected four numbers x0,y0,x1,y1") from None
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise argparse.ArgumentTypeError("need 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    return (x0, y0, x1, y1)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_count = _int_at_least(0)


def _library_folder(text: str) -> Path:
    """``--library``: a folder, or a path where one can be made (nothing is created here)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{path} is a file, not a folder; give the folder that holds (or will hold) "
            "the library")
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace | int:
    """Parse argv; returns the exit code instead when argparse is done (help: 0, error: 2)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def print_help() -> int:
    """Print the usage text to stdout; returns 0."""
    build_parser().print_help()
    return 0


def setup_logging(verbose: int) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("lookalike").setLevel(level)


def report_error(exc: BaseException) -> int:
    """Print a KnownError's message on stderr; returns exit code 1."""
    print(f"lookalike: {exc}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace, open_library: LibraryFactory,
        settings: Settings | None = None) -> int:  # fmt: skip
    """Run a parsed command (not ``gui``).

    Args:
        args: from :func:`parse_args`.
        open_library: opens the library for ``args`` (called only by commands that need it).
        settings: the effective settings (their search options); default: the defaults.

    Returns:
        The exit code.
    """
    # File names need not be UTF-8: print the bytes the OS gave, as ls does.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    try:
        if args.command not in LIBRARY_COMMANDS:
            handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
            if handler is None:
                raise KnownError(f"the {args.command} command is not available in this build")
            return handler(args)
        from lookalike.cli.progress import RebuildNotice

        library = open_library(args, progress=RebuildNotice(sys.stderr))
        args.settings = settings or Settings()
        if library.requested_preset_ignored:
            print(f"lookalike: this library uses the {library.preset} preset; searching with it "
                  f"(its vectors are kept). To switch it to another preset, run "
                  f"'lookalike index --preset NAME' (searches keep working meanwhile).",
                  file=sys.stderr)  # fmt: skip
        try:
            return COMMANDS[args.command](args, library)
        finally:
            library.close()
    except KnownError as exc:
        return report_error(exc)
    except KeyboardInterrupt:
        print("lookalike: interrupted; run the command again to resume", file=sys.stderr)
        return 130


def cmd_index(args: argparse.Namespace, library: Library) -> int:
    """``index PATH...``: add the folders, sync once, print a summary."""
    from lookalike.cli.progress import ProgressPrinter

    for path in args.paths:
        library.add_root(path)
    if library.model_changed:
        print("The model was updated since this library was indexed: every photo is embedded "
              "again; until then, searches with a library photo use the old vectors.",
              file=sys.stderr)  # fmt: skip
    cancelled = getattr(args, "cancelled_switch", None)
    if cancelled is not None:
        print(f"Cancelled the switch to the {cancelled.preset} preset ({cancelled.done} new "
              f"vectors dropped); the library keeps the {library.preset} preset.",
              file=sys.stderr)  # fmt: skip
    switching = library.status().switch
    if switching is not None and switching.preset is not None and not library.model_changed:
        print(f"Switching to the {switching.preset} preset: {switching.total - switching.done} "
              f"photos to embed again; searches keep using the current model until it is done.",
              file=sys.stderr)  # fmt: skip
    started = time.monotonic()
    printer = ProgressPrinter(sys.stderr)
    last = None
    with cancel_on_interrupt() as cancel:
        for last in library.sync(cancel):
            printer.update(last)
    printer.finish()
    status = library.status()
    seconds = time.monotonic() - started
    cancelled = last is not None and last.phase == "cancelled"
    embedded = last.done if last is not None and last.phase != "scanning" else 0
    if args.json:
        print_json({"embedded": embedded, "cancelled": cancelled, "seconds": round(seconds, 3),
                     **_status_dict(status)})
    else:
        for path, reason in status.skipped:
            print(f"skipped: {path}: {reason}")
        print(f"{plural(embedded, 'photo')} embedded in {seconds:.1f} s; {status.indexed} indexed, "
              f"{status.pending} pending, {len(status.skipped)} skipped"
              + (" (interrupted; run again to resume)" if cancelled else ""))
        if status.switch is not None:
            print(_switch_line(status))
        elif switching is not None:
            print(f"switched: the library now uses the {library.preset} preset "
                  f"(model {status.model_id})")
    _note_empty_folders(args.paths, status)
    return 130 if cancelled else 0


def _note_empty_folders(paths: list[Path], status: Status) -> None:
    """Say which of the folders just indexed hold no photo (they stay library folders, so
    photos copied there later are found by ``index``, ``watch`` and the window)."""
    photos = {r.path: r.photos + r.pending + r.skipped for r in status.roots}
    for path in paths:
        if photos.get(Path(path).expanduser().resolve(), 1) == 0:
            print(f"lookalike: no photos found in {path} (it stays a library folder; "
                  f"'lookalike remove {path}' forgets it)", file=sys.stderr)


def cmd_remove(args: argparse.Namespace, library: Library) -> int:
    """``remove PATH...``: forget library folders; the files on disk are not touched."""
    for path in args.paths:
        library.remove_root(path)
        print(f"removed {Path(path).expanduser().resolve()} from the library "
              "(its files are untouched)")
    return 0


def cmd_status(args: argparse.Namespace, library: Library) -> int:
    """``status``: roots, counts, skipped files and the index size."""
    status = library.status()
    if args.json:
        print_json(_status_dict(status))
        return 0
    print(f"model {status.model_id}; index: {status.index_size} photos, "
          f"{status.index_file_bytes / 1e6:.1f} MB")
    for root in status.roots:
        state = "online" if root.online else "OFFLINE"
        print(f"  {root.path}  [{state}]  {plural(root.photos, 'photo')}, {root.pending} pending, "
              f"{root.skipped} skipped")
    print(f"indexed {status.indexed}, pending {status.pending}, offline {status.offline}, "
          f"skipped {len(status.skipped)}")
    if status.switch is not None:
        print(_switch_line(status))
    for path, reason in status.skipped:
        print(f"  skipped: {path}: {reason}")
    return 0


def _switch_line(status: Status) -> str:
    """What ``status`` and ``index`` say about a model switch under way."""
    switch = status.switch
    assert switch is not None
    to = f"the {switch.preset} preset" if switch.preset else "the updated model"
    return (f"switching to {to} (model {switch.model_id}): {switch.done} of {switch.total} "
            f"photos embedded; searches use model {status.model_id} until then "
            f"('lookalike index' resumes it)")


def _status_dict(status: Status) -> dict[str, Any]:
    """The JSON shape of a Status (used by ``status --json`` and ``index --json``)."""
    return {
        "roots": [{"path": str(r.path), "photos": r.photos, "pending": r.pending,
                   "skipped": r.skipped, "online": r.online} for r in status.roots],
        "indexed": status.indexed,
        "pending": status.pending,
        "offline": status.offline,
        "skipped": [{"path": str(p), "reason": reason} for p, reason in status.skipped],
        "index_size": status.index_size,
        "index_file_bytes": status.index_file_bytes,
        "model_id": status.model_id,
        "switch": None if status.switch is None else {
            "preset": status.switch.preset, "model_id": status.switch.model_id,
            "done": status.switch.done, "total": status.switch.total},
        "whitening": None if status.whitening is None else {
            "pairs": status.whitening.pairs, "photos": status.whitening.photos,
            "digest": status.whitening.digest},
    }


def cmd_whiten(args: argparse.Namespace, library: Library) -> int:
    """``whiten [--off]``: learn (or drop) the library's whitening and re-index."""
    started = time.perf_counter()
    if args.off:
        library.forget_whitening()
        out: dict[str, Any] = {"whitening": None}
    else:
        info = library.learn_whitening()
        out = {"whitening": {"pairs": info.pairs, "photos": info.photos, "digest": info.digest}}
    out["seconds"] = round(time.perf_counter() - started, 2)
    if args.json:
        print_json(out)
    elif args.off:
        print("whitening dropped; the index holds the vectors as the model makes them")
    else:
        print(f"whitening learned from {out['whitening']['photos']} photos "
              f"({out['whitening']['pairs']} mutual-neighbour pairs) in {out['seconds']} s")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Library], int]] = {
    "explain": cmd_explain,
    "index": cmd_index,
    "search": cmd_search,
    "watch": cmd_watch,
    "status": cmd_status,
    "whiten": cmd_whiten,
    "remove": cmd_remove,
    "duplicates": duplicates_cmd.run,
}
