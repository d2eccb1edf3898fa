"""Decode one photo (a file or pasted bytes) into upright 8-bit RGB pixels, safely and fast.

``decode(source, max_side)`` → :class:`Decoded`; every failure is an ``UnreadablePhoto`` with a
short reason a user understands. Decisions, and why:

* **Size limit.** ``MAX_PIXELS`` = 120 MP: above the largest common camera sensors (Fujifilm
  GFX100: 102 MP) and still decodable in well under 1 GB. The declared size is checked after the
  header is read and before any pixel is allocated. A baseline (non-progressive) JPEG may
  declare up to 4 × ``MAX_PIXELS`` when ``max_side`` lets libjpeg's DCT scaling (``draft``) bring
  the decoded size under ``MAX_PIXELS``: memory follows the scaled output there. Progressive
  JPEGs keep every coefficient of the full image in memory, so their declared size counts.
* **Pillow's own limit** ``Image.MAX_IMAGE_PIXELS`` is set, at import, to 4 × ``MAX_PIXELS``: a
  backstop for checks Pillow makes inside plugins (TIFF tiles, GIF frames). Pillow warns above
  it and raises above twice it; the warning is turned into an error while a header is read, so
  both end as "too large". Text-chunk bombs in PNG stay under Pillow's ``MAX_TEXT_CHUNK`` and
  ``MAX_TEXT_MEMORY`` limits and also end as "too large".
* **Truncated files are rejected** (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays False): a photo
  whose lower half is grey would be embedded and matched as if it were whole; the reason tells
  the user to copy the file again.
* **Warnings.** Python 3.11's warning filters are process-wide and ``warnings.catch_warnings``
  is not thread-safe, so the short header phase (``Image.open`` and the EXIF read, no pixels)
  runs under ``_HEADER_LOCK`` with warnings captured: corrupt-EXIF chatter is logged at DEBUG,
  ``DecompressionBombWarning`` becomes an error. Pixel decoding runs in parallel, outside it.
* **Speed.** JPEG: ``draft`` is asked for ``DRAFT_SLACK`` (0.9) × the target, because it only
  picks a 1/2, 1/4 or 1/8 scale whose result is at least the size asked: a 4032-px photo with
  ``max_side`` 1024 decodes at 1/4 (1008 px) and is then enlarged by 1.6 %, instead of decoding
  at 1/2 and shrinking by 2. The enlargement is at most 1 / 0.9 ≈ 11 %. Then ``Image.reduce``
  (box filter) by the whole factor and an antialiased bilinear resize to the exact size.
  HEIF (pillow-heif) has no DCT scaling: ``draft`` there only picks an embedded thumbnail when
  one is big enough; otherwise the photo is decoded in full, then shrunk.
* **Orientation.** The EXIF tag is applied here for JPEG, MPO, PNG, WebP and AVIF (Pillow's AVIF
  reader turns irot/imir into the tag). Pillow's TIFF reader (Pillow >= 11) and libheif turn
  the pixels themselves and report the upright size, so their tag is not applied again.
* **Formats.** Only the photo formats in ``_PHOTO_FORMATS`` are opened, whatever a file is
  called: a photo library never needs EPS (Pillow runs Ghostscript on it), PSD, ICO, FITS...
* Files are opened by us and handed to Pillow as file objects, so Pillow never memory-maps a
  file that another program may truncate while we read it.
* ICC profiles are ignored (wide-gamut photos come out slightly desaturated; matching does not
  care). CMYK is converted with Pillow's plain formula (Adobe's inverted CMYK is undone by the
  JPEG plugin).
"""

from __future__ import annotations

import io
import logging
import math
import os
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, UnidentifiedImageError, features

from lookalike.errors import UnreadablePhoto

log = logging.getLogger(__name__)

Source = Path | str | bytes
"""A photo file's path, or the encoded bytes of a photo (e.g. pasted from the clipboard)."""

MAX_PIXELS: Final = 120_000_000
"""Largest width × height decoded (see the module docstring)."""

_PILLOW_PIXEL_LIMIT: Final = 4 * MAX_PIXELS
Image.MAX_IMAGE_PIXELS = _PILLOW_PIXEL_LIMIT

