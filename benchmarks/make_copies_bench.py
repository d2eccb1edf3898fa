"""Build a copy-detection bench: photos, their edited copies, other shots of the scene, distractors.

    python benchmarks/make_copies_bench.py OUT [--source DIR] [--seed 0] [--distractor-sources 3]

Purpose: "the same photo" (a resized, recompressed, cropped, turned, mirrored, recoloured or
framed copy) must be told apart from "another shot of the same place". Here each copy group is
one source photo and its edits; other shots of the same scene are in the bench as negatives.
Built from photos in no bench (default ``/tmp/wphotos``: the sample photos inside the
scikit-image / scikit-learn / matplotlib wheels; ``benchmarks/make_synthetic_bench.py`` says how
to fetch them). Needs numpy and Pillow only; reuses that script's helpers.

Per source photo (its copy group ``<name>``, files ``images/<name>/<name>_<edit>.jpg``):

* ``orig``: the photo (long side at most 1024 px), JPEG quality 92.
* Copies: ``crop40`` / ``crop60`` (an axis-aligned crop keeping 40-50% / 55-70% of the area),
  ``rot90`` / ``rot270`` (quarter turns of the pixels, no EXIF), ``mirror`` (left-right),
  ``small`` (320 px long side, JPEG quality 25), ``colour`` (brightness, contrast, gamma and
  colour temperature changed, no geometry), ``framed`` (a 6-12% border with a caption).
* Other shots of the scene, NOT copies (``others/<name>_<kind>.jpg``): ``step1`` / ``step2``,
  synthetic views "a step away": another crop (60-85% of the area), turned by up to ±4°, corners
  moved by 5-10% of the side (one perspective warp), other light; and ``tripod``: a near-
  identical second shot (90-97% of the area, ±1.5°, corners moved by 2-4%, other light). These
  are synthesised: the sources have no real second shots, except ``motorcycle_right``, a real
  second shot (a stereo pair, camera moved sideways) of ``motorcycle_left``, which is added as
  that scene's ``real`` other shot.
* ``--distractor-sources`` sources, drawn with the seed, are distractors only: their photo and
  two views of it (``distractors/``), sharing nothing with any group.

``groundtruth.json``: ``groups`` (copy group → its images: every one is a query; its positives
are the other members), ``distractors`` (unrelated photos AND the other shots: negatives for
every query, so ``lookalike eval OUT`` scores copy detection as it is), ``scenes`` (copy group →
the other shots of its scene, for an evaluation that needs to tell same-place from unrelated),
``edits`` (path → edit name) and ``protocol``. Deterministic for a seed, source folder and
Pillow version.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_synthetic_bench import (
    DEFAULT_EXCLUDE,
    DEFAULT_SOURCE,
    Difficulty,
    Source,
    crop_quad,
    find_sources,
    fit_inside,
    load_rgb,
    output_size,
    photo_rng,
    photometric,
    rotate_and_jitter,
    split_sources,
    warp,
)

EXTRA_EXCLUDE = ("phantom", "logo", "motorcycle_right")
"""Synthetic drawings, and the real second shot (added to its scene instead)."""
REAL_SECOND_SHOTS = {"motorcycle_left": "motorcycle_right"}
MAX_SIDE = 1024
STEP = Difficulty(area=(0.60, 0.85), degrees=4.0, jitter=0.10)
TRIPOD = Difficulty(area=(0.90, 0.97), degrees=1.5, jitter=0.04)
PROTOCOL = (
    "Every image of a copy group is a query; its positives are the other images of the group "
    "(the source and its edited copies); everything else is a negative, including the other "
    "shots of the same scene listed in 'scenes'. Report mAP over all queries."
)

Edit = Callable[[np.random.Generator, Image.Image], Image.Image]


def _crop(area: tuple[float, float]) -> Edit:
    def edit(rng: np.random.Generator, image: Image.Image) -> Image.Image:
        quad = crop_quad(rng, image.size, area)
        left, top = quad[0]
        right, bottom = quad[2]
        return image.crop((round(left), round(top), round(right), round(bottom)))

    return edit


def _small(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    del rng
    scale = 320 / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)


def _framed(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    border = round(max(image.size) * rng.uniform(0.06, 0.12))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    framed = ImageOps.expand(image, border=border, fill=colour)
    caption = ImageDraw.Draw(framed)
    ink = (255, 255, 255) if sum(colour) < 384 else (0, 0, 0)
    caption.text((border, framed.height - border * 0.8), "Holiday 2019 - a caption", fill=ink)
    return framed


def _shot(level: Difficulty) -> Edit:
    def edit(rng: np.random.Generator, image: Image.Image) -> Image.Image:
        quad = crop_quad(rng, image.size, level.area)
        quad = fit_inside(rotate_and_jitter(rng, quad, level.degrees, level.jitter), image.size)
        side = max(image.size)
        size = output_size(rng, quad, (int(side * 0.9), side))
        return photometric(rng, warp(image, quad, size), level)

    return edit


COPIES: dict[str, tuple[Edit, int]] = {
    "crop40": (_crop((0.40, 0.50)), 90),
    "crop60": (_crop((0.55, 0.70)), 90),
    "rot90": (lambda rng, im: im.transpose(Image.Transpose.ROTATE_90), 90),
    "rot270": (lambda rng, im: im.transpose(Image.Transpose.ROTATE_270), 90),
    "mirror": (lambda rng, im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 90),
    "small": (_small, 25),
    "colour": (lambda rng, im: photometric(rng, im, Difficulty(brightness=(0.6, 1.4))), 90),
    "framed": (_framed, 90),
}
"""Edit name → (edit, JPEG quality)."""
OTHERS: dict[str, Edit] = {"step1": _shot(STEP), "step2": _shot(STEP), "tripod": _shot(TRIPOD)}


def _load(path: Path) -> Image.Image:
    image = load_rgb(path)
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.LANCZOS
        )
    return image


def _save(image: Image.Image, out: Path, rel: str, quality: int) -> str:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality)
    return rel


def write_scene(
    source: Source, folder: Path, out: Path, seed: int
) -> tuple[list[str], list[str], dict[str, str]]:
    """One copy group and its scene's other shots.

    Returns:
        The group's images, the other shots, and each image's edit name (relative paths).
    """
    image = _load(source.path)
    name = source.name
    members = [_save(image, out, f"images/{name}/{name}_orig.jpg", 92)]
    edits = {members[0]: "orig"}
    for edit_name, (edit, quality) in COPIES.items():
        rel = _save(
            edit(photo_rng(seed, f"{name}/{edit_name}"), image),
            out,
            f"images/{name}/{name}_{edit_name}.jpg",
            quality,
        )
        members.append(rel)
        edits[rel] = edit_name
    others = []
    for kind, edit in OTHERS.items():
        rng = photo_rng(seed, f"{name}/{kind}")
        rel = _save(edit(rng, image), out, f"others/{name}_{kind}.jpg", int(rng.integers(80, 96)))
        others.append(rel)
        edits[rel] = kind
    real = REAL_SECOND_SHOTS.get(name)
    if real is not None:
        path = next(folder.glob(f"{real}.*"))
        rel = _save(_load(path), out, f"others/{name}_real.jpg", 92)
        others.append(rel)
        edits[rel] = "real"
    return members, others, edits


def write_distractor(source: Source, out: Path, seed: int) -> list[str]:
    """The held-out photo and two views of it."""
    image = _load(source.path)
    paths = [_save(image, out, f"distractors/{source.name}_orig.jpg", 90)]
    for k in range(2):
        rng = photo_rng(seed, f"{source.name}/distractor{k}")
        view = _shot(STEP)(rng, image)
        paths.append(_save(view, out, f"distractors/{source.name}_view{k}.jpg", 90))
    return paths


def build(folder: Path, out: Path, seed: int, n_distractor: int) -> dict[str, object]:
    """Write the bench into ``out`` (emptied first) and return its ground truth."""
    sources, _ = find_sources(folder, (*DEFAULT_EXCLUDE, *EXTRA_EXCLUDE))
    paired = [s for s in sources if s.name in REAL_SECOND_SHOTS]  # always a copy group
    group_sources, held = split_sources(
        [s for s in sources if s.name not in REAL_SECOND_SHOTS], n_distractor, seed
    )
    group_sources = sorted([*group_sources, *paired], key=lambda s: s.name)
    if out.exists():
        shutil.rmtree(out)
    groups: dict[str, list[str]] = {}
    scenes: dict[str, list[str]] = {}
    edits: dict[str, str] = {}
    for source in group_sources:
        members, others, named = write_scene(source, folder, out, seed)
        groups[source.name], scenes[source.name] = members, others
        edits.update(named)
    distractors = [p for s in held for p in write_distractor(s, out, seed)]
    distractors += [p for others in scenes.values() for p in others]
    truth = {
        "groups": groups,
        "distractors": distractors,
        "scenes": scenes,
        "edits": edits,
        "protocol": PROTOCOL,
    }
    (out / "groundtruth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distractor-sources", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"no source folder {args.source} (see the docstring)", file=sys.stderr)
        return 2
    truth = build(args.source, args.out, args.seed, args.distractor_sources)
    groups = truth["groups"]
    assert isinstance(groups, dict)
    n = sum(len(v) for v in groups.values())
    print(
        f"{args.out}: {len(groups)} copy groups ({n} images), "
        f"{len(truth['distractors'])} negatives (other shots + distractors)"
    )  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
