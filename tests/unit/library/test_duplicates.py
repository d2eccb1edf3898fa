"""DuplicateFinder over a real catalog and index: incremental checks, cascade on removal,
the keep suggestion. The pair check is injected (the FakeEmbedder stores no local features):
two photos are copies when their fake descriptors agree closely."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.duplicate_photos import scene
from tests.fakes import FakeEmbedder, write_photo

from lookalike.library import Library, duplicates
from lookalike.library.duplicates import DuplicateFinder
from lookalike.search import grouping
from lookalike.search.pair_batch import Fitted
from lookalike.search.pair_check import PairEvidence
from lookalike.types import Embedding


def _by_cosine(library: Library, finder: DuplicateFinder, calls: list[tuple[int, int]]) -> None:
    def check(a: int, b: int) -> PairEvidence:
        calls.append((a, b))
        ea, eb = library.embedding(a), library.embedding(b)
        assert ea is not None and eb is not None
        cos = float(ea.vector @ eb.vector)
        return PairEvidence("copy" if cos > 0.97 else None, cos, 100, 0.9, 1.0, 1.0)

    finder.pair_check = check


def _copy_and_others(root: Path, others: int) -> tuple[Path, Path]:
    """A photo, a half-size copy of it and ``others`` unrelated photos in ``root``."""
    original = write_photo(root / "original.jpg", 1, size=(320, 240))
    small = write_photo(root / "small.jpg", 1, size=(320, 240), scale=0.5)
    for seed in range(2, 2 + others):
        write_photo(root / f"other{seed}.jpg", seed, size=(320, 240))
    return original, small


def test_only_new_and_changed_photos_are_checked_and_removed_ones_leave(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    original, small = _copy_and_others(root, others=3)
    with Library.open(tmp_path / "home", FakeEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(root)
        list(library.sync())
        finder = library.duplicates()
        calls: list[tuple[int, int]] = []
        _by_cosine(library, finder, calls)
        assert finder.update() == 5
        (group,) = finder.groups()
        assert group.kind == "copy" and group.keep.path == original
        assert [p.path for p in group.photos] == [original, small]
        assert group.keep.reason == "largest (320×240)"
        assert group.photos[1].reason.startswith("smaller")
        assert group.freeable_bytes == small.stat().st_size

        calls.clear()
        assert finder.update() == 0 and calls == []  # nothing new: nothing checked

        crop = write_photo(root / "again.png", 1, size=(320, 240), scale=0.75)
        list(library.sync())
        assert finder.update() == 1  # only the new photo
        crop_id = next(i for i, path, _ in library.photos_under(root) if path == crop)
        assert calls and all(crop_id in pair for pair in calls)
        assert {p.path for p in finder.groups()[0].photos} == {original, small, crop}

        small.unlink()  # removed: its edges leave with it (cascade), nothing is checked
        list(library.sync())
        assert finder.update() == 0
        assert {p.path for p in finder.groups()[0].photos} == {original, crop}

        write_photo(root / "other2.jpg", 1, size=(320, 240))  # edited into a copy
        os.utime(root / "other2.jpg", ns=(1, 1))
        list(library.sync())
        assert finder.update() == 1
        assert {p.path for p in finder.groups()[0].photos} == {
            original, crop, root / "other2.jpg"}


class LocalsEmbedder(FakeEmbedder):
    """The fake embedder plus local features: a 8×6 grid of cells whose codes project each
    cell's mean-centred pixels (so a resized copy has the same codes at the same places)."""

    PROJECTION = np.random.default_rng(7).standard_normal((192, 16))

    def embed_rgb(self, rgb: np.ndarray) -> Embedding:
        found = super().embed_rgb(rgb)
        im = np.asarray(Image.fromarray(rgb).resize((64, 48)), np.float32) / 255
        cells = im.reshape(6, 8, 8, 8, 3).transpose(0, 2, 1, 3, 4).reshape(48, 192)
        codes = (cells - cells.mean(axis=1, keepdims=True)) @ self.PROJECTION
        codes /= np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-6)
        ys, xs = np.mgrid[0:6, 0:8]
        xy = np.stack([(xs.ravel() + 0.5) / 8, (ys.ravel() + 0.5) * 0.75 / 6], axis=1)
        return replace(found, locals=np.concatenate([xy, codes], axis=1).astype(np.float16))


