"""Run the exported R-MAC ONNX model with onnxruntime on the CPU: pixels → Embedding.

The math lives in :mod:`lookalike.embed.rmac` (region grid, NumPy reference) and the session and
model metadata in :mod:`lookalike.embed.session`; this module only prepares tensors, runs the
session and sums scales.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lookalike import paths
from lookalike.decode.image import decode
from lookalike.decode.thumb import grey_thumb
from lookalike.embed.local import LOCAL_DIM, MAX_LOCALS
from lookalike.embed.local import extract as extract_locals
from lookalike.embed.presets import PRESETS, Preset
from lookalike.embed.rmac import l2n, region_grid
from lookalike.embed.session import ModelInfo, default_threads, open_session, read_metadata
from lookalike.errors import ModelMissing, UnreadablePhoto
from lookalike.types import PEAK_DTYPE, Embedding, Locals, Peaks

if TYPE_CHECKING:
    import onnxruntime

RELEASE_SIDE = 64
"""Side of the blank input :meth:`Embedder.release_memory` runs to shrink the arena."""

TOP_PEAKS = 256
"""How many of the strongest MAC channels are kept per photo for highlighting (8 bytes each)."""


def input_size(width: int, height: int, side: int, multiple: int) -> tuple[int, int]:
    """Network input (width, height) for one scale: long side ``side``, never upscaled, both
    sides multiples of ``multiple`` (the model's stride; TF "SAME" padding needs it).

    A photo smaller than ``side`` keeps its own size, rounded down to the multiple (>= one cell).
    """
    long_side = max(width, height)
    if long_side <= side:  # small photo: round down, never up
        return max(multiple, width // multiple * multiple), max(
            multiple, height // multiple * multiple
        )
    factor = side / long_side
    return (
        max(multiple, round(width * factor / multiple) * multiple),
        max(multiple, round(height * factor / multiple) * multiple),
    )


CROP_LIMIT = 0.04
"""Largest fraction of a side :meth:`Embedder.tensor` crops (centred) to reach the model's size
multiple instead of resizing; e.g. a 1008x756 JPEG draft becomes 992x736 with no resampling."""


def _croppable(size: tuple[int, int], to: tuple[int, int]) -> bool:
    """Whether ``to`` is ``size`` less at most ``CROP_LIMIT`` of each side (never more)."""
    return all(t <= s and s - t <= CROP_LIMIT * s for s, t in zip(size, to, strict=True))


def _crop_offset(size: tuple[int, int], to: tuple[int, int]) -> tuple[int, int] | None:
    """(left, top) of the centred crop :meth:`Embedder.tensor` takes from an image of ``size``
    for an input of ``to``, or None when it resamples instead (or needs neither)."""
    if to == size or not _croppable(size, to):
        return None
    return (size[0] - to[0]) // 2, (size[1] - to[1]) // 2


def _uncrop(
    peaks: Peaks,
    locals_: Locals | None,
    offset: tuple[int, int],
    size: tuple[int, int],
    cropped: tuple[int, int],
) -> tuple[Peaks, Locals | None]:
    """Positions measured on a centred crop → positions on the whole image."""
    (left, top), (w, h), (cw, ch) = offset, size, cropped
    peaks = peaks.copy()
    peaks["x"] = (left + peaks["x"] * cw) / w
    peaks["y"] = (top + peaks["y"] * ch) / h
    if locals_ is not None:
        xy = locals_[:, :2].astype(np.float32) * max(cw, ch)  # cell centres in pixels
        locals_ = locals_.copy()
        locals_[:, 0] = (xy[:, 0] + left) / max(w, h)
        locals_[:, 1] = (xy[:, 1] + top) / max(w, h)
    return peaks, locals_


class Embedder:
    """The real :class:`lookalike.types.PhotoEmbedder`: decode → resize per scale → ONNX → sum.

    Attributes:
        info: the model's metadata.
        scales: long sides (pixels) the photo is embedded at; descriptors are summed.
        model_id: ``sha256[:16]`` of the model + the scales (+ the local features' size when
            they are computed): one vector space.
        dim: descriptor size D.
        max_side: the size photos are decoded at (the largest scale).
    """

    def __init__(
        self,
        model_path: Path,
        scales: Iterable[int],
        threads: int = 0,
        spin: bool = False,
        local_features: bool = False,
        workers: int = 0,
    ) -> None:
        self.scales = tuple(sorted({int(s) for s in scales}, reverse=True))
        if not self.scales:
            raise ValueError("at least one scale")
        self.threads = threads or default_threads()
        self.workers = workers or self.threads
        self._fixed_workers = workers
        self._model_path = model_path
        self._spin = spin
        self._session = open_session(model_path, self.threads, spin)
        self._batch: onnxruntime.InferenceSession | None = None
        self.local_features = local_features
        self.info = ModelInfo.from_metadata(model_path, read_metadata(self._session))
        self.dim = self.info.dim
        self.max_side = self.scales[0]
        self.model_id = f"{self.info.sha256[:16]}@{'+'.join(map(str, self.scales))}" + (
            f"+L{MAX_LOCALS}x{LOCAL_DIM}s{self.info.local_stride}" if local_features else ""
        )
        self._mean = np.asarray(self.info.mean, np.float32)
        self._inv_std = 1.0 / np.asarray(self.info.std, np.float32)
        self._lock = threading.Lock()

    @classmethod
    def from_preset(cls, preset: str = "balanced", threads: int = 0) -> Embedder:
        """The shipped model and scales of a quality preset ("fast", "balanced", "best")."""
        try:
            p: Preset = PRESETS[preset]
        except KeyError:
            raise ModelMissing(f"unknown preset {preset!r} (choose {', '.join(PRESETS)})") from None
        return cls(
            paths.models_dir() / p.model_file, p.scales, threads, local_features=p.local_features
        )

    def set_threads(self, threads: int) -> bool:
        """Run with ``threads`` intra-op threads (0: every core) from the next call on: the
        sessions are rebuilt here; a batch of :meth:`embed_files` already running finishes on
        the session it started with (the indexer asks for a new batch every few photos).

        Returns:
            True if the thread count changed.
        """
        wanted = threads or default_threads()
        with self._lock:
            if wanted == self.threads:
                return False
            self._session = open_session(self._model_path, wanted, self._spin)
            self._batch = None  # rebuilt by batch_session() for the new worker count
            self.threads, self.workers = wanted, self._fixed_workers or wanted
        return True

    def tensor(self, rgb: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.float32]:
        """(1, 3, H, W) normalised input for one scale of an upright (h, w, 3) uint8 image."""
        from PIL import Image

        height, width = rgb.shape[:2]
        size = input_size(width, height, side, self.info.size_multiple)
        if size != (width, height):
            offset = _crop_offset((width, height), size)
            if offset is not None:
                left, top = offset
                rgb = rgb[top : top + size[1], left : left + size[0]]
            else:
                rgb = np.asarray(
                    Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
                )
        x = np.empty((1, 3, size[1], size[0]), np.float32)
        for c in range(3):  # per channel: ~5x faster than one broadcast over (H, W, 3)
            np.subtract(rgb[:, :, c], self._mean[c], out=x[0, c], dtype=np.float32)
            x[0, c] *= self._inv_std[c]
        return x

    def run(
        self,
        x: npt.NDArray[np.float32],
        outputs: tuple[str, ...] = ("descriptor", "mac", "argmax"),
        session: onnxruntime.InferenceSession | None = None,
        options: onnxruntime.RunOptions | None = None,
    ) -> list[Any]:
        """Run the session (by default the query session) on one input tensor; returns the
        named outputs."""
        fh, fw = x.shape[2] // self.info.stride, x.shape[3] // self.info.stride
        boxes = region_grid(fh, fw, self.info.levels)
        rois = np.zeros((len(boxes), 5), np.float32)
        rois[:, 1:] = boxes
        run_on = session or self._session
        return list(run_on.run(list(outputs), {"image": x, "rois": rois}, options))

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        """Embed an upright (H, W, 3) uint8 RGB image at every scale and sum."""
        return self.embed_tensors(self.tensors(rgb), image_size=(rgb.shape[1], rgb.shape[0]))

    def tensors(self, rgb: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.float32]]:
        """The network inputs of an image, one per distinct scale, largest first (a small photo
        gives fewer: scales above its size collapse into one)."""
        out: list[npt.NDArray[np.float32]] = []
        for side in self.scales:
            x = self.tensor(rgb, side)
            if all(x.shape != y.shape for y in out):
                out.append(x)
        return out

    def embed_tensors(
        self,
        xs: list[npt.NDArray[np.float32]],
        session: onnxruntime.InferenceSession | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> Embedding:
        """Run the model on prepared inputs (from :meth:`tensors`) and sum the descriptors.

        Peaks (and local features, when enabled) come from the largest scale, from the same
        session run. With the (width, height) of the image the inputs came from, their
        positions are on that image even when the input is a centred crop of it.
        """
        first = ("descriptor", "mac", "argmax") + (
            (self.info.local_output,) if self.local_features else ()
        )
        outputs = self.run(xs[0], first, session)
        total = np.array(outputs[0][0], np.float32)
        fh, fw = xs[0].shape[2] // self.info.stride, xs[0].shape[3] // self.info.stride
        peaks = make_peaks(outputs[1][0], outputs[2][0], fh, fw)
        locals_: Locals | None = None
        if self.local_features:
            locals_ = extract_locals(np.asarray(outputs[3][0], np.float32))
        for x in xs[1:]:
            total += self.run(x, ("descriptor",), session)[0][0]
        cropped = (xs[0].shape[3], xs[0].shape[2])
        offset = None if image_size is None else _crop_offset(image_size, cropped)
        if offset is not None and image_size is not None:
            peaks, locals_ = _uncrop(peaks, locals_, offset, image_size, cropped)
        return Embedding(vector=l2n(total), peaks=peaks, locals=locals_)

    def warm_up(self) -> None:
        """Run the query session once on a blank 4:3 image at the largest scale: the first run
        of an onnxruntime session allocates its buffers and is much slower than the next ones
        (``benchmarks/query_speed.py`` prints both), so the app calls this before any query."""
        side = self.max_side
        self.embed_rgb(np.zeros((side * 3 // 4, side, 3), np.uint8))

    def release_memory(self) -> None:
        """Hand the model's working memory back to the system (for a window left idle).

        onnxruntime keeps the buffers of its largest run in an arena (a 1024 x 768 run, RSS
        before / after / after the shrinkage: int8 model 86 / 155 / 107 MB, float model
        153 / 299 / 227 MB); a run of a tiny input that asks for the arena's shrinkage frees
        every chunk not in use, and the batch session of :meth:`embed_files` (another arena) is
        dropped: a batch still running keeps its own reference. The next run grows the arena again
        (about +20 % on that run), so only call this when the model has been idle for a while.
        """
        import onnxruntime as ort

        with self._lock:
            self._batch = None
        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        blank = np.zeros((1, 3, RELEASE_SIDE, RELEASE_SIDE), np.float32)
        self.run(blank, ("descriptor",), options=options)

    def feature_map(self, rgb: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.float32]:
        """(C, h, w) trunk feature map of an image at one scale (for localising a match)."""
        (fmap,) = self.run(self.tensor(rgb, side), ("features",))
        return np.asarray(fmap[0], dtype=np.float32)

    def embed_file(self, path: Path) -> Embedding:
        """Decode and embed one photo; raises UnreadablePhoto."""
        return self.embed_rgb(decode(path, self.max_side, exact=False).rgb)

    def batch_session(self) -> onnxruntime.InferenceSession:
        """The session :meth:`embed_files` workers share: one intra-op thread each when there are
        several workers (see :meth:`embed_files`), else the query session."""
        if self.workers <= 1 or self.threads <= 1:
            return self._session
        with self._lock:
            if self._batch is None:
                self._batch = open_session(self._model_path, 1, self._spin)
            return self._batch

    def embed_files(
        self, paths: Iterable[Path], prefetch: int = 1
    ) -> Iterator[tuple[Path, Embedding | UnreadablePhoto]]:
        """Embed photos, yielded in input order.

        ``workers`` threads each take a whole photo (decode → prepare → model) on a shared
        session with one intra-op thread. On few cores this beats one photo at a time on a
        multi-threaded session with decoding beside it: a parallel operator waits for its
        slowest thread, and a decode thread that takes a core stalls every operator, while
        independent single-threaded photos never wait for each other (Pillow, NumPy and
        onnxruntime release the GIL). ``benchmarks/embed_speed.py`` measures both layouts.
        """
        session = self.batch_session()
        workers = max(1, self.workers)
        queue: deque[tuple[Path, Future[Embedding]]] = deque()
        it = iter(paths)

        def work(path: Path) -> Embedding:
            rgb = decode(path, self.max_side, exact=False).rgb
            size = (rgb.shape[1], rgb.shape[0])
            found = self.embed_tensors(self.tensors(rgb), session, image_size=size)
            return replace(found, thumb=grey_thumb(rgb))  # for the duplicates' copy screen

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:

            def fill() -> None:
                while len(queue) < workers + prefetch:
                    nxt = next(it, None)
                    if nxt is None:
                        return
                    queue.append((nxt, pool.submit(work, nxt)))

            fill()
            try:
                while queue:
                    path, future = queue.popleft()
                    try:
                        outcome: Embedding | UnreadablePhoto = future.result()
                    except UnreadablePhoto as exc:
                        outcome = exc
                    fill()
                    yield path, outcome
            finally:  # the consumer stopped early (cancel, pause): drop what has not started
                for _, pending in queue:
                    pending.cancel()


def make_peaks(
    mac: npt.NDArray[np.float32],
    argmax: npt.NDArray[np.int64],
    fh: int,
    fw: int,
    top: int = TOP_PEAKS,
) -> Peaks:
    """The ``top`` strongest channels with their peak positions as fractions of the image.

    Args:
        mac: (C,) per-channel maxima.
        argmax: (C,) flat ``y * fw + x`` index of each maximum.
        fh, fw: feature-map height and width in cells.
    """
    keep = np.sort(np.argsort(-mac, kind="stable")[: min(top, len(mac))])
    out = np.zeros(len(keep), dtype=PEAK_DTYPE)
    out["channel"] = keep
    out["value"] = mac[keep]
    out["x"] = ((argmax[keep] % fw) + 0.5) / fw
    out["y"] = ((argmax[keep] // fw) + 0.5) / fh
    return out
