"""Why a photo is refused: the size limit (decompression-bomb guard), format sniffing, and
short reasons a user understands for whatever a decoder raised.

See :mod:`lookalike.decode.image` for the decisions behind the limits.
"""

from __future__ import annotations

from typing import IO, Final

from PIL import Image, ImageFile, features

MAX_PIXELS: Final = 120_000_000
"""Largest width × height decoded (see :mod:`lookalike.decode.image`)."""

PILLOW_PIXEL_LIMIT: Final = 4 * MAX_PIXELS
Image.MAX_IMAGE_PIXELS = PILLOW_PIXEL_LIMIT

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


def avif_readable() -> bool:
    """Whether Pillow has its AVIF plugin (Pillow >= 11.3; pillow-heif 1.x reads no AVIF)."""
    try:
        return bool(features.check_module("avif"))
    except Exception:  # unknown to an older Pillow (ValueError), or a broken optional codec
        return False


class Reject(Exception):
    """A photo is refused for ``reason``; turned into ``UnreadablePhoto`` by ``image._reading``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_pixels(im: ImageFile.ImageFile, declared: tuple[int, int]) -> None:
    """Refuse a photo above ``MAX_PIXELS``, before any pixel memory is allocated.

    A baseline JPEG counts the size its draft will decode to; anything else its declared size.

    Raises:
        Reject: too large.
    """
    scaled_by_decoder = im.format in ("JPEG", "MPO") and not im.info.get("progressive")
    width, height = im.size if scaled_by_decoder else declared
    if width * height > MAX_PIXELS:
        width, height = declared
        raise Reject(
            f"too large: {width}×{height} = {width * height / 1e6:.0f} MP "
            f"(limit {MAX_PIXELS / 1e6:.0f} MP)"
        )


def sniff(fp: IO[bytes]) -> str | None:
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


def unidentified_reason(fp: IO[bytes]) -> str:
    """Reason for data Pillow did not recognise, naming the format when the magic shows it."""
    kind = sniff(fp)
    if kind == "HEIF":
        return heif_failure(fp)
    if kind == "AVIF" and not avif_readable():
        return "AVIF photos are not supported by this installation"
    if kind is not None:
        return f"truncated or corrupt {kind} data"
    return "not an image (unrecognised format)"


def heif_failure(fp: IO[bytes]) -> str:
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


def refusal_reason(exc: Exception, kind: str | None) -> str:
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
        limit = PILLOW_PIXEL_LIMIT * (2 if isinstance(exc, Image.DecompressionBombError) else 1)
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
