"""Generated photos for duplicate tests: an original with edited copies, a burst, others.

Scenes are random rectangles and ellipses (as in the re-ranking tests); a burst take is the
same scene with a few shapes moved a little, as a subject moves between two shots.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw


def scene(seed: int, size: tuple[int, int] = (1024, 768), moved: int = 0) -> Image.Image:
    """A colourful scene; ``moved`` shapes (the last ones drawn) are shifted by 20-40 px."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    shift = np.random.default_rng(seed + 1000)
    count = 90
    for k in range(count):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(16, 180, 2))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if k >= count - moved:
            x0, y0 = x0 + int(shift.integers(20, 40)), y0 + int(shift.integers(20, 40))
        box = [x0, y0, x0 + w, y0 + h]
        (draw.rectangle if k % 2 else draw.ellipse)(box, fill=colour)
    return img


def camera_exif(taken: str) -> Image.Exif:
    """EXIF as a camera writes it: make, model and the original date."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Lookalike", "Test Camera"
    exif.get_ifd(0x8769)[0x9003] = taken
    return exif


def make_library(folder: Path) -> dict[str, Path]:
    """Write the photos into ``folder``; returns them by role.

    Roles: ``original`` (1024×768, quality 95), ``small`` (512×384 at quality 60),
    ``crop`` (the middle 70 %, EXIF kept), ``burst1``/``burst2`` (two takes of another
    scene a second apart: a few shapes moved, the camera 3 px aside),
    ``other1``/``other2`` (unrelated scenes).
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    original = scene(1)
    out["original"] = folder / "original.jpg"
    original.save(out["original"], quality=95, exif=camera_exif("2024:04:01 10:00:00"))
    out["small"] = folder / "copies" / "original_small.jpg"
    out["small"].parent.mkdir(exist_ok=True)
    original.resize((512, 384)).save(out["small"], quality=60)
    out["crop"] = folder / "copies" / "original_crop.jpg"
    original.crop((154, 115, 870, 653)).save(out["crop"], quality=90,
                                             exif=camera_exif("2024:04:01 10:00:00"))
    for i, moved in ((1, 0), (2, 12)):
        out[f"burst{i}"] = folder / f"burst_{i}.jpg"
        take = scene(7, (1030, 772), moved=moved).crop((3 * i, 2 * i, 3 * i + 1024, 2 * i + 768))
        take.save(out[f"burst{i}"], quality=92, exif=camera_exif(f"2024:04:02 09:30:0{i}"))
    for i in (1, 2):
        out[f"other{i}"] = folder / f"other_{i}.jpg"
        scene(20 + i).save(out[f"other{i}"], quality=92)
    return out


@contextmanager
def temporary_trash(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make ``home`` the user's HOME so send2trash uses its freedesktop.org trash (send2trash
    reads XDG_DATA_HOME when imported, so it is reloaded on the way in and out).

    Yields:
        The trash folder (``home/.local/share/Trash``).
    """
    import send2trash
    import send2trash.plat_other

    home.mkdir(parents=True, exist_ok=True)
    with monkeypatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
        importlib.reload(send2trash.plat_other)
        importlib.reload(send2trash)
        try:
            yield home / ".local" / "share" / "Trash"
        finally:
            patch.undo()
            importlib.reload(send2trash.plat_other)
            importlib.reload(send2trash)