def _scenes(root: Path) -> dict[str, Path]:
    """An original scene, its half-size copy, its mirror image, a second take with a few shapes
    moved (the same cells almost everywhere: only the pixels tell it is no copy), and four
    other scenes."""
    root.mkdir(parents=True)
    image = scene(1, (640, 480))
    made = {"original": root / "original.jpg", "small": root / "small.jpg",
            "mirror": root / "mirror.jpg", "take": root / "take.jpg"}  # fmt: skip
    image.save(made["original"], quality=90)
    image.resize((320, 240)).save(made["small"], quality=80)
    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(made["mirror"], quality=90)
    scene(1, (640, 480), moved=8).save(made["take"], quality=90)
    for seed in (2, 3, 4, 5):
        made[f"other{seed}"] = root / f"other{seed}.jpg"
        scene(seed, (640, 480)).save(made[f"other{seed}"], quality=90)
    return made


def test_the_default_check_reads_stored_local_features_and_confirms_copies_on_the_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _scenes(tmp_path / "photos")
    checked: list[tuple[int, int]] = []
    check_batch = duplicates.check_batch_fits

    def recording(table: object, a: list[int], b: list[int], *args: object,
                  **kwargs: object) -> list[Fitted]:  # fmt: skip
        checked.extend(zip(a, b, strict=True))
        return check_batch(table, a, b, *args, **kwargs)  # type: ignore[arg-type]

    with Library.open(tmp_path / "home", LocalsEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(tmp_path / "photos")
        list(library.sync())
        monkeypatch.setattr("lookalike.library.duplicates.check_batch_fits", recording)
        monkeypatch.setattr(grouping, "PREFILTER", -1.0)  # every neighbour is a candidate
        finder = library.duplicates()
        assert finder.pixels and finder.update() == len(photos)
        assert len(checked) == len(set(checked)) and len(checked) >= len(photos)
        assert all(a < b for a, b in checked)
        copies = [{p.path for p in g.photos} for g in finder.groups("copy")]
        # the mirror: by the thumbnail screen (the fake stores no thumbnails: made from the
        # files); the moved take never
        assert copies == [{photos["original"], photos["small"], photos["mirror"]}]

        cells_only = DuplicateFinder(library._catalog, lambda: library._writer.index,
                                     library._writer.lock, "fake", finder.store, pixels=False,
                                     screen=False)  # fmt: skip
        cells_only.store.forget_checked({i: 0 for i in cells_only.store.checked()})
        cells_only.update()  # the cells alone take the moved take for a copy
        copies = [{p.path for p in g.photos} for g in cells_only.groups("copy")]
        assert copies == [{photos["original"], photos["small"], photos["take"]}]


def test_pairs_the_cells_cannot_fit_go_to_the_file_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _scenes(tmp_path / "photos")
    asked: list[tuple[str, str]] = []

    def file_check(a: Path, b: Path, cosine: float) -> PairEvidence:
        asked.append((a.stem, b.stem))
        mirrored = {a.stem, b.stem} in ({"original", "mirror"}, {"small", "mirror"})
        return PairEvidence("copy" if mirrored else None, cosine, coverage_a=1.0,
                            coverage_b=1.0)  # fmt: skip

    with Library.open(tmp_path / "home", LocalsEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(tmp_path / "photos")
        list(library.sync())
        monkeypatch.setattr(grouping, "PREFILTER", -1.0)
        monkeypatch.setattr(grouping, "CHANCE_COSINE", -1.0)
        finder = library.duplicates()
        finder.file_check = file_check
        finder.update()
        copies = [{p.path for p in g.photos} for g in finder.groups("copy")]
    assert copies == [{photos["original"], photos["small"], photos["mirror"]}]
    pairs = {frozenset(p) for p in asked}
    assert {frozenset(("original", "mirror")), frozenset(("small", "mirror"))} <= pairs
    assert frozenset(("original", "small")) not in pairs  # the cells fit it: never asked


def test_a_cancelled_update_leaves_the_rest_for_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    original, small = _copy_and_others(root, others=4)
    monkeypatch.setattr(duplicates, "CHUNK", 2)
    with Library.open(tmp_path / "home", FakeEmbedder()) as library:  # type: ignore[arg-type]
        library.add_root(root)
        list(library.sync())
        finder = library.duplicates()
        calls: list[tuple[int, int]] = []
        _by_cosine(library, finder, calls)
        cancel = threading.Event()
        check = finder.pair_check
        assert check is not None

        def cancelling(a: int, b: int) -> PairEvidence:
            cancel.set()  # during the first chunk
            return check(a, b)

        finder.pair_check = cancelling
        assert finder.update(cancel) == 2  # one chunk of two photos, then stopped
        assert len(finder.store.checked()) == 2
        finder.pair_check = check
        assert finder.update() == 4  # the rest
        (group,) = finder.groups()
        assert {p.path for p in group.photos} == {original, small}
