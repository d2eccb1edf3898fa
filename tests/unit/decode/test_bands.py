"""decode.bands: a JPEG with restart markers decoded in bands on threads gives exactly the
pixels of the whole decode, and every file that cannot be cut that way is decoded whole.

The photos are made here with Pillow (``restart_marker_rows`` writes restart markers as phone
cameras do); their content is smooth gradients plus noise, so that chroma differs from row to
row and a band edge decoded differently would show.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from lookalike.decode import bands
from lookalike.decode.bands import band_plan, no_upsampling, read_frame, restart_offsets
from lookalike.decode.image import decode
from lookalike.errors import UnreadablePhoto

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def photo(width: int, height: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """(h, w, 3) uint8: colour gradients with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 37 + y / 23)], -1)
    rgb += rng.normal(0, 25, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def jpeg(rgb: npt.NDArray[np.uint8], subsampling: str = "4:2:0", rows: int = 1,
         orientation: int = 1, **options: object) -> bytes:  # fmt: skip
    """JPEG bytes with a restart marker every ``rows`` MCU rows (0: none)."""
    out = io.BytesIO()
    im = Image.fromarray(rgb)
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if rows:
        options["restart_marker_rows"] = rows
    im.save(out, "JPEG", quality=90, subsampling=SUBSAMPLING[subsampling], **options)
    return out.getvalue()


@pytest.mark.parametrize("subsampling", list(SUBSAMPLING))
@pytest.mark.parametrize("max_side", [None, 900, 500, 260])
@pytest.mark.parametrize("size", [(1600, 1200), (1203, 901)])
def test_bands_give_the_whole_decodes_pixels(tmp_path: Path, subsampling: str,
                                             max_side: int | None, size: tuple[int, int]
                                             ) -> None:  # fmt: skip
    data = jpeg(photo(*size), subsampling)
    path = tmp_path / "p.jpg"
    path.write_bytes(data)
    whole = decode(path, max_side, exact=False)
    for count in (2, 3):
        cut = decode(path, max_side, exact=False, bands=count)
        assert cut.rgb.shape == whole.rgb.shape and cut.scale == whole.scale
        assert np.array_equal(cut.rgb, whole.rgb)
    scale = round(max(size) / max(whole.rgb.shape[:2]))
    expected = no_upsampling(read_frame(data).sampling, scale)  # type: ignore[union-attr]
    assert (band_plan(data, scale, 2) is not None) == expected


def test_the_bands_path_is_taken_where_it_should(monkeypatch: pytest.MonkeyPatch) -> None:
    """4:2:0 is cut at the scaled decodes (the app's case) and not at full size (fancy
    upsampling blends chroma across rows); 4:4:4 and 4:2:2 at every scale; 4:4:0 never (its
    chroma is upsampled across rows: libjpeg scales a component's IDCT only when both of its
    sampling ratios allow it)."""
    assert [no_upsampling(((2, 2), (1, 1), (1, 1)), s) for s in (1, 2, 4, 8)] == [
        False, True, True, True]  # fmt: skip
    assert all(no_upsampling(((1, 1),) * 3, s) for s in (1, 2, 4, 8))
    assert all(no_upsampling(((2, 1), (1, 1), (1, 1)), s) for s in (1, 2, 4, 8))
    assert not any(no_upsampling(((1, 2), (1, 1), (1, 1)), s) for s in (1, 2, 4, 8))
    calls: list[int] = []
    real = bands.decode_bands
    monkeypatch.setattr("lookalike.decode.image.decode_bands",
                        lambda plan, *a: calls.append(len(plan)) or real(plan, *a))  # fmt: skip
    data = jpeg(photo(2048, 1536))
    decode(data, 1024, exact=False, bands=2)
    assert calls == [2]
    decode(data, 1024, exact=False)  # one band asked: decoded whole
    assert calls == [2]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("max_side", [800, 700])
def test_exif_turn_is_applied_to_the_bands(orientation: int, max_side: int) -> None:
    """Turned by the bands' threads (800: the DCT scaling gives the size) or after them (700:
    resized): Pillow's ``transpose`` of the whole decode either way, for every orientation."""
    data = jpeg(photo(1600, 1203, seed=orientation), orientation=orientation)
    whole = decode(data, max_side, exact=False)
    for count in (2, 3):
        cut = decode(data, max_side, exact=False, bands=count)
        assert cut.original_size == whole.original_size and cut.scale == whole.scale
        assert np.array_equal(cut.rgb, whole.rgb) and cut.rgb.flags.writeable


def test_cuts_fall_after_rst7_on_row_ends() -> None:
    data = jpeg(photo(1600, 1600))  # 4:2:0: 100 MCU rows, a marker after each row
    plan = band_plan(data, 4, 2)
    assert plan is not None and len(plan) == 2
    heights = [h for _, h in plan]
    assert sum(heights) == 1600 and heights[0] % (16 * 8) == 0  # 8 rows per RST0..RST7
    frame = read_frame(data)
    assert frame is not None
    found = restart_offsets(data, len(frame.header))
    assert found is not None and len(found[0]) == 99
    for band, height in plan:  # each band is a JPEG of its own
        with Image.open(io.BytesIO(band)) as im:
            assert im.size == (1600, height)


def files_that_are_decoded_whole() -> dict[str, bytes]:
    rgb = photo(1024, 768)
    good = jpeg(rgb)
    frame = read_frame(good)
    assert frame is not None
    found = restart_offsets(good, len(frame.header))
    assert found is not None
    swapped = bytearray(good)
    swapped[found[0][3] + 1] = 0xD5  # RST3 written as RST5: out of sequence
    return {
        "no restart markers": jpeg(rgb, rows=0),
        "progressive": jpeg(rgb, progressive=True),
        "marker out of sequence": bytes(swapped),
        "no end of image": good[: found[1]],
        "not a JPEG": b"\x89PNG\r\n\x1a\n" + good[8:],
    }


@pytest.mark.parametrize("name", list(files_that_are_decoded_whole()))
def test_files_that_cannot_be_cut_are_not(name: str) -> None:
    assert band_plan(files_that_are_decoded_whole()[name], 4, 2) is None


def test_data_after_the_end_of_image_is_ignored() -> None:
    """A phone's motion photo appends a video (with its own 0xFFD9 bytes) after the JPEG."""
    data = jpeg(photo(1600, 1200)) + b"\x00\x00\x00\x18ftypmp42" + b"\xff\xd9\xff\xd8" * 50
    plan = band_plan(data, 4, 2)
    assert plan is not None
    assert np.array_equal(decode(data, 800, exact=False, bands=2).rgb,
                          decode(data, 800, exact=False).rgb)  # fmt: skip


def test_a_truncated_file_fails_as_the_whole_decode_does(tmp_path: Path) -> None:
    data = jpeg(photo(1600, 1200))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UnreadablePhoto) as whole:
        decode(path, 800, exact=False)
    with pytest.raises(UnreadablePhoto) as cut:
        decode(path, 800, exact=False, bands=2)
    assert cut.value.reason == whole.value.reason
