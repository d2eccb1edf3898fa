"""decode.image: photos of every kind come out upright 8-bit RGB, hostile files as UnreadablePhoto.

Every photo is generated here (in memory, written under ``tmp_path``): no file from outside the
repository, no network. PNG chunks are assembled by hand where Pillow will not write what a
hostile file holds (16-bit RGBA, an absurd declared size, a text bomb).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageOps, JpegImagePlugin, features

import lookalike
from lookalike.decode.image import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    Decoded,
    decode,
    read_size,
    register_heif,
)
from lookalike.errors import UnreadablePhoto

# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORIENTATION_TAG = 0x0112


def _pillow_has(module: str) -> bool:
    """Whether Pillow was built with an optional ``module`` (False if this Pillow never heard
    of it: ``check_module`` raises ValueError there)."""
    try:
        return bool(features.check_module(module))
    except ValueError:
        return False


AVIF_READABLE = _pillow_has("avif")

# How a camera stores an upright picture for each EXIF orientation (the inverse of what a
# reader applies); written out from the EXIF spec, not taken from the module under test.
STORED_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def picture(width: int, height: int) -> Image.Image:
    """A smooth, asymmetric RGB picture: red grows rightwards, green downwards, and the top-left
    quarter is dark, so every flip and rotation of it is different."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 64 + 96], axis=-1
    ).astype(np.uint8)
    rgb[: height // 2, : width // 2] //= 4
    return Image.fromarray(rgb)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image`` saved in ``fmt`` with Pillow, as bytes."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg(width: int, height: int, **options: Any) -> bytes:
    """A JPEG of :func:`picture` (quality 95 unless given)."""
    options.setdefault("quality", 95)
    return encode(picture(width, height), "JPEG", **options)


def jpeg_with_orientation(orientation: int, width: int = 96, height: int = 64) -> bytes:
    """A JPEG whose pixels are the upright ``picture(width, height)`` stored the way a camera
    stores it for ``orientation``, with the matching EXIF tag."""
    stored = picture(width, height)
    transpose = STORED_FOR_ORIENTATION[orientation]
    if transpose is not None:
        stored = stored.transpose(transpose)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif)


def with_app1(jpeg_bytes: bytes, payload: bytes) -> bytes:
    """``jpeg_bytes`` with an APP1 (EXIF) segment holding ``payload`` inserted after SOI."""
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg_bytes[:2] + segment + jpeg_bytes[2:]


