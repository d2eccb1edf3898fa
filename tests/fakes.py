"""Test doubles: a cheap but content-dependent embedder and generated test photos.

``FakeEmbedder`` implements ``lookalike.types.PhotoEmbedder`` with a 256-d descriptor made of an
8×8 colour layout (192 values, mean-centred) and a 4×4×4 colour histogram (64 values), L2-
normalised: resized or slightly cropped copies of one picture are each other's nearest
neighbours, different random pictures are not. It counts the files it embeds so tests can
assert that moved photos were not embedded again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from lookalike.errors import UnreadablePhoto
from lookalike.types import PEAK_DTYPE, Embedding

FAKE_MODEL_ID = "fake-1"
DIM = 256


def _decode(path: Path) -> npt.NDArray[np.uint8]:
    """Decode a photo small, with the app's decoder when it exists (else Pillow)."""
    try:
        from lookalike.decode.image import decode
    except ImportError:
        pass
    else:
        return decode(path, max_side=64).rgb
    try:
        if path.stat().st_size == 0:
            raise UnreadablePhoto(path, "empty file")
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError as exc:
        raise UnreadablePhoto(path, "file not found") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadablePhoto(path, f"not an image ({exc.__class__.__name__})") from exc


def describe(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The fake descriptor of an (H, W, 3) uint8 image: (256,) float32, unit norm."""
    im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    layout = np.asarray(im.resize((8, 8), Image.Resampling.BOX), np.float32).reshape(-1) / 255
    layout -= layout.mean()
    bins = (np.asarray(im.resize((32, 32), Image.Resampling.BOX)) // 64).reshape(-1, 3)
    hist = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64)
    hist = hist.astype(np.float32) / max(1, hist.sum())
    vec = np.concatenate([layout, 2.0 * hist]).astype(np.float32)
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        vec[0], norm = 1.0, 1.0
    return (vec / norm).astype(np.float32)


def fake_peaks(vector: npt.NDArray[np.float32], k: int = 4) -> npt.NDArray[np.void]:
    """The ``k`` strongest channels as PEAK_DTYPE records (layout cells give positions)."""
    channels = np.sort(np.argsort(-np.abs(vector))[:k])
    peaks = np.zeros(len(channels), PEAK_DTYPE)
    peaks["channel"] = channels
    peaks["value"] = vector[channels]
    cells = channels // 3
    in_layout = channels < 192
    peaks["x"] = np.where(in_layout, (cells % 8 + 0.5) / 8, 0.5)
    peaks["y"] = np.where(in_layout, (cells // 8 + 0.5) / 8, 0.5)
    return peaks


class FakeEmbedder:
    """A PhotoEmbedder for tests.

    Attributes:
        model_id: names the vector space (change it to simulate a new model).
        dim: 256.
        calls: number of files embedded (``embed_file`` and ``embed_files``), readable or not.
        embedded: those files, in order.
    """

    def __init__(self, model_id: str = FAKE_MODEL_ID, delay_s: float = 0.0) -> None:
        self.model_id = model_id
        self.dim = DIM
        self.max_side = 64  # as _decode
        self.delay_s = delay_s
        self.calls = 0
        self.embedded: list[Path] = []
        self._lock = threading.Lock()

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        vector = describe(rgb)
        return Embedding(vector, fake_peaks(vector))

    def embed_file(self, path: Path) -> Embedding:
        with self._lock:
            self.calls += 1
            self.embedded.append(Path(path))
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.embed_rgb(_decode(Path(path)))

    def embed_files(
        self, paths: Iterable[Path]
    ) -> Iterator[tuple[Path, Embedding | UnreadablePhoto]]:
        for path in paths:
            try:
                yield path, self.embed_file(path)
            except UnreadablePhoto as exc:
                yield path, exc

    def reset(self) -> None:
        """Forget the counted calls."""
        with self._lock:
            self.calls = 0
            self.embedded.clear()


def pattern(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A colourful random picture, different for every seed.

    Args:
        seed: picks the picture.
        size: (width, height) in pixels.
    """
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    im = Image.fromarray(grid).resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(im).copy()
    for _ in range(4):  # a few sharp rectangles
        x0, y0 = rng.integers(0, size[0] - 10), rng.integers(0, size[1] - 10)
        w, h = rng.integers(8, size[0] // 2), rng.integers(8, size[1] // 2)
        pixels[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, 3)
    return Image.fromarray(pixels)


def write_photo(
    path: Path,
    seed: int,
    *,
    size: tuple[int, int] = (160, 120),
    crop: tuple[float, float, float, float] | None = None,
    scale: float = 1.0,
) -> Path:
    """Write ``pattern(seed)`` (optionally cropped by fractions, then scaled) to ``path``.

    The format follows the suffix (JPEG for .jpg). Returns ``path``.
    """
    im = pattern(seed, size)
    if crop is not None:
        w, h = im.size
        im = im.crop((round(crop[0] * w), round(crop[1] * h),
                      round(crop[2] * w), round(crop[3] * h)))
    if scale != 1.0:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=90) if path.suffix.lower() in (".jpg", ".jpeg") else im.save(path)
    return path


def write_library(
    folder: Path, count: int, first_seed: int = 0, suffix: str = ".jpg"
) -> list[Path]:
    """Write ``count`` distinct photos, spread over a few subfolders; returns their paths."""
    return [
        write_photo(folder / f"album{i % 3}" / f"img_{first_seed + i:04d}{suffix}", first_seed + i)
        for i in range(count)
    ]


class TurnedEmbedder(FakeEmbedder):
    """Another model for switch tests: the fake descriptor with its channels turned by 7 (still
    unit norm), so a query embedded by the wrong model, or searched in the wrong vector space,
    no longer finds its photo first."""

    def embed_rgb(self, rgb: npt.NDArray[np.uint8]) -> Embedding:
        base = super().embed_rgb(rgb)
        return Embedding(np.roll(base.vector, 7).astype(np.float32), base.peaks)
