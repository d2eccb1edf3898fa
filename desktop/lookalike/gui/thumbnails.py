"""Thumbnails on demand: a memory cache, an on-disk cache and a thread pool that fills both."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap, QPixmapCache

from lookalike.decode.image import decode
from lookalike.errors import KnownError
from lookalike.gui.images import rgb_to_qimage

log = logging.getLogger(__name__)

THUMB_SIDE = 320
"""Long side of cached thumbnails in pixels (sharp at 160 px cells on a 2× display)."""

MEMORY_LIMIT_KB = 192 * 1024
"""Memory cache budget (QPixmapCache evicts least recently used pixmaps beyond it)."""


def cache_key(path: Path, size_bytes: int, mtime_ns: int, side: int) -> str:
    """The on-disk cache name of one thumbnail: changes whenever the file changes."""
    raw = f"{path}\0{size_bytes}\0{mtime_ns}\0{side}".encode("utf-8", "surrogateescape")
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


class _Relay(QObject):
    """Carries results from pool threads to the GUI thread (lives in the GUI thread).

    Signals:
        done(str, QImage): a thumbnail is ready for the path (str).
        failed(str, str): the path (str) could not be thumbnailed, and why.
    """

    done = Signal(str, QImage)
    failed = Signal(str, str)


class _ThumbJob(QRunnable):
    """Load one thumbnail from the disk cache, or decode the photo and fill the disk cache."""

    def __init__(self, path: Path, folder: Path, side: int, relay: _Relay) -> None:
        super().__init__()
        self._path, self._folder, self._side, self._relay = path, folder, side, relay

    def run(self) -> None:
        key = str(self._path)
        try:
            image = self._load()
        except KnownError as exc:
            self._relay.failed.emit(key, getattr(exc, "reason", str(exc)))
        except OSError as exc:
            self._relay.failed.emit(key, exc.strerror or str(exc))
        except Exception as exc:  # a thumbnail must never take the app down
            log.exception("thumbnail of %s failed", self._path)
            self._relay.failed.emit(key, f"{type(exc).__name__}: {exc}")
        else:
            self._relay.done.emit(key, image)

    def _load(self) -> QImage:
        stat = self._path.stat()
        name = cache_key(self._path, stat.st_size, stat.st_mtime_ns, self._side)
        cached = self._folder / name[:2] / f"{name}.jpg"
        if cached.is_file():
            image = QImage(str(cached))
            if not image.isNull():
                return image
        image = rgb_to_qimage(decode(self._path, self._side).rgb)
        if max(image.width(), image.height()) > self._side:
            image = image.scaled(
                self._side,
                self._side,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self._store(image, cached)
        return image

    @staticmethod
    def _store(image: QImage, target: Path) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{target.stem}.{os.getpid()}.{id(image)}.tmp.jpg")
            # The stubs type format as bytes; PySide6 itself accepts only str here.
            if image.save(str(tmp), "JPG", 88):  # type: ignore[call-overload]
                os.replace(tmp, target)
        except OSError as exc:  # a read-only cache only costs speed
            log.debug("cannot write thumbnail %s: %s", target, exc)


class ThumbnailCache(QObject):
    """Hands out thumbnails by path, loading missing ones off the GUI thread.

    Lookups hit a memory cache (``QPixmapCache``); misses are queued on a private
    ``QThreadPool`` newest-first (what was just scrolled into view loads before what scrolled
    past), read from ``folder`` if cached there (key: path + size + mtime + side) and otherwise
    decoded with :func:`lookalike.decode.image.decode` and written there.

    Signals:
        ready(str): the thumbnail of this path (as str) is now available from :meth:`get`.
        failed(str): this path cannot be thumbnailed (see :meth:`failure`).

    Attributes:
        side: long side of the thumbnails in pixels.
    """

    ready = Signal(str)
    failed = Signal(str)

    def __init__(
        self, folder: Path, side: int = THUMB_SIDE, threads: int = 0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.side = side
        self._folder = folder
        self._pool = QThreadPool(self)
        ideal = QThreadPool.globalInstance().maxThreadCount()
        self._pool.setMaxThreadCount(threads or max(1, min(4, ideal // 2)))
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._pending: set[str] = set()
        self._failures: dict[str, str] = {}
        self._priority = 0
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), MEMORY_LIMIT_KB))

    def get(self, path: Path) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and it is loaded in the background.

        Must be called from the GUI thread. :attr:`ready` or :attr:`failed` follows a miss.
        """
        key = str(path)
        # The stubs list only find(Key); PySide6 also takes a str and returns the pixmap or None.
        pixmap: QPixmap | None = QPixmapCache.find(self._memory_key(key))  # type: ignore[call-overload]
        if pixmap is not None and not pixmap.isNull():
            return pixmap
        if key not in self._pending and key not in self._failures:
            self._pending.add(key)
            self._priority += 1
            self._pool.start(_ThumbJob(path, self._folder, self.side, self._relay), self._priority)
        return None

    def pending_count(self) -> int:
        """How many requested thumbnails are still loading."""
        return len(self._pending)

    def failure(self, path: Path) -> str | None:
        """Why the thumbnail of ``path`` failed, or None."""
        return self._failures.get(str(path))

    def forget(self, path: Path) -> None:
        """Drop a path from memory so the next :meth:`get` reloads it (e.g. after it changed)."""
        key = str(path)
        QPixmapCache.remove(self._memory_key(key))
        self._failures.pop(key, None)

    def shutdown(self, wait_ms: int = 2000) -> None:
        """Drop queued jobs and wait briefly for running ones."""
        self._pool.clear()
        self._pool.waitForDone(wait_ms)

    def _memory_key(self, key: str) -> str:
        return f"lookalike-thumb:{self.side}:{key}"

    @Slot(str, QImage)
    def _on_done(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        QPixmapCache.insert(self._memory_key(key), QPixmap.fromImage(image))
        self.ready.emit(key)

    @Slot(str, str)
    def _on_failed(self, key: str, reason: str) -> None:
        self._pending.discard(key)
        self._failures[key] = reason
        log.debug("no thumbnail for %s: %s", key, reason)
        self.failed.emit(key)