DRAFT_SLACK: Final = 0.9
"""JPEG ``draft`` is asked for this fraction of the target size (see the module docstring)."""

_HEADER_LOCK = threading.Lock()
_HEIF_LOCK = threading.Lock()
_heif_registered = False

_ORIENTATION_TAG: Final = 0x0112
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_BIT_MODES: Final = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_PHOTO_FORMATS: Final = ("JPEG", "MPO", "PNG", "GIF", "TIFF", "WEBP", "BMP", "HEIF", "AVIF")
"""Pillow formats we open, whatever a file's name says: not EPS (runs Ghostscript), PSD, ICO..."""
_HEIF_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_MAGIC: Final = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_MAX_DETAIL_CHARS: Final = 100
_STRIP_BYTES: Final = 16 << 20


def _avif_readable() -> bool:
    """Whether Pillow has its AVIF plugin (Pillow >= 11.3; pillow-heif 1.x reads no AVIF)."""
    try:
        return bool(features.check_module("avif"))
    except Exception:  # unknown to an older Pillow (ValueError), or a broken optional codec
        return False


IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
    | {".heic", ".heif", ".mpo"}
    | ({".avif"} if _avif_readable() else set())
)
"""Lower-case file suffixes treated as photos."""


@dataclass(frozen=True)
class Decoded:
    """One decoded photo.

    Attributes:
        rgb: (H, W, 3) uint8, C-contiguous, writable, upright (EXIF orientation applied).
        scale: ``rgb`` pixels per pixel of the upright original, in (0, 1]; a point (x, y) of
            ``rgb`` lies at (x / scale, y / scale) in the original.
        original_size: (width, height) of the upright original, in pixels.
    """

    rgb: npt.NDArray[np.uint8]
    scale: float
    original_size: tuple[int, int]

    def __post_init__(self) -> None:
        rgb = self.rgb
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        if not rgb.flags.c_contiguous:
            raise ValueError("rgb must be C-contiguous")
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")


