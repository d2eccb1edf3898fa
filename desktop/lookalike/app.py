"""Composition root: argv → Settings → Embedder → Library → the CLI or the window.

Every service is built here, once, and passed down. The model (onnxruntime), the index
(hnswlib), numpy and Qt are imported only when the command needs them, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lookalike import paths
from lookalike.settings import Settings

# NumPy's BLAS would start a thread per core for every product, however small; the app already
# keeps the cores busy with its own threads (onnxruntime, hnswlib, decoding), and thread
# wake-ups made each re-ranked search several times slower on a busy 2-core machine
# (benchmarks/query_speed.py). Set before NumPy is first imported; the user's value wins.
for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")

if TYPE_CHECKING:
    from lookalike.library import Library
    from lookalike.types import PhotoEmbedder

EmbedderFactory = Callable[[Settings], "PhotoEmbedder"]

def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lookalike`` console script and ``python -m lookalike``.

    Args:
        argv: arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The process exit code (0 ok, 1 known error, 2 usage).
    """
    return run(argv)


def run(argv: list[str] | None = None, make_embedder: EmbedderFactory | None = None) -> int:
    """:func:`main` with the embedder injectable (tests pass a fake one).

    Args:
        argv: arguments without the program name; default ``sys.argv[1:]``.
        make_embedder: builds the embedder from the effective settings; default the ONNX
            ``lookalike.embed.model.Embedder`` for ``settings.preset``.
    """
    from lookalike.cli import main as cli

    args = cli.parse_args(argv)
    if isinstance(args, int):
        return args
    cli.setup_logging(args.verbose)
    if args.command is None:
        if not display_available():
            return cli.print_help()
        args.command = "gui"
    settings = effective_settings(args)
    factory = make_embedder or default_embedder

    def open_library(args: argparse.Namespace,
                     progress: Callable[[int, int], None] | None = None) -> Library:  # fmt: skip
        from lookalike.library import Library

        home = args.library if args.library is not None else paths.data_dir()
        exclude = [Path(p) for p in settings.exclude]
        stored = Library.stored_preset(home)
        preset = stored or settings.preset
        target = switch_target(args, settings.preset, stored)

        def embedder_for(name: str) -> PhotoEmbedder:
            return factory(dataclasses.replace(settings, preset=name))

        library = Library.open(home, embedder_for(preset), exclude=exclude, preset=preset,
                               requested_preset=None if target else settings.preset,
                               embedder_for=embedder_for, progress=progress)  # fmt: skip
        try:
            left = library.status().switch if args.command in ("index", "watch", "gui") else None
            args.cancelled_switch = left if left is not None and target == preset else None
            target = target or (left.preset if left is not None else None)  # resumed
            if target is not None:
                library.switch_preset(target)
        except BaseException:
            library.close()
            raise
        return library

    if args.command == "gui":
        return run_gui(args, settings, open_library)
    return cli.run(args, open_library, settings)


def effective_settings(args: argparse.Namespace) -> Settings:
    """The saved settings with this run's ``--preset`` / ``--threads`` applied (not saved)."""
    settings = Settings.load()
    if getattr(args, "preset_global", None):
        settings.preset = args.preset_global
    if getattr(args, "threads", None) is not None:
        settings.threads = max(0, args.threads)
    return settings


def switch_target(args: argparse.Namespace, requested: str, stored: str | None) -> str | None:
    """The preset to switch the library to, or None: a library keeps its own, recorded preset,
    so a one-off ``--preset`` never touches its vectors. The user switches deliberately with
    ``lookalike index --preset P`` (or ``lookalike --preset P index``), or with Settings ->
    Quality in the window, which asks first and calls ``Library.switch_preset`` itself (a
    window start only resumes a switch: the saved Quality may predate a switch made with the
    command). The new vectors are built in the background while searches keep using the old
    ones; asking for the library's own preset cancels a switch under way.

    Args:
        args: the command line (``command``, ``preset_global``).
        requested: the preset of the effective settings.
        stored: the library's recorded preset (None: new, or indexed before it was recorded).
    """
    deliberate = args.command == "index" and bool(getattr(args, "preset_global", None))
    return requested if stored is not None and deliberate else None


def default_embedder(settings: Settings) -> PhotoEmbedder:
    """The ONNX R-MAC embedder for the settings' preset and threads."""
    from lookalike.embed.model import Embedder

    return Embedder.from_preset(settings.preset, threads=settings.threads)


def display_available() -> bool:
    """Whether a window can be shown: always on Windows and macOS, else with X11 or Wayland."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(
    args: argparse.Namespace,
    settings: Settings,
    open_library: Callable[..., Library],
) -> int:
    """Open the library and hand it to ``lookalike.gui.app.run``; errors go to stderr.

    The library opens on a thread while the event loop runs, so that a long open (the index
    rebuilt from the catalog after an update or a damaged file: minutes at 100k photos) shows
    a progress window instead of nothing (``lookalike.gui.opening``)."""
    from lookalike.cli import main as cli
    from lookalike.errors import KnownError

    try:
        from lookalike.gui.app import application
        from lookalike.gui.app import run as run_window
        from lookalike.gui.opening import open_with_progress
    except ImportError as exc:
        return cli.report_error(KnownError(
            f"the window is not available ({exc}); install Lookalike with its GUI extra or "
            "use the commands (lookalike --help)"))
    # Qt first: when it cannot start (e.g. a missing xcb library) it stops the process, and
    # that must happen before the library folder is created.
    application()
    try:
        library = open_with_progress(lambda progress: open_library(args, progress))
    except KnownError as exc:
        cli.report_error(exc)
        from lookalike.gui.app import show_open_error

        return show_open_error(str(exc))
    try:
        return int(run_window(library, settings, query=getattr(args, "query", None)))
    finally:
        library.close()
