"""Generated test photos for the GUI tests: a few scenes, each photographed three times."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.fakes import write_photo

SYNC_TIMEOUT_MS = 20_000
SCENES = (101, 202, 303, 404)
"""Pattern seeds of the scenes; each is photographed three times (whole, cropped, resized)."""
VARIANTS = {
    "whole": {},
    "crop": {"crop": (0.1, 0.05, 0.9, 0.85)},
    "small": {"scale": 0.6},
}


@dataclass(frozen=True)
class PhotoSet:
    """Generated photos.

    Attributes:
        root: the library folder.
        scenes: scene seed → the three photos of it in the library.
        unreadable: a file with a photo suffix that is not an image.
        query: scene seed → a fresh photo of it outside the library.
    """

    root: Path
    scenes: dict[int, list[Path]]
    unreadable: Path
    query: dict[int, Path]


def make_photos(tmp_path: Path) -> PhotoSet:
    """Four scenes × three photos in two subfolders, four distractors and one unreadable file."""
    root = tmp_path / "Pictures"
    scenes: dict[int, list[Path]] = {}
    for n, seed in enumerate(SCENES):
        scenes[seed] = [
            write_photo(
                root / ("trip" if n % 2 else "home") / f"scene{seed}_{name}.jpg",
                seed,
                size=(320, 240),
                **kwargs,
            )  # type: ignore[arg-type]
            for name, kwargs in VARIANTS.items()
        ]
    for seed in range(900, 904):
        write_photo(root / "misc" / f"other_{seed}.jpg", seed, size=(320, 240))
    unreadable = root / "misc" / "broken.jpg"
    unreadable.write_text("this is not a photo")
    query = {
        seed: write_photo(
            tmp_path / "queries" / f"query_{seed}.jpg",
            seed,
            size=(320, 240),
            crop=(0.05, 0.1, 0.95, 0.95),
            scale=0.8,
        )
        for seed in SCENES
    }
    return PhotoSet(root, scenes, unreadable, query)
