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
import os
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, UnidentifiedImageError

from lookalike.decode.bands import band_plan, decode_bands
from lookalike.decode.pixels import (
    DRAFT_SLACK,
    draft_request,
    flatten_alpha,
    shrink,
    target_size,
    to_array,
    to_rgb_or_rgba,
    transpose,
    upright,
)
from lookalike.decode.refusals import (
    MAX_PIXELS,
    Reject,
    avif_readable,
    check_pixels,
    refusal_reason,
    sniff,
    unidentified_reason,
)
from lookalike.errors import UnreadablePhoto

__all__ = [
    "DRAFT_SLACK",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "Decoded",
    "Source",
    "decode",
    "read_header",
    "read_size",
    "register_heif",
]

log = logging.getLogger(__name__)

Source = Path | str | bytes
"""A photo file's path, or the encoded bytes of a photo (e.g. pasted from the clipboard)."""


_HEADER_LOCK = threading.Lock()
_HEIF_LOCK = threading.Lock()
_heif_registered = False

_ORIENTATION_TAG: Final = 0x0112
_PHOTO_FORMATS: Final = ("JPEG", "MPO", "PNG", "GIF", "TIFF", "WEBP", "BMP", "HEIF", "AVIF")
"""Pillow formats we open, whatever a file's name says: not EPS (runs Ghostscript), PSD, ICO..."""


IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
    | {".heic", ".heif", ".mpo"}
    | ({".avif"} if avif_readable() else set())
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


def decode(
    source: Source, max_side: int | None = None, *, exact: bool = True, bands: int = 1
) -> Decoded:
    """Decode a photo into upright 8-bit RGB, optionally shrunk.

    Args:
        source: the photo's path, or its encoded bytes (e.g. pasted from the clipboard).
        max_side: longest side of the result in pixels, or None for full size. The result's
            long side is min(max_side, the original's long side): it never enlarges a photo.
        exact: False accepts what JPEG's DCT scaling gives when that is already within
            ``DRAFT_SLACK`` of ``max_side`` (e.g. 1008 px for 1024), saving the resize that
            would enlarge it by a few percent (the embedder fits sizes to its stride anyway).
        bands: a JPEG with restart markers is decoded in up to this many bands on as many
            threads (:mod:`lookalike.decode.bands`; the same pixels): for a query, where
            nothing else runs beside the decode; 1 for indexing, whose workers fill the cores.

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
        return _decode_opened(im, orientation, max_side, exact, bands)


def read_size(source: Source) -> tuple[int, int]:
    """Read a photo's upright (width, height) in pixels from its header, without its pixels.

    The size is returned even above ``MAX_PIXELS`` (``decode`` may still refuse that photo), up
    to Pillow's backstop of 4 × ``MAX_PIXELS``.

    Raises:
        UnreadablePhoto: the header cannot be read; ``reason`` says why.
    """
    with _reading(source) as (im, orientation):
        return upright(im.size, orientation)


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
        width, height = upright(im.size, orientation)
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
            kind = sniff(fp)
            im, orientation = _open_header(fp, label)
            kind = im.format or kind
            with im:
                yield im, orientation
    except Reject as rejected:
        log.debug("%s: %s", label, rejected.reason)
        raise UnreadablePhoto(label, rejected.reason) from None
    except Exception as exc:  # hostile files make decoders raise anything; see refusal_reason
        reason = refusal_reason(exc, kind)
        log.debug("%s: %s", label, reason, exc_info=True)
        raise UnreadablePhoto(label, reason) from exc


@contextmanager
def _stream(source: Source) -> Iterator[IO[bytes]]:
    """Yield a binary stream over ``source``, refusing empty files and non-files."""
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise Reject("empty file")
        yield io.BytesIO(source)
        return
    info = os.stat(source)
    if stat.S_ISDIR(info.st_mode):
        raise Reject("is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise Reject("not a regular file")  # a FIFO or device would block or never end
    if info.st_size == 0:
        raise Reject("empty file")
    with open(source, "rb") as fp:
        yield fp


def _open_header(fp: IO[bytes], label: object) -> tuple[ImageFile.ImageFile, int]:
    """``Image.open`` plus the EXIF orientation, with warnings captured (see module docstring).

    Raises:
        Reject: Pillow does not recognise the data.
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
        raise Reject(unidentified_reason(fp))
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


def _decode_opened(
    im: ImageFile.ImageFile, orientation: int, max_side: int | None, exact: bool = True,
    bands: int = 1,
) -> Decoded:
    """Decode an opened image: size check, fast downscale (in bands on threads when it can),
    8-bit RGB, upright."""
    declared = im.size
    target = target_size(declared, max_side)
    if target != declared:
        im.draft("RGB", draft_request(declared, max(target)))
        if not exact and max(im.size) <= max(target):
            target = im.size  # DCT-scaled to within DRAFT_SLACK of the target
    check_pixels(im, declared)
    upright_size = upright(declared, orientation)
    # with nothing left to do but the turn (the query's case), the bands' threads turn them
    final = target == im.size
    banded = _in_bands(im, declared, bands, orientation if final else 1) if bands > 1 else None
    if banded is not None and final:
        return Decoded(rgb=banded, scale=max(target) / max(declared), original_size=upright_size)
    steps: tuple[Callable[[Image.Image], Image.Image], ...] = (
        to_rgb_or_rgba,
        lambda image: shrink(image, target),
        lambda image: transpose(image, orientation),
        flatten_alpha,
    )
    image: Image.Image = im if banded is None else Image.fromarray(banded)
    for step in steps:
        result = step(image)
        if result is not image:
            image.close()  # free each intermediate as soon as it is replaced: big photos
        image = result
    return Decoded(rgb=to_array(image), scale=max(target) / max(declared),
                   original_size=upright_size)  # fmt: skip


def _in_bands(
    im: ImageFile.ImageFile, declared: tuple[int, int], bands: int, orientation: int = 1
) -> npt.NDArray[np.uint8] | None:
    """The (h, w, 3) pixels of an RGB JPEG, at the scale its ``draft`` chose, decoded in bands
    on threads (:mod:`lookalike.decode.bands`) and turned by the EXIF ``orientation``; None
    when it cannot be cut (decode it whole)."""
    if im.format != "JPEG" or im.mode != "RGB" or im.fp is None:
        return None
    scale = next((s for s in (1, 2, 4, 8) if im.size == (-(-declared[0] // s),
                                                          -(-declared[1] // s))), None)  # fmt: skip
    if scale is None:
        return None
    im.fp.seek(0)
    plan = band_plan(im.fp.read(), scale, bands)
    return None if plan is None else decode_bands(plan, scale, declared[0], orientation)
