"""Build a small synthetic retrieval bench from "other photos", in the dev bench's format.

    python benchmarks/make_synthetic_bench.py OUT [--source DIR] [--views 5] [--seed 0]
        [--distractor-sources 4] [--tiles-per-source 3] [--exclude NAME ...]

Purpose: retrieval options (database-side augmentation, query expansion, ...) are tuned on the
project's dev bench; this bench, made from unrelated photos, checks that a gain is not only a fit
to that bench. ``lookalike eval OUT`` reads it like the dev bench.

Method:

* Sources are the photos of ``--source`` (default ``/tmp/wphotos``, sample photos shipped inside
  the scikit-image / matplotlib wheels) whose short side is at least 256 px, minus the stems of
  ``--exclude`` (textures, drawings, synthetic images and near-featureless shots by default).
* ``--distractor-sources`` of them, drawn with ``--seed``, are held out; every other source
  becomes a group of ``--views`` views. A view imitates a second photo of the same scene: a crop
  keeping 55-90% of the area at a random offset, rotated by up to ±10°, its corners jittered by
  up to 15% of the side (a perspective warp, one ``Image.Transform.PERSPECTIVE`` resample, the
  quad shrunk about its centre where it would leave the photo, so there are no black borders),
  output with a long side of 600-1200 px; then brightness, contrast, gamma and colour
  temperature changes, sometimes a slight blur and sensor noise, and a JPEG quality of 70-95.
  No mirroring: a mirrored photo is a different matter than a re-photograph. ``--hard`` makes
  views of 20-60% of the area, turned by up to ±25°, corners jittered by up to 30%, in light
  from dim to harsh: the default bench is too easy for the model (mAP 100).
* Distractors never share content with a group: they are the held-out sources' views (made like
  the group views), plus ``--tiles-per-source`` tiles per held-out source, i.e. tiny crops (8-20%
  of the area) upscaled to the same output sizes, at a scale that no group view has.

The default source photos are the sample photos inside the scikit-image, scikit-learn and
matplotlib wheels (public domain / permissive); to fetch them::

    pip download --no-deps scikit-image scikit-learn matplotlib -d /tmp/wheels
    mkdir -p /tmp/wphotos && for w in /tmp/wheels/*.whl; do unzip -j -o -q "$w" \
        'skimage/data/*.png' 'skimage/data/*.jpg' 'sklearn/datasets/images/*.jpg' \
        'matplotlib/mpl-data/sample_data/*.jpg' -d /tmp/wphotos; done

Layout: ``OUT/groundtruth.json`` (``groups``: name → relative paths, ``distractors``: relative
paths, ``protocol``), ``OUT/images/<group>/<group>_NN.jpg``, ``OUT/distractors/*.jpg``.
Deterministic for a given ``--seed``, source folder and Pillow version (each photo draws from
its own generator seeded by the seed and the photo's name). Needs numpy and Pillow only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

DEFAULT_SOURCE = Path("/tmp/wphotos")
DEFAULT_EXCLUDE = (
    "brick",  # texture
    "grass",  # texture
    "gravel",  # texture
    "moon",  # surface texture
    "color",  # synthetic colour wheel
    "horse",  # black silhouette drawing
    "hubble_deep_field",  # star field, no scene
    "clock_motion",  # heavily motion-blurred, almost featureless
)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MIN_SHORT_SIDE = 256
PROTOCOL = (
    "Every image of a group is a query; its positives are the other images of the same group; "
    "the query itself is not counted; every other image (other groups and distractors) is a "
    "negative. Report mAP over all queries, and recall@1 and recall@5."
)

Quad = np.ndarray  # (4, 2) float corners: top-left, top-right, bottom-right, bottom-left


@dataclass(frozen=True)
class Source:
    """A source photo.

    Attributes:
        name: The file stem, used as the group name.
        path: The photo file.
    """

    name: str
    path: Path


def find_sources(
    folder: Path, exclude: Sequence[str], min_short: int = MIN_SHORT_SIDE
) -> tuple[list[Source], dict[str, str]]:
    """The usable photos of a folder, sorted by name.

    Args:
        folder: The folder of source photos (not searched recursively).
        exclude: File stems to skip.
        min_short: The smallest accepted short side in pixels.

    Returns:
        The sources, and the skipped files' names with the reason.
    """
    sources: list[Source] = []
    skipped: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in PHOTO_SUFFIXES:
            continue
        if path.stem in exclude:
            skipped[path.name] = "excluded"
            continue
        try:
            with Image.open(path) as image:
                short = min(image.size)
        except OSError:
            skipped[path.name] = "unreadable"
            continue
        if short < min_short:
            skipped[path.name] = f"short side {short} < {min_short}"
            continue
        sources.append(Source(path.stem, path))
    return sources, skipped


def photo_rng(seed: int, name: str) -> np.random.Generator:
    """A generator of its own per photo, so adding a photo leaves the others' views unchanged."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def load_rgb(path: Path) -> Image.Image:
    """The photo as RGB (grey and alpha photos flattened onto white)."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, "white")
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")


def crop_quad(rng: np.random.Generator, size: tuple[int, int], area: tuple[float, float]) -> Quad:
    """An axis-aligned crop of a random share of the area, aspect near the photo's, random place.

    Args:
        rng: The random generator.
        size: The photo's (width, height).
        area: The (min, max) share of the photo's area the crop keeps.

    Returns:
        The crop's corners.
    """
    width, height = size
    share = rng.uniform(*area)
    aspect_jitter = np.exp(rng.uniform(-0.15, 0.15))
    crop_w = min(width, width * np.sqrt(share) * aspect_jitter)
    crop_h = min(height, width * height * share / crop_w)
    left = rng.uniform(0, width - crop_w)
    top = rng.uniform(0, height - crop_h)
    return np.array(
        [[left, top], [left + crop_w, top], [left + crop_w, top + crop_h], [left, top + crop_h]]
    )


def rotate_and_jitter(
    rng: np.random.Generator, quad: Quad, max_degrees: float, max_jitter: float
) -> Quad:
    """The quad rotated about its centre, then each corner moved by a share of the quad's side.

    Args:
        rng: The random generator.
        quad: The corners.
        max_degrees: The largest rotation, either way.
        max_jitter: The largest corner shift, as a share of the quad's width / height; each view
            draws its own strength up to this.

    Returns:
        The new corners.
    """
    centre = quad.mean(axis=0)
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees))
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = (quad - centre) @ np.array([[cos, sin], [-sin, cos]]) + centre
    sides = np.ptp(quad, axis=0)
    strength = rng.uniform(0.2, 1.0) * max_jitter
    jittered: Quad = rotated + rng.uniform(-strength, strength, size=(4, 2)) * sides
    return jittered


def fit_inside(quad: Quad, size: tuple[int, int]) -> Quad:
    """The quad shrunk about its centre just enough to lie inside the photo.

    Args:
        quad: The corners; their centre must lie inside the photo.
        size: The photo's (width, height).

    Returns:
        The corners, all within ``[0, width] x [0, height]``.
    """
    centre = quad.mean(axis=0)
    limit = np.array(size, dtype=float)
    offsets = quad - centre
    scale = 1.0
    for offset in offsets:
        for axis in (0, 1):
            if offset[axis] > 0:
                scale = min(scale, (limit[axis] - centre[axis]) / offset[axis])
            elif offset[axis] < 0:
                scale = min(scale, -centre[axis] / offset[axis])
    fitted: Quad = centre + offsets * scale * 0.999
    return fitted


def perspective_coeffs(out_size: tuple[int, int], quad: Quad) -> list[float]:
    """The 8 ``Image.Transform.PERSPECTIVE`` coefficients mapping the output frame onto the quad.

    Args:
        out_size: The output's (width, height).
        quad: Where the output's corners (top-left, top-right, bottom-right, bottom-left) come
            from in the source photo.

    Returns:
        Coefficients ``a..h`` with ``x_src = (a x + b y + c) / (g x + h y + 1)`` and
        ``y_src = (d x + e y + f) / (g x + h y + 1)``.
    """
    width, height = out_size
    frame = [(0, 0), (width, 0), (width, height), (0, height)]
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(frame, quad, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return [float(c) for c in np.linalg.solve(np.array(rows, float), np.array(rhs, float))]


def output_size(
    rng: np.random.Generator, quad: Quad, long_side: tuple[int, int]
) -> tuple[int, int]:
    """An output size with a random long side and the quad's mean aspect ratio."""
    top, bottom = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])
    left, right = np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    aspect = (top + bottom) / (left + right)
    side = int(rng.integers(long_side[0], long_side[1] + 1))
    if aspect >= 1:
        return side, max(1, round(side / aspect))
    return max(1, round(side * aspect)), side