class _Reject(Exception):
    """A photo is refused for ``reason``; turned into ``UnreadablePhoto`` by ``_reading``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def register_heif() -> None:
    """Register pillow-heif's HEIC/HEIF opener with Pillow, once (thread-safe, idempotent).

    ``decode`` and ``read_size`` call this themselves. Without pillow-heif installed, HEIF photos
    are refused with a reason saying so.
    """
    global _heif_registered
    if _heif_registered:
        return
    with _HEIF_LOCK:
        if _heif_registered:
            return
        try:
            import pillow_heif
        except ImportError:
            log.warning("pillow-heif is not installed: HEIC/HEIF photos cannot be read")
        else:
            pillow_heif.register_heif_opener()
        _heif_registered = True


def decode(source: Source, max_side: int | None = None, *, exact: bool = True) -> Decoded:
    """Decode a photo into upright 8-bit RGB, optionally shrunk.

    Args:
        source: the photo's path, or its encoded bytes (e.g. pasted from the clipboard).
        max_side: longest side of the result in pixels, or None for full size. The result's
            long side is min(max_side, the original's long side): it never enlarges a photo.
        exact: False accepts what JPEG's DCT scaling gives when that is already within
            ``DRAFT_SLACK`` of ``max_side`` (e.g. 1008 px for 1024), saving the resize that
            would enlarge it by a few percent (the embedder fits sizes to its stride anyway).

    Returns:
        The pixels, their scale relative to the original, and the original's upright size. Any
        alpha is composited onto white; of an animation or multi-picture file, the first frame.

    Raises:
        UnreadablePhoto: the photo cannot be read; ``reason`` says why in a few words.
        ValueError: ``max_side`` is smaller than 1.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    with _reading(source) as (im, orientation):
        return _decode_opened(im, orientation, max_side, exact)


def read_size(source: Source) -> tuple[int, int]:
    """Read a photo's upright (width, height) in pixels from its header, without its pixels.

    The size is returned even above ``MAX_PIXELS`` (``decode`` may still refuse that photo), up
    to Pillow's backstop of 4 × ``MAX_PIXELS``.

    Raises:
        UnreadablePhoto: the header cannot be read; ``reason`` says why.
    """
    with _reading(source) as (im, orientation):
        return _upright(im.size, orientation)


_EXIF_MAKE, _EXIF_MODEL, _EXIF_IFD, _EXIF_TAKEN = 0x010F, 0x0110, 0x8769, 0x9003


def read_header(source: Source) -> tuple[int, int, str, bool, str | None]:
    """Read what a photo's header says about the file, without its pixels.

    Returns:
        Upright width and height in pixels, the format ("JPEG", "PNG", "HEIF", ...), whether
        the EXIF names a camera (make or model) or an original date, and that date as written
        ("2023:05:01 12:00:03") or None.

    Raises:
        UnreadablePhoto: the header cannot be read.
    """
    with _reading(source) as (im, orientation):
        exif = im.getexif()
        taken = exif.get_ifd(_EXIF_IFD).get(_EXIF_TAKEN) if _EXIF_IFD in exif else None
        camera = bool(exif.get(_EXIF_MAKE) or exif.get(_EXIF_MODEL) or taken)
        width, height = _upright(im.size, orientation)
        return width, height, str(im.format or "?"), camera, None if taken is None else str(taken)


def read_taken(source: Source) -> str | None:
    """The EXIF DateTimeOriginal as written ("2023:05:01 12:00:03"), or None; reads the header
    only (a PNG without an EXIF chunk is not decoded looking for a late one).

    Raises:
        UnreadablePhoto: the header cannot be read.
    """
    with _reading(source) as (im, _orientation):
        if im.format == "PNG" and "exif" not in im.info:
            return None
        exif = im.getexif()
        taken = exif.get_ifd(_EXIF_IFD).get(_EXIF_TAKEN) if _EXIF_IFD in exif else None
        return None if taken is None else str(taken)


@contextmanager
def _reading(source: Source) -> Iterator[tuple[ImageFile.ImageFile, int]]:
    """Open ``source`` up to its header and yield it with its EXIF orientation (1..8).

    Every exception raised while opening, or inside the ``with`` block, leaves as
    ``UnreadablePhoto``; the file and the image are closed on the way out.
    """
    label: object = "<bytes>" if isinstance(source, bytes | bytearray | memoryview) else source
    register_heif()
    kind: str | None = None
    try:
        with _stream(source) as fp:
            kind = _sniff(fp)
            im, orientation = _open_header(fp, label)
            kind = im.format or kind
            with im:
                yield im, orientation
    except _Reject as rejected:
        log.debug("%s: %s", label, rejected.reason)
        raise UnreadablePhoto(label, rejected.reason) from None
    except Exception as exc:  # hostile files make decoders raise anything; see _reason
        reason = _reason(exc, kind)
        log.debug("%s: %s", label, reason, exc_info=True)
        raise UnreadablePhoto(label, reason) from exc


@contextmanager
def _stream(source: Source) -> Iterator[IO[bytes]]:
    """Yield a binary stream over ``source``, refusing empty files and non-files."""
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise _Reject("empty file")
        yield io.BytesIO(source)
        return
    info = os.stat(source)
    if stat.S_ISDIR(info.st_mode):
        raise _Reject("is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _Reject("not a regular file")  # a FIFO or device would block or never end
    if info.st_size == 0:
        raise _Reject("empty file")
    with open(source, "rb") as fp:
        yield fp


def _sniff(fp: IO[bytes]) -> str | None:
    """Guess the format from the first bytes, to word reasons for files Pillow cannot open."""
    fp.seek(0)
    head = fp.read(16)
    fp.seek(0)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "HEIF" if brand in _HEIF_BRANDS else "AVIF" if brand in (b"avif", b"avis") else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _open_header(fp: IO[bytes], label: object) -> tuple[ImageFile.ImageFile, int]:
    """``Image.open`` plus the EXIF orientation, with warnings captured (see module docstring).

    Raises:
        _Reject: Pillow does not recognise the data.
    """
    with _HEADER_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im: ImageFile.ImageFile | None = Image.open(fp, formats=_openable_formats())
        except UnidentifiedImageError:
            im = None
        orientation = 1 if im is None else _orientation(im)
    for caught_warning in caught:
        log.debug("%s: %s", label, caught_warning.message)
    if im is None:
        raise _Reject(_unidentified_reason(fp))
    return im, orientation


def _openable_formats() -> tuple[str, ...]:
    """Those of ``_PHOTO_FORMATS`` that this Pillow (and pillow-heif) can open."""
    if not all(name in Image.OPEN for name in _PHOTO_FORMATS[:6]):
        Image.init()  # imports Pillow's plugins once; later calls return at once
    return tuple(name for name in _PHOTO_FORMATS if name in Image.OPEN)


def _orientation(im: ImageFile.ImageFile) -> int:
    """EXIF orientation 1..8 of the stored pixels; 1 when absent, invalid or unreadable."""
    if im.format == "TIFF":
        return 1  # Pillow's TIFF reader applies the tag itself and reports the upright size
    if im.format == "PNG" and "exif" not in im.info:
        return 1  # PngImageFile.getexif() would decode every pixel looking for a late eXIf
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a corrupt EXIF block must not make a readable photo fail
        log.debug("unreadable EXIF, orientation ignored", exc_info=True)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _unidentified_reason(fp: IO[bytes]) -> str:
    """Reason for data Pillow did not recognise, naming the format when the magic shows it."""
    kind = _sniff(fp)
    if kind == "HEIF":
        return _heif_failure(fp)
    if kind == "AVIF" and not _avif_readable():
        return "AVIF photos are not supported by this installation"
    if kind is not None:
        return f"truncated or corrupt {kind} data"
    return "not an image (unrecognised format)"


def _heif_failure(fp: IO[bytes]) -> str:
    """Ask libheif directly why a HEIF file does not open, for the reason."""
    try:
        import pillow_heif
    except ImportError:
        return "HEIF photos need pillow-heif, which is not installed"
    try:
        pillow_heif.open_heif(fp, convert_hdr_to_8bit=True)
    except Exception as exc:  # libheif reports through ValueError, RuntimeError, ...
        return f"HEIF decoding failed: {_detail(exc)}"
    return "HEIF decoding failed: unsupported HEIF variant"


def _decode_opened(
    im: ImageFile.ImageFile, orientation: int, max_side: int | None, exact: bool = True
) -> Decoded:
    """Decode an opened image: size check, fast downscale, 8-bit RGB, upright."""
    declared = im.size
    target = _target_size(declared, max_side)
    if target != declared:
        im.draft("RGB", _draft_request(declared, max(target)))
        if not exact and max(im.size) <= max(target):
            target = im.size  # DCT-scaled to within DRAFT_SLACK of the target
    _check_pixels(im, declared)
    steps: tuple[Callable[[Image.Image], Image.Image], ...] = (
        _to_rgb_or_rgba,
        lambda image: _shrink(image, target),
        lambda image: _transpose(image, orientation),
        _flatten_alpha,
    )
    image: Image.Image = im
    for step in steps:
        result = step(image)
        if result is not image:
            image.close()  # free each intermediate as soon as it is replaced: big photos
        image = result
    return Decoded(
        rgb=_to_array(image),
        scale=max(target) / max(declared),
        original_size=_upright(declared, orientation),
    )


def _target_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(w, h) of the result in stored orientation: long side min(max_side, long side)."""
    width, height = size
    long_side = max(width, height)
    if max_side is None or max_side >= long_side:
        return size
    factor = max_side / long_side
    if width >= height:
        return max_side, max(1, round(height * factor))
    return max(1, round(width * factor)), max_side


def _draft_request(size: tuple[int, int], target_long: int) -> tuple[int, int]:
    """Size to ask ``Image.draft`` for: ``DRAFT_SLACK`` × the target, same aspect ratio.

    JPEG's draft picks the largest scale 1/s (s in 8, 4, 2, 1) with s <= min(w // rw, h // rh),
    so its result is never smaller than this request.
    """
    factor = DRAFT_SLACK * target_long / max(size)
    return max(1, math.floor(size[0] * factor)), max(1, math.floor(size[1] * factor))


def _check_pixels(im: ImageFile.ImageFile, declared: tuple[int, int]) -> None:
    """Refuse a photo above ``MAX_PIXELS``, before any pixel memory is allocated.

    A baseline JPEG counts the size its draft will decode to; anything else its declared size.

    Raises:
        _Reject: too large.
    """
    scaled_by_decoder = im.format in ("JPEG", "MPO") and not im.info.get("progressive")
    width, height = im.size if scaled_by_decoder else declared
    if width * height > MAX_PIXELS:
        width, height = declared
        raise _Reject(
            f"too large: {width}×{height} = {width * height / 1e6:.0f} MP "
            f"(limit {MAX_PIXELS / 1e6:.0f} MP)"
        )


def _to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB, or to RGBA when the image has any transparency."""
    if im.mode in _HIGH_BIT_MODES:
        grey = _grey_to_uint8(np.asarray(im), im.mode)
        return Image.fromarray(grey).convert("RGB")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    return im if im.mode == "RGB" else im.convert("RGB")


def _grey_to_uint8(values: npt.NDArray[Any], mode: str) -> npt.NDArray[np.uint8]:
    """Map one high-bit-depth channel to 0..255.

    Args:
        values: (H, W) uint16, int32 or float32 samples of an image in ``mode``.
        mode: "I;16*" (0..65535), or "I" / "F" whose range is guessed: 0..1 (float), 0..255,
            0..65535, else 0..max.

    Returns:
        (H, W) uint8.
    """
    samples: npt.NDArray[np.float32] = np.nan_to_num(
        values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0
    )
    top = float(samples.max()) if samples.size else 0.0
    if mode.startswith("I;16") or 255.0 < top <= 65535.0:
        full_scale = 65535.0
    elif mode == "F" and top <= 1.0:
        full_scale = 1.0
    elif top <= 255.0:
        full_scale = 255.0
    else:
        full_scale = top
    scaled = samples * np.float32(255.0 / full_scale) + np.float32(0.5)
    grey: npt.NDArray[np.uint8] = np.clip(scaled, 0.0, 255.0).astype(np.uint8)
    return grey


def _shrink(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to exactly ``size``: box-filter by the whole factor, then antialiased bilinear."""
    factor = min(im.width // size[0], im.height // size[1])
    if factor >= 2:
        im = im.reduce(factor)
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    return im


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    """Apply EXIF ``orientation`` (1..8) to the stored pixels, giving the upright picture."""
    method = _TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite an RGBA image onto white; return RGB images unchanged."""
    if im.mode != "RGBA":
        return im
    white = Image.new("RGB", im.size, (255, 255, 255))
    white.paste(im, (0, 0), im)
    return white


def _to_array(im: Image.Image) -> npt.NDArray[np.uint8]:
    """(H, W, 3) uint8 writable copy of an RGB image; closes the image.

    Copied in strips of about ``_STRIP_BYTES``: ``Image.tobytes`` holds its output twice while
    joining it, which for a full-size 100 MP photo would add 600 MB to the peak.
    """
    width, height = im.size
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _STRIP_BYTES // (3 * width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = im if (top, bottom) == (0, height) else im.crop((0, top, width, bottom))
        rgb[top:bottom] = np.frombuffer(strip.tobytes(), dtype=np.uint8).reshape(-1, width, 3)
    im.close()
    return rgb


def _upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(w, h) after applying EXIF ``orientation``: 5..8 swap the sides."""
    return (size[1], size[0]) if orientation >= 5 else size


def _reason(exc: Exception, kind: str | None) -> str:
    """A short reason for a user, from what a decoder raised and the format (if known)."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode this photo"
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        limit = _PILLOW_PIXEL_LIMIT * (2 if isinstance(exc, Image.DecompressionBombError) else 1)
        return f"too large: over {limit / 1e6:.0f} MP (limit {MAX_PIXELS / 1e6:.0f} MP)"
    if isinstance(exc, ValueError) and ("MAX_TEXT" in str(exc) or "text chunks" in str(exc)):
        return "too large: compressed PNG metadata expands past the safety limit"
    if kind == "HEIF":
        return f"HEIF decoding failed: {_detail(exc)}"
    if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the data
        return f"cannot read the file: {exc.strerror or _detail(exc)}"
    if kind is not None:
        return f"truncated or corrupt {kind} data"
    return f"corrupt or unsupported image ({_detail(exc)})"


def _detail(exc: BaseException) -> str:
    """First line of an exception's message (or its type), at most ``_MAX_DETAIL_CHARS``."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= _MAX_DETAIL_CHARS else text[: _MAX_DETAIL_CHARS - 1] + "…"
