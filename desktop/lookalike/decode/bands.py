"""Decode a JPEG on several cores: a baseline JPEG with restart markers is cut into bands of
whole MCU rows, each a standalone JPEG, decoded on its own thread and stacked.

Why it is exact: a restart marker resets the entropy decoder (DC predictors and bit buffer), so
the data after one decodes without what came before it; a band is the original headers with the
frame's height set to the band's rows, the entropy data between two restart markers, and an end
of image. A band starts right after the marker RST7 (one in eight markers), since a decoder
expects the first marker of a stream to be RST0. The pixels of a band are the same as those
rows of the whole decode only when no output row depends on the rows of a neighbouring band:
that holds when no colour component is upsampled vertically: libjpeg's fancy upsampling of
4:2:0 chroma blends it across rows, but a DCT-scaled decode scales chroma up in the IDCT instead
(``jpeg_calc_output_dimensions``: up to 8 x 8; 4:2:0 at 1/2, 1/4 or 1/8), and 4:4:4 and 4:2:2
(upsampled along rows only) never need it. :func:`band_plan` only cuts such files;
``tests/unit/decode/test_bands.py`` checks the bands against the whole decode.

Phone cameras write restart markers (iPhone JPEGs: one per MCU row); a JPEG without them, a
progressive one, or one whose markers do not add up is decoded whole by the caller, as before.
Pillow releases Python's lock while libjpeg decodes, so the bands run in parallel: a dragged-in
12 MP iPhone JPEG at 1/4 decodes in ~39 ms on two cores instead of ~65 ms.
"""

from __future__ import annotations

import io
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

_SOF_BASELINE: Final = (0xC0, 0xC1)
"""Huffman-coded sequential frames (baseline, extended): one pass over the pixels."""
_SOS, _DRI, _EOI, _RST0 = 0xDA, 0xDD, 0xD9, 0xD0
_MARKERS_PER_CYCLE: Final = 8
"""Restart markers count RST0..RST7 and wrap."""
MAX_IDCT: Final = 8
"""Largest scaled IDCT libjpeg gives a component before it upsamples instead."""


@dataclass(frozen=True)
class Frame:
    """What the headers of a baseline JPEG with restart markers say.

    Attributes:
        header: the file up to the end of its scan header (every segment kept).
        sof_at: offset of the frame header's marker in ``header``.
        width, height: the stored size in pixels.
        sampling: (h, v) sampling factors of each component.
        interval: MCUs per restart interval.
    """

    header: bytes
    sof_at: int
    width: int
    height: int
    sampling: tuple[tuple[int, int], ...]
    interval: int

    @property
    def mcu(self) -> tuple[int, int]:
        """(width, height) of one MCU in pixels."""
        return (8 * max(h for h, _ in self.sampling), 8 * max(v for _, v in self.sampling))

    def with_height(self, height: int) -> bytes:
        """The headers with the frame's height replaced."""
        out = bytearray(self.header)
        out[self.sof_at + 5 : self.sof_at + 7] = struct.pack(">H", height)
        return bytes(out)


def read_frame(data: bytes) -> Frame | None:
    """The frame of a baseline JPEG whose one scan holds every component and which has a
    restart interval; None for anything else (or malformed headers)."""
    at, sof, interval = 2, None, 0
    if data[:2] != b"\xff\xd8":
        return None
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        end = at + 2 + length
        if length < 2 or end > len(data):
            return None
        if marker in _SOF_BASELINE and length >= 8:
            sof = at
        elif 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return None  # progressive, lossless, arithmetic-coded...
        elif marker == _DRI and length == 4:
            (interval,) = struct.unpack(">H", data[at + 4 : at + 6])
        elif marker == _SOS:
            return _frame(data[:end], sof, interval)
        at = end
    return None


def _frame(header: bytes, sof: int | None, interval: int) -> Frame | None:
    """Check the frame and scan headers of :func:`read_frame` and build the :class:`Frame`."""
    if sof is None or interval <= 0:
        return None
    height, width, count = struct.unpack(">HHB", header[sof + 5 : sof + 10])
    if not height or not width or count < 1 or len(header) < sof + 10 + 3 * count:
        return None
    factors = [header[sof + 11 + 3 * c] for c in range(count)]
    sampling = tuple((f >> 4, f & 15) for f in factors)
    scan_count = header[header.rfind(b"\xff\xda") + 4]
    if scan_count != count or any(not 1 <= s <= 4 for pair in sampling for s in pair):
        return None  # one scan per component (a non-interleaved baseline file): not cut
    return Frame(header, sof, width, height, sampling, interval)