def tiff_ifd(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A big-endian TIFF header and one IFD of (tag, type, count, 4-byte value) entries."""
    body = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack(">HHI", tag, kind, count) + value
    return body + b"\x00\x00\x00\x00"


def patch_jpeg_size(jpeg_bytes: bytes, width: int, height: int) -> bytes:
    """``jpeg_bytes`` with the size in its SOF0/SOF2 header replaced (the data stays small)."""
    data = bytearray(jpeg_bytes)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise AssertionError("no SOF0/SOF2 marker")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and a correct CRC."""
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(
    width: int,
    height: int,
    rows: bytes,
    *,
    bit_depth: int = 8,
    colour_type: int = 2,
    extra: bytes = b"",
    idat: bytes | None = None,
) -> bytes:
    """A PNG assembled by hand: IHDR, ``extra`` chunks, one IDAT of ``rows`` (already filtered,
    i.e. each row starts with its filter byte) unless ``idat`` gives the raw IDAT payload."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    payload = zlib.compress(rows) if idat is None else idat
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + extra
        + png_chunk(b"IDAT", payload)
        + png_chunk(b"IEND", b"")
    )


def png_rows(pixels: npt.NDArray[Any]) -> bytes:
    """(H, W, C) pixels as PNG scanlines with filter type 0; uint16 is written big-endian."""
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2")
    height = pixels.shape[0]
    flat = pixels.reshape(height, -1).view(np.uint8)
    return b"".join(b"\x00" + row.tobytes() for row in flat)


def png_ihdr_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that declares ``width`` × ``height`` RGB pixels and holds one row of data."""
    return png(width, height, b"\x00" * (3 * width + 1), colour_type=2)


def png_text_bomb() -> bytes:
    """A 1×1 PNG with a zTXt chunk that inflates to 64 MB (a few KB on disk)."""
    text = b"bomb\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    return png(1, 1, b"\x00\x00", colour_type=0, extra=png_chunk(b"zTXt", text))


def heif(image: Image.Image, **options: Any) -> bytes:
    """``image`` encoded as HEIF with pillow-heif, or skip the test if it cannot encode here."""
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here")
    pillow_heif.register_heif_opener()
    return encode(image, "HEIF", quality=90, **options)


def heif_10bit(width: int, height: int) -> bytes:
    """A 10-bit HEIF of :func:`picture` (pillow-heif stores 16-bit input at 10 bits)."""
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here")
    rgb16 = np.asarray(picture(width, height)).astype(np.uint16) * 257
    heif_file = pillow_heif.from_bytes(mode="RGB;16", size=(width, height), data=rgb16.tobytes())
    out = io.BytesIO()
    heif_file.save(out, quality=90)
    return out.getvalue()


def patch_heif_size(heif_bytes: bytes, width: int, height: int) -> bytes:
    """``heif_bytes`` with the size in its (first) ``ispe`` box replaced."""
    at = heif_bytes.find(b"ispe")
    assert at > 0, "no ispe box"
    start = at + 8  # 'ispe' + version/flags
    return heif_bytes[:start] + struct.pack(">II", width, height) + heif_bytes[start + 8 :]


def pixels(width: int, height: int, value: tuple[int, ...], dtype: Any = np.uint8) -> Any:
    """(height, width, len(value)) array filled with ``value``."""
    return np.tile(np.array(value, dtype=dtype), (height, width, 1))


def halves(left: tuple[int, ...], right: tuple[int, ...], dtype: Any = np.uint8) -> Any:
    """A 16×8 pixel array whose left half is ``left`` and right half ``right``."""
    return np.concatenate([pixels(8, 8, left, dtype), pixels(8, 8, right, dtype)], axis=1)


def mode_image(mode: str, value: Any, **save: Any) -> Callable[[], bytes]:
    """Builder: a 16×8 image of one ``value`` in Pillow ``mode``, saved as ``save["format"]``."""
    fmt = save.pop("format")
    return lambda: encode(Image.new(mode, (16, 8), value), fmt, **save)


def palette_halves(fmt: str) -> bytes:
    """16×8 palette image: left half index 0 (transparent), right half index 1 (red)."""
    image = Image.new("P", (16, 8), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.paste(1, (8, 0, 16, 8))
    return encode(image, fmt, transparency=0)


def frames(fmt: str) -> bytes:
    """Two 16×8 frames, red then blue, in a multi-frame ``fmt`` (first frame is red)."""
    red, blue = Image.new("RGB", (16, 8), (255, 0, 0)), Image.new("RGB", (16, 8), (0, 0, 255))
    return encode(red, fmt, save_all=True, append_images=[blue])


def rgba16_png() -> bytes:
    """16-bit RGBA PNG: left half transparent black, right half opaque red."""
    rgba = halves((0, 0, 0, 0), (65535, 0, 0, 65535), np.uint16)
    return png(16, 8, png_rows(rgba), bit_depth=16, colour_type=6)


def grey16_png() -> bytes:
    """16-bit grey PNG (Pillow mode I;16): left half 0x8000, right half 0xFFFF."""
    grey = halves((0x8000,), (0xFFFF,), np.uint16)
    return png(16, 8, png_rows(grey), bit_depth=16, colour_type=0)


def la_png() -> bytes:
    """Grey + alpha PNG: left half transparent black, right half opaque black."""
    return encode(Image.fromarray(halves((0, 0), (0, 255))), "PNG")  # (H, W, 2) → LA


def heif_halves() -> bytes:
    """8-bit HEIF, 64×64: left half red, right half blue."""
    red_blue = np.concatenate([pixels(32, 64, (255, 0, 0)), pixels(32, 64, (0, 0, 255))], axis=1)
    return heif(Image.fromarray(red_blue))


def heif_rgba() -> bytes:
    """8-bit HEIF with alpha, 64×64: left half transparent, right half opaque blue."""
    rgba = np.concatenate(
        [pixels(32, 64, (255, 0, 0, 0)), pixels(32, 64, (0, 0, 255, 255))], axis=1
    )
    return heif(Image.fromarray(rgba))


def corrupt_exif(payload: bytes) -> Callable[[], bytes]:
    """Builder: a 96×64 JPEG with an APP1 segment ``b"Exif\\0\\0" + payload``."""
    return lambda: with_app1(jpeg(96, 64), b"Exif\x00\x00" + payload)


def cut(build: Callable[[], bytes], keep: float) -> Callable[[], bytes]:
    """Builder: the first ``keep`` fraction of what ``build`` makes."""
    return lambda: (data := build())[: int(len(data) * keep)]


# ---------------------------------------------------------------------------------------------
# Hostile and unusual files: decoded size, or a fragment of the reason
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One file: its name, how to make it, and what ``decode`` must do with it.

    Attributes:
        name: file name under ``tmp_path`` (the suffix matters to no one but the reader).
        build: makes the file's bytes.
        expect: the decoded upright (width, height), or a fragment of the ``UnreadablePhoto``
            reason.
    """

    name: str
    build: Callable[[], bytes]
    expect: tuple[int, int] | str


CASES = [
    # broken or not a photo at all
    Case("zero_bytes.jpg", lambda: b"", "empty file"),
    Case("not_an_image.jpg", lambda: b"just some text, not a photo\n", "not an image"),
    Case("truncated.jpg", cut(lambda: jpeg(320, 240), 0.5), "truncated or corrupt JPEG data"),
    Case("jpeg_header_only.jpg", cut(lambda: jpeg(320, 240), 0.02), "JPEG"),
    Case(
        "truncated.png",
        cut(lambda: encode(picture(320, 240), "PNG"), 0.5),
        "truncated or corrupt PNG data",
    ),
    Case(
        "broken_data_stream.png",  # IDAT is not zlib, CRC is right
        lambda: png(32, 32, b"", idat=b"\x78\x9c" + b"\xff\x00" * 100),
        "truncated or corrupt PNG data",
    ),
    Case(
        "broken_header.png",
        lambda: PNG_SIGNATURE + bytes(range(7, 250, 3)),
        "truncated or corrupt PNG data",
    ),
    Case("truncated.heic", cut(heif_halves, 0.8), "HEIF decoding failed"),
    Case("header_only.heic", cut(heif_halves, 0.2), "HEIF decoding failed"),
    Case(
        "corrupt.heic",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x5a" * 300,
        "HEIF decoding failed",
    ),
    # formats no photo library needs, whatever the name says (EPS would run Ghostscript)
    Case("eps_named.jpg", lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n", "not an"),
    Case("icon_named.jpg", lambda: encode(picture(32, 32), "ICO"), "not an image"),
    # decompression bombs
    Case("ihdr_400mp.png", lambda: png_ihdr_bomb(20000, 20000), "too large: 20000×20000 = 400 MP"),
    Case("ihdr_10gp.png", lambda: png_ihdr_bomb(100000, 100000), "too large"),
    Case("text_bomb.png", png_text_bomb, "too large"),
    Case(
        "declared_200mp.heic",
        lambda: patch_heif_size(heif(picture(64, 64)), 12240, 16320),
        "too large: 12240×16320 = 200 MP (limit 120 MP)",
    ),
    Case(
        "declared_300mp.jpg",
        lambda: patch_jpeg_size(jpeg(64, 48), 20000, 15000),
        "too large: 20000×15000 = 300 MP",
    ),
    Case("declared_600mp.jpg", lambda: patch_jpeg_size(jpeg(64, 48), 30000, 20000), "too large"),
    # corrupt EXIF: read the photo, ignore the orientation
    Case("exif_garbage.jpg", corrupt_exif(b"\x12\x34 not a TIFF header at all"), (96, 64)),
    Case("exif_truncated.jpg", corrupt_exif(b"MM\x00"), (96, 64)),
    Case("exif_bad_ifd_offset.jpg", corrupt_exif(b"MM\x00\x2a\x7f\xff\xff\xff"), (96, 64)),
    Case("exif_ifd_past_end.jpg", corrupt_exif(b"MM\x00\x2a\x00\x00\x00\x08\xff\xff"), (96, 64)),
    Case(
        "exif_value_outside_block.jpg",
        corrupt_exif(tiff_ifd([(ORIENTATION_TAG, 3, 4, b"\x7f\x00\x00\x00")])),
        (96, 64),
    ),
    Case(
        "exif_orientation_9.jpg",
        corrupt_exif(tiff_ifd([(ORIENTATION_TAG, 3, 1, b"\x00\x09\x00\x00")])),
        (96, 64),
    ),
    Case(
        "exif_orientation_text.jpg",
        corrupt_exif(tiff_ifd([(ORIENTATION_TAG, 2, 4, b"six\x00")])),
        (96, 64),
    ),
    Case(
        "exif_orientation_6_bad_subifd.jpg",  # IFD0 is readable: its orientation still counts
        corrupt_exif(
            tiff_ifd([(ORIENTATION_TAG, 3, 1, b"\x00\x06\x00\x00"), (0x8769, 4, 1, b"\x7f" * 4)])
        ),
        (64, 96),
    ),
    # unusual but valid
    Case("cmyk.jpg", mode_image("CMYK", (0, 255, 255, 0), format="JPEG"), (16, 8)),
    Case("rgba16.png", rgba16_png, (16, 8)),
    Case("grey16.png", grey16_png, (16, 8)),
    Case("la.png", la_png, (16, 8)),
    Case("palette_transparent.gif", lambda: palette_halves("GIF"), (16, 8)),
    Case("palette_trns.png", lambda: palette_halves("PNG"), (16, 8)),
    Case("one_bit.png", mode_image("1", 1, format="PNG"), (16, 8)),
    Case("float.tif", mode_image("F", 0.5, format="TIFF"), (16, 8)),
    Case("int32.tif", mode_image("I", 1 << 20, format="TIFF"), (16, 8)),
    Case("grey_transparent.png", mode_image("L", 0, format="PNG", transparency=0), (16, 8)),
    Case("animated.gif", lambda: frames("GIF"), (16, 8)),
    Case("multi_frame.tif", lambda: frames("TIFF"), (16, 8)),
    Case("multi_picture.mpo", lambda: frames("MPO"), (16, 8)),
    Case("lossless.webp", mode_image("RGB", (255, 0, 0), format="WEBP", lossless=True), (16, 8)),
    Case("plain.bmp", mode_image("RGB", (255, 0, 0), format="BMP"), (16, 8)),
    Case("8bit.heic", heif_halves, (64, 64)),
    Case("alpha.heic", heif_rgba, (64, 64)),
    Case("10bit.heif", lambda: heif_10bit(96, 64), (96, 64)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_files_decode_or_say_why(tmp_path: Path, case: Case) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.build())
    if isinstance(case.expect, str):
        with pytest.raises(UnreadablePhoto) as caught:
            decode(path)
        assert case.expect in caught.value.reason
        assert caught.value.path == path
    else:
        decoded = decode(path)
        assert decoded.rgb.shape == (case.expect[1], case.expect[0], 3)
        assert decoded.rgb.dtype == np.uint8
        assert decoded.rgb.flags.c_contiguous
        assert decoded.original_size == case.expect
        assert decoded.scale == 1.0


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_warning_escapes(tmp_path: Path, case: Case) -> None:
    """Warnings (corrupt EXIF chatter, DecompressionBombWarning) are handled inside decode."""
    path = tmp_path / case.name
    path.write_bytes(case.build())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(UnreadablePhoto):
            decode(path, max_side=64)
    assert [str(w.message) for w in caught] == []


# (file name, builder, [((x, y), expected RGB)]): colours after conversion and compositing
WHITE, RED, BLUE, BLACK = (255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)
COLOUR_CASES = [
    ("cmyk_adobe.jpg", mode_image("CMYK", (0, 255, 255, 0), format="JPEG"), [((4, 4), RED)]),
    ("rgba16.png", rgba16_png, [((2, 2), WHITE), ((12, 2), RED)]),
    ("grey16.png", grey16_png, [((2, 2), (128, 128, 128)), ((12, 2), WHITE)]),
    ("la.png", la_png, [((2, 2), WHITE), ((12, 2), BLACK)]),
    ("palette.gif", lambda: palette_halves("GIF"), [((2, 2), WHITE), ((12, 2), RED)]),
    ("palette.png", lambda: palette_halves("PNG"), [((2, 2), WHITE), ((12, 2), RED)]),
    ("one_bit.png", mode_image("1", 1, format="PNG"), [((2, 2), WHITE)]),
    ("float.tif", mode_image("F", 0.5, format="TIFF"), [((2, 2), (128, 128, 128))]),
    ("grey_trns.png", mode_image("L", 0, format="PNG", transparency=0), [((2, 2), WHITE)]),
    ("animated.gif", lambda: frames("GIF"), [((2, 2), RED)]),
    ("multi_frame.tif", lambda: frames("TIFF"), [((2, 2), RED)]),
    ("multi_picture.mpo", lambda: frames("MPO"), [((2, 2), RED)]),
    ("8bit.heic", heif_halves, [((8, 32), RED), ((56, 32), BLUE)]),
    ("alpha.heic", heif_rgba, [((8, 32), WHITE), ((56, 32), BLUE)]),
]


@pytest.mark.parametrize(
    ("name", "build", "expected"), COLOUR_CASES, ids=[name for name, _, _ in COLOUR_CASES]
)
def test_colours_survive_conversion(
    tmp_path: Path,
    name: str,
    build: Callable[[], bytes],
    expected: list[tuple[tuple[int, int], tuple[int, int, int]]],
) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    rgb = decode(path).rgb
    for (x, y), colour in expected:
        assert np.abs(rgb[y, x].astype(int) - colour).max() <= 40, (x, y, rgb[y, x], colour)


def test_pillow_writes_adobe_inverted_cmyk() -> None:
    """The CMYK JPEG above is the Adobe (inverted) kind Photoshop writes, not plain CMYK."""
    data = mode_image("CMYK", (0, 255, 255, 0), format="JPEG")()
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "CMYK"
        assert "adobe" in image.info


def test_10bit_heif_really_is_10_bit() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    data = heif_10bit(96, 64)
    assert pillow_heif.open_heif(io.BytesIO(data)).info["bit_depth"] == 10
    upright = np.asarray(picture(96, 64), dtype=int)
    assert np.abs(decode(data).rgb.astype(int) - upright).mean() < 6


# ---------------------------------------------------------------------------------------------
# EXIF orientation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_decodes_upright(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"orientation_{orientation}.jpg"
    path.write_bytes(jpeg_with_orientation(orientation))
    decoded = decode(path)
    upright = np.asarray(picture(96, 64), dtype=int)
    assert decoded.rgb.shape == (64, 96, 3)
    assert decoded.original_size == (96, 64)
    assert read_size(path) == (96, 64)
    assert np.abs(decoded.rgb.astype(int) - upright).mean() < 3
    with Image.open(path) as image:  # Pillow's own reading of the tag agrees
        oracle = np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=int)
    assert np.abs(decoded.rgb.astype(int) - oracle).max() <= 1


def test_all_orientations_decode_to_the_same_picture(tmp_path: Path) -> None:
    decoded = [decode(jpeg_with_orientation(o)).rgb.astype(int) for o in range(1, 9)]
    for other in decoded[1:]:
        assert np.abs(other - decoded[0]).mean() < 3


def oriented(fmt: str, orientation: int) -> bytes:
    """``picture(96, 64)`` stored for ``orientation`` in ``fmt``, with the EXIF tag."""
    transpose = STORED_FOR_ORIENTATION[orientation]
    stored = picture(96, 64) if transpose is None else picture(96, 64).transpose(transpose)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    if fmt == "HEIF":
        return heif(stored, exif=exif.tobytes())  # pillow-heif turns the tag into irot/imir
    if fmt == "AVIF" and not AVIF_READABLE:
        pytest.skip("this Pillow cannot write AVIF")
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt != "PNG" else {}
    return encode(stored, fmt, exif=exif.tobytes(), **options)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "MPO", "HEIF", "AVIF"])
@pytest.mark.parametrize("orientation", [3, 5, 6])
def test_orientation_is_applied_exactly_once_in_every_format(fmt: str, orientation: int) -> None:
    """JPEG, PNG, WebP and MPO leave the tag to us; Pillow's TIFF reader and libheif turn the
    pixels themselves; Pillow's AVIF reader maps irot/imir to the tag. Upright either way."""
    data = oriented(fmt, orientation)
    decoded = decode(data)
    assert decoded.rgb.shape == (64, 96, 3)
    assert read_size(data) == decoded.original_size == (96, 64)
    assert np.abs(decoded.rgb.astype(int) - np.asarray(picture(96, 64), dtype=int)).mean() < 4


@pytest.mark.parametrize("compression", [None, "tiff_lzw", "jpeg"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_tiff_orientation_is_applied_once(orientation: int, compression: str | None) -> None:
    """Pillow's TIFF reader turns the pixels itself; decode must not turn them again."""
    transpose = STORED_FOR_ORIENTATION[orientation]
    assert transpose is not None
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    options: dict[str, Any] = {"exif": exif}
    if compression:
        options["compression"] = compression
    data = encode(picture(96, 64).transpose(transpose), "TIFF", **options)
    decoded = decode(data)
    assert decoded.rgb.shape == (64, 96, 3)
    assert read_size(data) == decoded.original_size == (96, 64)
    assert np.abs(decoded.rgb.astype(int) - np.asarray(picture(96, 64), dtype=int)).mean() < 3


def test_heif_orientation_is_applied_once() -> None:
    """libheif rotates HEIF itself (irot/imir); the EXIF tag must not rotate it again."""
    stored = picture(64, 128).transpose(Image.Transpose.ROTATE_90)  # 128×64 on disk
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    data = heif(stored, exif=exif.tobytes())  # pillow-heif writes an irot box and the tag
    assert b"irot" in data
    decoded = decode(data)
    assert decoded.rgb.shape == (128, 64, 3)
    assert np.abs(decoded.rgb.astype(int) - np.asarray(picture(64, 128), dtype=int)).mean() < 8


# ---------------------------------------------------------------------------------------------
# max_side, draft and scale
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def draft_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Spy on JPEG ``draft``: records (size asked for, image size right after the draft)."""
    calls: list[tuple[tuple[int, int], tuple[int, int]]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: Any) -> Any:
        result = real_draft(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return calls


def test_4000x3000_jpeg_at_1024_uses_quarter_scale_draft(
    tmp_path: Path, draft_calls: list[tuple[tuple[int, int], tuple[int, int]]]
) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg(4000, 3000, quality=80))
    decoded = decode(path, max_side=1024)
    assert decoded.rgb.shape == (768, 1024, 3)
    assert decoded.scale == pytest.approx(0.256)
    assert decoded.original_size == (4000, 3000)
    assert len(draft_calls) == 1
    assert draft_calls[0][1] == (1000, 750)  # libjpeg decodes at 1/4, not 1/2


def test_inexact_decode_keeps_the_dct_scaled_size_instead_of_enlarging(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg(4032, 3024, quality=80))
    inexact = decode(path, max_side=1024, exact=False)
    assert inexact.rgb.shape == (756, 1008, 3)  # 1/4 scale, not enlarged to 1024
    assert inexact.scale == pytest.approx(0.25)
    small = tmp_path / "small.jpg"
    small.write_bytes(jpeg(3072, 2048, quality=80))  # 1/2 draft is larger: still shrunk
    assert decode(small, max_side=1024, exact=False).rgb.shape == (683, 1024, 3)


@pytest.mark.parametrize(
    ("size", "max_side", "draft_size", "result"),
    [
        ((4032, 3024), 1024, (1008, 756), (1024, 768)),  # 1/4 then +1.6 %
        ((3072, 2048), 1024, (1536, 1024), (1024, 683)),  # 1/4 would be 768 < 0.9 × 1024
        ((2048, 1536), 256, (256, 192), (256, 192)),  # exactly 1/8
        ((1600, 1200), 1000, (1600, 1200), (1000, 750)),  # no DCT scale fits: full size
        ((1200, 1600), 300, (300, 400), (225, 300)),  # portrait; 1/8 (150×200) is too small
    ],
)
def test_draft_never_goes_below_nine_tenths_of_the_target(
    tmp_path: Path,
    draft_calls: list[tuple[tuple[int, int], tuple[int, int]]],
    size: tuple[int, int],
    max_side: int,
    draft_size: tuple[int, int],
    result: tuple[int, int],
) -> None:
    decoded = decode(jpeg(*size, quality=70), max_side=max_side)
    assert draft_calls[0][1] == draft_size
    assert max(draft_size) >= 0.9 * max_side
    assert decoded.rgb.shape[1::-1] == result
    assert decoded.scale == pytest.approx(max_side / max(size))


@pytest.mark.parametrize(
    ("fmt", "size", "max_side", "result"),
    [
        ("JPEG", (200, 100), 1024, (200, 100)),  # never enlarged
        ("JPEG", (200, 100), 200, (200, 100)),
        ("PNG", (1000, 500), 300, (300, 150)),
        ("PNG", (500, 1000), 300, (150, 300)),
        ("WEBP", (999, 333), 100, (100, 33)),
        ("PNG", (3000, 7), 1000, (1000, 2)),
        ("PNG", (5000, 1), 100, (100, 1)),  # the short side never reaches 0
    ],
)
def test_max_side_bounds_the_long_side(
    fmt: str, size: tuple[int, int], max_side: int, result: tuple[int, int]
) -> None:
    decoded = decode(encode(picture(*size), fmt), max_side=max_side)
    assert decoded.rgb.shape == (result[1], result[0], 3)
    assert max(result) == min(max_side, max(size))
    assert decoded.scale == pytest.approx(max(result) / max(size))
    assert decoded.scale <= 1.0
    assert decoded.original_size == size


def test_max_side_applies_to_the_upright_photo(tmp_path: Path) -> None:
    path = tmp_path / "portrait.jpg"
    path.write_bytes(jpeg_with_orientation(6, width=300, height=400))  # stored 400×300
    decoded = decode(path, max_side=200)
    assert decoded.rgb.shape == (200, 150, 3)
    assert decoded.original_size == (300, 400)
    assert decoded.scale == pytest.approx(0.5)
    small = np.asarray(picture(300, 400).resize((150, 200), Image.Resampling.BOX), dtype=int)
    assert np.abs(decoded.rgb.astype(int) - small).mean() < 6


def test_shrunk_heif_matches_a_reference_resize() -> None:
    big = picture(256, 128)
    decoded = decode(heif(big), max_side=64)
    assert decoded.rgb.shape == (32, 64, 3)
    reference = np.asarray(big.resize((64, 32), Image.Resampling.BOX), dtype=int)
    assert np.abs(decoded.rgb.astype(int) - reference).mean() < 8


@pytest.mark.parametrize("max_side", [0, -5])
def test_max_side_below_one_is_a_programming_error(max_side: int) -> None:
    with pytest.raises(ValueError, match="max_side"):
        decode(jpeg(16, 16), max_side=max_side)


def test_huge_baseline_jpeg_decodes_through_draft_when_shrunk() -> None:
    """Declared 300 MP: refused at full size, decoded at 1/8 (memory follows the draft)."""
    data = patch_jpeg_size(jpeg(64, 48), 20000, 15000)
    decoded = decode(data, max_side=1024)
    assert decoded.rgb.shape == (768, 1024, 3)
    assert decoded.original_size == (20000, 15000)


def test_huge_progressive_jpeg_is_refused_even_when_shrunk() -> None:
    """Progressive JPEGs keep all coefficients of the full image, so DCT scaling saves nothing."""
    data = patch_jpeg_size(jpeg(64, 48, progressive=True), 20000, 15000)
    with pytest.raises(UnreadablePhoto, match="too large: 20000×15000 = 300 MP"):
        decode(data, max_side=1024)


# ---------------------------------------------------------------------------------------------
# Sources: bytes, str, missing files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [lambda: jpeg_with_orientation(8), lambda: encode(picture(40, 30), "PNG"), heif_halves],
    ids=["jpeg", "png", "heif"],
)
def test_bytes_decode_like_the_file(tmp_path: Path, build: Callable[[], bytes]) -> None:
    data = build()
    path = tmp_path / "photo"
    path.write_bytes(data)
    for max_side in (None, 20):
        from_path, from_bytes, from_str = (
            decode(path, max_side),
            decode(data, max_side),
            decode(str(path), max_side),
        )
        assert np.array_equal(from_path.rgb, from_bytes.rgb)
        assert np.array_equal(from_path.rgb, from_str.rgb)
        assert from_path.scale == from_bytes.scale
        assert from_path.original_size == from_bytes.original_size == read_size(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty file"), (b"hello", "not an image"), (png_ihdr_bomb(20000, 20000), "too large")],
)
def test_bad_bytes_are_reported_as_bytes(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadablePhoto) as caught:
        decode(data)
    assert caught.value.path == "<bytes>"
    assert reason in caught.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadablePhoto, match="file not found"):
        decode(tmp_path / "gone.jpg")


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(UnreadablePhoto, match="folder"):
        decode(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(UnreadablePhoto, match="not a regular file"):
        decode(fifo)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.jpg"
    path.write_bytes(jpeg(16, 16))
    path.chmod(0)
    try:
        with pytest.raises(UnreadablePhoto, match="permission denied"):
            decode(path)
    finally:
        path.chmod(0o600)


# ---------------------------------------------------------------------------------------------
# read_size, Decoded, IMAGE_SUFFIXES, register_heif
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "size"),
    [
        (lambda: jpeg_with_orientation(6, width=30, height=20), (30, 20)),
        (lambda: jpeg_with_orientation(3, width=30, height=20), (30, 20)),
        (lambda: png_ihdr_bomb(20000, 20000), (20000, 20000)),  # no pixels are touched
        (lambda: patch_heif_size(heif(picture(64, 64)), 12240, 16320), (12240, 16320)),
    ],
    ids=["jpeg_orientation_6", "jpeg_orientation_3", "png_400mp", "heif_200mp"],
)
def test_read_size_reads_the_upright_header(
    build: Callable[[], bytes], size: tuple[int, int]
) -> None:
    assert read_size(build()) == size


def test_read_size_refuses_what_is_not_a_photo(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("hello")
    with pytest.raises(UnreadablePhoto, match="not an image"):
        read_size(path)


def test_decoded_result_is_a_plain_writable_array() -> None:
    decoded = decode(jpeg(40, 30))
    assert isinstance(decoded.rgb, np.ndarray)
    assert decoded.rgb.flags.writeable
    decoded.rgb[0, 0] = 0  # callers may draw on it without copying


@pytest.mark.parametrize(
    ("rgb", "scale"),
    [
        (np.zeros((4, 4), np.uint8), 1.0),
        (np.zeros((4, 4, 3), np.float32), 1.0),
        (np.zeros((4, 4, 3), np.uint8)[:, ::2], 1.0),
        (np.zeros((4, 4, 3), np.uint8), 1.5),
        (np.zeros((4, 4, 3), np.uint8), 0.0),
    ],
)
def test_decoded_checks_its_invariants(rgb: npt.NDArray[Any], scale: float) -> None:
    with pytest.raises(ValueError):
        Decoded(rgb=rgb, scale=scale, original_size=(4, 4))


def test_image_suffixes() -> None:
    required = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
    assert required | {".heic", ".heif", ".mpo"} <= IMAGE_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in IMAGE_SUFFIXES)
    assert (".avif" in IMAGE_SUFFIXES) == AVIF_READABLE


@pytest.mark.skipif(not AVIF_READABLE, reason="this Pillow cannot read AVIF")
def test_avif_decodes_when_listed() -> None:
    decoded = decode(encode(picture(64, 48), "AVIF", quality=90))
    assert decoded.rgb.shape == (48, 64, 3)


def test_register_heif_is_idempotent() -> None:
    pytest.importorskip("pillow_heif")
    register_heif()
    register_heif()
    assert "HEIF" in Image.OPEN
    assert Image.registered_extensions()[".heic"] == "HEIF"


def test_max_pixels_is_documented_value() -> None:
    assert MAX_PIXELS == 120_000_000
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS >= MAX_PIXELS  # Pillow never warns below our own limit


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------


def test_concurrent_decodes_match_sequential_ones() -> None:
    sources: list[bytes] = [
        jpeg(640, 480),
        jpeg_with_orientation(6),
        with_app1(jpeg(96, 64), b"Exif\x00\x00MM\x00\x2a\x7f\xff\xff\xff"),  # warns inside Pillow
        patch_jpeg_size(jpeg(64, 48), 30000, 20000),  # DecompressionBombWarning inside Pillow
        png_text_bomb(),
        cut(lambda: jpeg(320, 240), 0.5)(),
        b"not a photo",
        rgba16_png(),
    ]

    def outcome(data: bytes) -> tuple[str, bytes]:
        try:
            decoded = decode(data, max_side=300)
        except UnreadablePhoto as error:
            return error.reason, b""
        return "ok", decoded.rgb.tobytes()

    expected = [outcome(data) for data in sources]
    filters_before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(outcome, sources * 6))
    assert results == expected * 6
    assert warnings.filters == filters_before


# ---------------------------------------------------------------------------------------------
# Memory: bombs are refused before their pixels are allocated
# ---------------------------------------------------------------------------------------------

_CHILD = """
import json, sys
from pathlib import Path
from lookalike.decode.image import decode, register_heif
from lookalike.errors import UnreadablePhoto

def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit("no " + field)

register_heif()
try:
    Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from the current RSS
except OSError:
    pass
before = status_kib("VmRSS")
try:
    result = decode(sys.argv[1], None if sys.argv[2] == "none" else int(sys.argv[2]))
    outcome = "ok %dx%d" % result.rgb.shape[1::-1]
except UnreadablePhoto as error:
    outcome = "unreadable: " + error.reason
print(json.dumps({"outcome": outcome, "growth_kib": status_kib("VmHWM") - before}))
"""


@dataclass(frozen=True)
class MemoryCase:
    """A file decoded in a child process, and the bounds on its peak memory growth (MiB)."""

    name: str
    build: Callable[[], bytes]
    max_side: int | None
    outcome: str
    ceiling_mib: int
    floor_mib: int = 0


MEMORY_CASES = [
    # Naive decoders would allocate 1.6 GB, 40 GB, 64 MB of text, 0.8 GB and 1.2 GB here.
    MemoryCase("ihdr_400mp.png", lambda: png_ihdr_bomb(20000, 20000), None, "unreadable", 64),
    MemoryCase("ihdr_10gp.png", lambda: png_ihdr_bomb(100000, 100000), 1024, "unreadable", 64),
    MemoryCase("text_bomb.png", png_text_bomb, 1024, "unreadable: too large", 64),
    MemoryCase(
        "declared_200mp.heic",
        lambda: patch_heif_size(heif(picture(64, 64)), 12240, 16320),
        1024,
        "unreadable: too large: 12240×16320",
        64,
    ),
    MemoryCase(
        "declared_300mp.jpg",
        lambda: patch_jpeg_size(jpeg(64, 48), 20000, 15000),
        None,
        "unreadable: too large: 20000×15000",
        64,
    ),
    # Allowed through draft: libjpeg decodes it at 1/8 (2500×1875), not at 300 MP.
    MemoryCase(
        "declared_300mp_shrunk.jpg",
        lambda: patch_jpeg_size(jpeg(64, 48), 20000, 15000),
        1024,
        "ok 1024x768",
        256,
    ),
    # Control: a real 24 MP photo at full size must show up, or the probe measures nothing.
    MemoryCase("control_24mp.jpg", lambda: jpeg(6000, 4000), None, "ok 6000x4000", 1024, 100),
]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("case", MEMORY_CASES, ids=[case.name for case in MEMORY_CASES])
def test_bombs_stay_under_1_gb(tmp_path: Path, case: MemoryCase) -> None:
    """Peak RSS growth of a fresh process decoding one file (VmHWM after - VmRSS before)."""
    path = tmp_path / case.name
    path.write_bytes(case.build())
    desktop = str(Path(lookalike.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([desktop, os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(case.max_side).lower()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["outcome"].startswith(case.outcome)
    growth_mib = report["growth_kib"] / 1024
    assert case.floor_mib <= growth_mib < min(case.ceiling_mib, 1024), report