def warp(image: Image.Image, quad: Quad, size: tuple[int, int]) -> Image.Image:
    """The quad of the photo resampled (bicubic) into an image of the given size."""
    coeffs = perspective_coeffs(size, quad)
    return image.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)


@dataclass(frozen=True)
class Difficulty:
    """How far a view may be from its source photo."""

    area: tuple[float, float] = (0.55, 0.90)
    degrees: float = 10.0
    jitter: float = 0.15
    brightness: tuple[float, float] = (0.75, 1.25)
    gamma: tuple[float, float] = (0.8, 1.25)
    warmth: float = 0.08


EASY = Difficulty()
HARD = Difficulty(
    area=(0.2, 0.6), degrees=25.0, jitter=0.3, brightness=(0.4, 1.4), gamma=(0.6, 2.2), warmth=0.2
)
"""``--hard``: zoomed-in parts, strong turns and perspective, dim or harsh light."""


def photometric(
    rng: np.random.Generator, image: Image.Image, level: Difficulty = EASY
) -> Image.Image:
    """Other light and another camera: brightness, contrast, gamma, colour temperature, noise.

    Args:
        rng: The random generator.
        image: An RGB image.
        level: How strong the changes may be.

    Returns:
        The changed image, sometimes slightly blurred.
    """
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels * rng.uniform(*level.brightness)
    mean = pixels.mean()
    pixels = (pixels - mean) * rng.uniform(0.8, 1.2) + mean
    pixels = np.clip(pixels, 0.0, 1.0) ** rng.uniform(*level.gamma)
    warmth = rng.uniform(-level.warmth, level.warmth)
    pixels = pixels * np.array([1 + warmth, 1.0, 1 - warmth], dtype=np.float32)
    if rng.random() < 0.4:
        pixels = pixels + rng.normal(0.0, rng.uniform(0.005, 0.02), pixels.shape)
    out = Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255 + 0.5).astype(np.uint8))
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return out