def restart_offsets(data: bytes, start: int) -> tuple[list[int], int] | None:
    """Offsets of the restart markers in the entropy-coded data from ``start`` up to the end
    of image, and the end of image's offset (anything after it, e.g. a phone's appended
    video, is ignored); None when another marker comes first or one is out of sequence.

    In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), 0xFF (fill), a restart
    marker, or the marker that ends the scan (one NumPy pass: ~1 ms for 4 MB).
    """
    raw = np.frombuffer(data, np.uint8)[start:]
    ff = np.flatnonzero(raw[:-1] == 0xFF)
    code = raw[ff + 1]
    restart = (code >= _RST0) & (code <= _RST0 + 7)
    other = np.flatnonzero(~restart & (code != 0x00) & (code != 0xFF))
    if not len(other) or code[other[0]] != _EOI:
        return None
    before = restart[: other[0]]
    if (code[: other[0]][before] - _RST0 != np.arange(int(before.sum())) % 8).any():
        return None
    return (ff[: other[0]][before] + start).tolist(), int(ff[other[0]]) + start


def band_plan(data: bytes, scale: int, bands: int) -> list[tuple[bytes, int]] | None:
    """The JPEG ``data`` as up to ``bands`` standalone JPEG streams of consecutive MCU rows,
    each with its height in stored pixels, to decode at 1/``scale`` (None: decode it whole).

    Args:
        data: the whole file.
        scale: the DCT scaling the whole file would be decoded at (1, 2, 4 or 8).
        bands: how many bands are wanted (the threads that decode them).
    """
    frame = read_frame(data) if bands > 1 else None
    if frame is None or not no_upsampling(frame.sampling, scale):
        return None
    (mcu_w, mcu_h), header = frame.mcu, len(frame.header)
    per_row, rows = -(-frame.width // mcu_w), -(-frame.height // mcu_h)
    found = restart_offsets(data, header)
    if found is None or len(found[0]) != -(-per_row * rows // frame.interval) - 1:
        return None
    markers, end = found
    cuts = _cuts(len(markers), frame.interval, per_row, rows, bands)
    if not cuts:
        return None
    starts = [header] + [markers[k] + 2 for k, _ in cuts]
    stops = [markers[k] for k, _ in cuts] + [end]
    edges = [0] + [row * mcu_h for _, row in cuts] + [frame.height]
    view = memoryview(data)  # each band's bytes are copied once, by the join
    return [(b"".join((frame.with_height(edges[i + 1] - edges[i]), view[a:b], b"\xff\xd9")),
             edges[i + 1] - edges[i])
            for i, (a, b) in enumerate(zip(starts, stops, strict=True))]  # fmt: skip


def no_upsampling(sampling: Sequence[tuple[int, int]], scale: int) -> bool:
    """Whether libjpeg(-turbo) decodes every component at 1/``scale`` with no vertical
    upsampling (each output row then comes from its own MCU row; a horizontal upsampling, as
    of 4:2:2 chroma, blends pixels within a row only).

    Mirrors ``jpeg_calc_output_dimensions``: a component's IDCT size starts at the scaled
    size ``8 / scale`` and doubles, up to 8, while both its sampling ratios allow it; the
    component is upsampled by what its IDCT size then lacks.
    """
    if scale not in (1, 2, 4, 8):
        return False
    least = 8 // scale
    h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)
    for h, v in sampling:
        size = least
        while size < MAX_IDCT and (h_max * least) % (h * size * 2) == 0 \
                and (v_max * least) % (v * size * 2) == 0:
            size *= 2
        if size * v != v_max * least:
            return False
    return True


def _cuts(count: int, interval: int, per_row: int, rows: int, bands: int
          ) -> list[tuple[int, int]]:  # fmt: skip
    """(marker index, MCU rows above it) of the cuts nearest to even bands, among the
    ``count`` markers: after an RST7 that ends a whole MCU row."""
    usable = [(k, (k + 1) * interval // per_row) for k in range(count)
              if (k + 1) % _MARKERS_PER_CYCLE == 0 and (k + 1) * interval % per_row == 0]
    cuts: list[tuple[int, int]] = []
    for b in range(1, bands):
        want = rows * b / bands
        best = min(usable, key=lambda u: abs(u[1] - want), default=None)
        if best is not None and 0 < best[1] < rows and (not cuts or best[1] > cuts[-1][1]):
            cuts.append(best)
    return cuts


def decode_bands(plan: Sequence[tuple[bytes, int]], scale: int, width: int,
                 orientation: int = 1) -> npt.NDArray[np.uint8] | None:  # fmt: skip
    """The (h, w, 3) RGB pixels of the bands of :func:`band_plan`, decoded at 1/``scale`` on
    one thread each, each thread writing its band into its place in the result, turned by the
    EXIF ``orientation`` (1..8) on the way (the same pixels as Pillow's ``transpose`` of the
    whole); None when a band does not decode as expected (the caller then decodes the file
    whole, which reports the problem)."""
    sizes = [(-(-width // scale), -(-height // scale)) for _, height in plan]
    tops = np.cumsum([0] + [h for _, h in sizes]).tolist()
    stored = (sizes[0][0], tops[-1])
    out = np.empty((*upright_shape(stored, orientation)[::-1], 3), np.uint8)

    def one(k: int) -> bool:
        with Image.open(io.BytesIO(plan[k][0]), formats=["JPEG"]) as im:
            im.draft("RGB", (max(1, width // scale), max(1, plan[k][1] // scale)))
            if im.mode != "RGB" or im.size != sizes[k]:
                return False
            im.load()
            place(out, np.asarray(im), tops[k], stored[1], orientation)
            return True

    # the other bands on the kept threads, the first on this one (it would only wait)
    others = [_threads(len(plan) - 1).submit(one, k) for k in range(1, len(plan))]
    done: list[bool] = []
    try:
        done.append(one(0))
    except (OSError, ValueError, SyntaxError):
        done.append(False)
    for pending in others:  # every band has finished writing into ``out`` before it returns
        try:
            done.append(pending.result())
        except (OSError, ValueError, SyntaxError):
            done.append(False)
    return out if all(done) else None


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _threads(count: int) -> ThreadPoolExecutor:
    """A thread pool of at least ``count`` threads kept for the process: starting threads for
    each query cost ~3 ms of its decode."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < count:  # a bigger one: the old one's threads end
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max(1, count), thread_name_prefix="jpeg-band")
            _pool_size = max(1, count)
        return _pool


def upright_shape(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(w, h) of a stored (w, h) image once turned by EXIF ``orientation``: 5..8 swap them."""
    return (size[1], size[0]) if orientation >= 5 else size


def place(out: npt.NDArray[np.uint8], band: npt.NDArray[np.uint8], top: int, height: int,
          orientation: int) -> None:  # fmt: skip
    """Write ``band``, the stored rows ``top`` to ``top + len(band)`` of an image ``height``
    rows high, into ``out``, the whole image turned by EXIF ``orientation``: 2 mirrors it left
    to right, 3 turns it 180°, 4 mirrors it top to bottom, 5 transposes it, 6 turns it 90°
    clockwise, 7 transposes it across the other diagonal, 8 turns it 90° anticlockwise."""
    rows = slice(top, top + len(band))
    flipped = slice(height - top - len(band), height - top)
    turned = {2: lambda: (rows, band[:, ::-1]), 3: lambda: (flipped, band[::-1, ::-1]),
              4: lambda: (flipped, band[::-1]), 5: lambda: (rows, band.transpose(1, 0, 2)),
              6: lambda: (flipped, band[::-1].transpose(1, 0, 2)),
              7: lambda: (flipped, band[::-1, ::-1].transpose(1, 0, 2)),
              8: lambda: (rows, band[:, ::-1].transpose(1, 0, 2))}  # fmt: skip
    where, pixels = turned[orientation]() if orientation in turned else (rows, band)
    if orientation >= 5:
        out[:, where] = pixels
    else:
        out[where] = pixels
