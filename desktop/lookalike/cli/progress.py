"""Show ``Library.sync()`` progress: a ``\\r``-updated line on a TTY, else plain log lines."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from lookalike.library import Progress


def format_duration(seconds: float | None) -> str:
    """``"1:02:03"``, ``"2:03"`` or ``"?"`` for an unknown duration."""
    if seconds is None or seconds != seconds or seconds < 0:  # None, NaN or negative
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(progress: Progress) -> str:
    """One line of text for a Progress (without the file name)."""
    if progress.phase == "scanning":
        return f"scanning: {progress.done} files"
    if progress.phase in ("embedding", "switching"):
        what = "embedding" if progress.phase == "embedding" else "embedding with the new model"
        text = (f"{what} {progress.done}/{progress.total} "
                f"({progress.photos_per_s:.1f} photos/s, ETA {format_duration(progress.eta_s)})")
        return text + (f", {progress.skipped} skipped" if progress.skipped else "")
    return f"{progress.phase}: {progress.done} photos embedded, {progress.skipped} skipped"


class ProgressPrinter:
    """Writes Progress to a stream (stderr by default in the CLI).

    On a TTY one line is rewritten in place at most ``1 / refresh_s`` times a second; otherwise
    a plain line is written when the phase changes and every ``interval_s`` seconds.
    """

    def __init__(
        self, stream: TextIO, tty: bool | None = None, interval_s: float = 5.0,
        refresh_s: float = 0.1,
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._interval_s = interval_s if not self._tty else refresh_s
        self._last_s = 0.0
        self._last_phase = ""
        self._open_line = False

    def update(self, progress: Progress) -> None:
        """Show one Progress (throttled; phase changes and the end always show)."""
        final = progress.phase in ("done", "cancelled")
        text = describe(progress)
        if self._tty and progress.current is not None and not final:
            text += f"  {progress.current.name}"
        self.show(text, progress.phase, final)

    def show(self, text: str, phase: str, final: bool = False) -> None:
        """Show one line of ``phase`` (throttled within a phase; a new phase and a ``final``
        line always show)."""
        now = time.monotonic()
        if phase == self._last_phase and not final and now - self._last_s < self._interval_s:
            return
        self._last_s, self._last_phase = now, phase
        if self._tty:
            width = max(20, shutil.get_terminal_size().columns - 1)
            self._stream.write("\r" + text[:width].ljust(width))
            self._open_line = True
            if final:
                self.finish()
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the in-place line, if one is open."""
        if self._open_line:
            self._stream.write("\n")
            self._stream.flush()
            self._open_line = False


class CountNotice:
    """``progress(done, total)`` of a long library step shown through a
    :class:`ProgressPrinter` on ``stream``: a line when it starts, the count (in place on a
    TTY, else every ``interval_s`` seconds) and a line when it ends. A step whose first report
    is already its last (done in one go: nothing worth a line) is silent when ``quiet_at_once``.
    Subclasses give the words."""

    quiet_at_once = False

    def __init__(self, stream: TextIO, interval_s: float = 10.0) -> None:
        self._printer = ProgressPrinter(stream, interval_s=interval_s)
        self._started = False

    def __call__(self, done: int, total: int) -> None:
        if not self._started:
            if done >= total and self.quiet_at_once:
                return
            self._started = True
            self._printer.show(self.starting(total), "start", final=True)
            if done == 0:
                return
        if done >= total:
            self._printer.show(self.ended(done), "end", final=True)
        else:
            self._printer.show(self.counting(done, total), "count")

    def starting(self, total: int) -> str:
        raise NotImplementedError

    def counting(self, done: int, total: int) -> str:
        raise NotImplementedError

    def ended(self, done: int) -> str:
        raise NotImplementedError


class RebuildNotice(CountNotice):
    """An index rebuilt while the library opens (``Library.open(progress=...)``): a command
    otherwise sat silent for minutes on a big library after an update or a damaged index
    file."""

    def starting(self, total: int) -> str:
        return ("Rebuilding the search index from the catalog (once, after an update or a "
                f"missing or damaged index file): {total:,} photos")  # fmt: skip

    def counting(self, done: int, total: int) -> str:
        return f"indexing {done:,}/{total:,}"

    def ended(self, done: int) -> str:
        return f"index rebuilt: {done:,} photos"


class CheckingNotice(CountNotice):
    """A duplicates update (``DuplicateFinder.update(progress=...)``): silent for one done in
    one step (the usual one: a few new photos); the first update of a 100k library takes about
    a minute."""

    quiet_at_once = True

    def starting(self, total: int) -> str:
        return f"Looking for copies and bursts among {total:,} new or changed photos"

    def counting(self, done: int, total: int) -> str:
        return f"checked {done:,}/{total:,}"

    def ended(self, done: int) -> str:
        return f"checked {done:,} photos"