def make_view(
    rng: np.random.Generator, image: Image.Image, level: Difficulty = EASY
) -> Image.Image:
    """A view that looks like a second photo of the same scene (see the module docstring)."""
    quad = crop_quad(rng, image.size, level.area)
    quad = fit_inside(rotate_and_jitter(rng, quad, level.degrees, level.jitter), image.size)
    return photometric(rng, warp(image, quad, output_size(rng, quad, (600, 1200))), level)


def make_tile(
    rng: np.random.Generator, image: Image.Image, level: Difficulty = EASY
) -> Image.Image:
    """A tiny crop (8-20% of the area) upscaled: a distractor at a scale no group view has."""
    quad = crop_quad(rng, image.size, (0.08, 0.20))
    return photometric(rng, warp(image, quad, output_size(rng, quad, (600, 1200))), level)


def save_jpeg(rng: np.random.Generator, image: Image.Image, path: Path) -> None:
    """Save as JPEG at a random quality of 70-95."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=int(rng.integers(70, 96)))


def split_sources(
    sources: Sequence[Source], n_distractor: int, seed: int
) -> tuple[list[Source], list[Source]]:
    """Group sources and held-out (distractor) sources, drawn with the seed.

    Args:
        sources: All sources.
        n_distractor: How many to hold out; at least one source is always left for groups.
        seed: The random seed.

    Returns:
        The group sources and the held-out sources, each sorted by name.
    """
    n_held = max(0, min(n_distractor, len(sources) - 1))
    order = np.random.default_rng(seed).permutation(len(sources))
    held = {int(i) for i in order[:n_held]}
    groups = [s for i, s in enumerate(sources) if i not in held]
    distractors = [s for i, s in enumerate(sources) if i in held]
    return groups, distractors


def _write_photos(
    rng: np.random.Generator,
    image: npt.NDArray[np.uint8],
    level: Difficulty,
    out: Path,
    jobs: Sequence[tuple[str, Callable[..., npt.NDArray[np.uint8]]]],
) -> list[str]:
    """Write one photo per (relative path, maker) job, in order; the relative paths."""
    for relative, make in jobs:
        save_jpeg(rng, make(rng, image, level), out / relative)
    return [relative for relative, _ in jobs]


def write_group(
    source: Source, out: Path, views: int, seed: int, level: Difficulty = EASY
) -> list[str]:
    """Write a source's views under ``images/<name>/``; their paths relative to ``out``."""
    jobs = [(f"images/{source.name}/{source.name}_{k:02d}.jpg", make_view)
            for k in range(1, views + 1)]  # fmt: skip
    return _write_photos(photo_rng(seed, source.name), load_rgb(source.path), level, out, jobs)


def write_distractors(
    source: Source, out: Path, views: int, tiles: int, seed: int, level: Difficulty = EASY
) -> list[str]:
    """Write a held-out source's views and tiles under ``distractors/``; relative paths."""
    jobs = [(f"distractors/{source.name}_{kind}_{k:02d}.jpg", make)
            for kind, count, make in (("view", views, make_view), ("tile", tiles, make_tile))
            for k in range(1, count + 1)]  # fmt: skip
    return _write_photos(photo_rng(seed, source.name), load_rgb(source.path), level, out, jobs)


def build_bench(
    sources: Sequence[Source],
    out: Path,
    views: int,
    seed: int,
    n_distractor: int,
    tiles: int,
    level: Difficulty = EASY,
) -> dict[str, object]:
    """Write the bench (images and ``groundtruth.json``) into ``out``, emptied first.

    Args:
        sources: The source photos.
        out: The bench folder.
        views: Views per source.
        seed: The random seed.
        n_distractor: How many sources are held out as distractors.
        tiles: Tiles per held-out source.
        level: How far views may be from their source.

    Returns:
        The ground truth that was written.
    """
    group_sources, held = split_sources(sources, n_distractor, seed)
    for sub in ("images", "distractors"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    groups = {s.name: write_group(s, out, views, seed, level) for s in group_sources}
    distractors = [p for s in held for p in write_distractors(s, out, views, tiles, seed, level)]
    truth: dict[str, object] = {"groups": groups, "distractors": distractors, "protocol": PROTOCOL}
    (out / "groundtruth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="bench folder to write")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="source photos")
    parser.add_argument("--views", type=int, default=5, help="views per group (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--distractor-sources", type=int, default=4, help="sources held out as distractors"
    )
    parser.add_argument(
        "--tiles-per-source", type=int, default=3, help="tiny-crop tiles per held-out source"
    )
    parser.add_argument(
        "--hard", action="store_true", help="zoomed-in parts, strong perspective, harsh light"
    )
    parser.add_argument(
        "--exclude", nargs="*", default=list(DEFAULT_EXCLUDE), help="file stems to skip"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the bench; print the sources used and the counts. Returns the exit status."""
    args = parse_args(argv)
    if args.views < 2:
        print("--views must be at least 2 (a query needs a positive)", file=sys.stderr)
        return 2
    sources, skipped = find_sources(args.source, args.exclude)
    for name, reason in skipped.items():
        print(f"skipped  {name}: {reason}")
    if len(sources) < 2:
        print(f"need at least 2 usable photos in {args.source}, found {len(sources)}")
        return 1
    truth = build_bench(
        sources,
        args.out,
        args.views,
        args.seed,
        args.distractor_sources,
        args.tiles_per_source,
        HARD if args.hard else EASY,
    )
    groups: dict[str, list[str]] = truth["groups"]  # type: ignore[assignment]
    distractors: list[str] = truth["distractors"]  # type: ignore[assignment]
    held = sorted({Path(p).stem.rsplit("_", 2)[0] for p in distractors})
    print(f"groups   {', '.join(groups)}")
    print(f"held out {', '.join(held) or '-'}")
    n_images = sum(len(v) for v in groups.values())
    print(
        f"wrote {len(groups)} groups, {n_images} group images, {len(distractors)} distractors "
        f"({n_images + len(distractors)} images) to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
