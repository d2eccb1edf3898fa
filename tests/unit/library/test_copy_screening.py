"""The duplicate finder's thumbnail screen over a real catalog and real files: turned and
mirrored copies grouped as copies, another take of the scene never, and a library from before
the thumbnails (schema 7) that gets them from its files, a bounded number per update."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.unit.library.test_duplicates import LocalsEmbedder, _scenes

from lookalike.decode.thumb import grey_thumb
from lookalike.library import Library, copy_screening
from lookalike.search import grouping
from lookalike.search.copy_screen import frame_map
from lookalike.store.thumbs import thumbs_of
from lookalike.types import Embedding


class ThumbEmbedder(LocalsEmbedder):
    """The fake with local features that also makes thumbnails, as the real embedder does."""

    def embed_rgb(self, rgb: np.ndarray) -> Embedding:
        return replace(super().embed_rgb(rgb), thumb=grey_thumb(rgb))


def _with_turned(root: Path) -> dict[str, Path]:
    photos = _scenes(root)
    photos["turned"] = root / "turned.jpg"
    Image.open(photos["original"]).transpose(Image.Transpose.ROTATE_90).save(photos["turned"],
                                                                              quality=85)
    return photos


def _indexed(home: Path, photos: Path) -> Library:
    """A library at ``home`` (thumbnails made as the real embedder makes them) with the folder
    ``photos`` added and indexed; use it as a context manager."""
    library = Library.open(home, ThumbEmbedder())  # type: ignore[arg-type]
    library.add_root(photos)
    list(library.sync())
    return library


def _copies(library: Library) -> list[set[Path]]:
    return [{p.path for p in g.photos} for g in library.duplicates().groups("copy")]


@pytest.fixture
def widened(monkeypatch: pytest.MonkeyPatch) -> None:
    # the fake's descriptor is not the model's: every photo is a candidate of every other
    monkeypatch.setattr(grouping, "CHANCE_COSINE", -1.0)
    monkeypatch.setattr(grouping, "FILE_CHECK_NEIGHBOURS", 16)


@pytest.mark.usefixtures("widened")
def test_turned_and_mirrored_copies_are_copies_and_the_other_take_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _with_turned(tmp_path / "photos")
    with _indexed(tmp_path / "home", tmp_path / "photos") as library:
        stored = thumbs_of(library._catalog, [i for i, _, _ in library.photos_under(
            tmp_path / "photos")])  # fmt: skip
        assert len(stored) == len(photos)  # written with the vectors
        monkeypatch.setattr(copy_screening, "_from_file", None)  # never needed: would raise
        finder = library.duplicates()
        finder.update()
        assert finder.screen is not None and finder.screen.tested >= 3
        assert _copies(library) == [{photos["original"], photos["small"], photos["mirror"],
                                     photos["turned"]}]  # fmt: skip
        turned = next(g for g in library.duplicates().groups("copy"))
        words = next(p.reason for p in turned.photos if p.path == photos["turned"])
        assert "rotated" in words


@pytest.mark.usefixtures("widened")
def test_a_library_from_before_the_thumbnails_makes_them_from_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _with_turned(tmp_path / "photos")
    home = tmp_path / "home"
    _indexed(home, tmp_path / "photos").close()
    with sqlite3.connect(home / "catalog.sqlite") as conn:  # as the previous version left it
        conn.execute("DROP TABLE thumbs")
        conn.execute("PRAGMA user_version = 7")
    monkeypatch.setattr(copy_screening, "BACKFILL", 3)
    with Library.open(home, ThumbEmbedder()) as library:  # type: ignore[arg-type]
        ids = [i for i, _, _ in library.photos_under(tmp_path / "photos")]
        assert thumbs_of(library._catalog, ids) == {}
        finder = library.duplicates()
        rounds = [finder.update()]
        assert len(thumbs_of(library._catalog, ids)) == 3  # at most BACKFILL per update
        assert len(finder.store.checked()) < len(photos)  # the others: checked next time
        while rounds[-1] and len(rounds) < 6:
            rounds.append(finder.update())
        assert rounds[0] == len(photos) and rounds[-1] == 0 and len(rounds) >= 3
        assert len(thumbs_of(library._catalog, ids)) == len(photos)
        assert _copies(library) == [{photos["original"], photos["small"], photos["mirror"],
                                     photos["turned"]}]  # fmt: skip


@pytest.mark.usefixtures("widened")
def test_a_new_photo_whose_old_neighbour_has_no_thumbnail_yet_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _scenes(tmp_path / "photos")
    home = tmp_path / "home"
    with _indexed(home, tmp_path / "photos") as library:
        finder = library.duplicates()
        finder.update()  # every photo checked
        original = library._catalog.get_photo(photos["original"].resolve())
        assert original is not None
        with sqlite3.connect(home / "catalog.sqlite") as conn:  # as if stored before v8
            conn.execute("DELETE FROM thumbs WHERE photo_id = ?", (original.id,))
        turned = tmp_path / "photos" / "turned.jpg"
        Image.open(photos["original"]).transpose(Image.Transpose.ROTATE_90).save(turned,
                                                                                  quality=85)
        list(library.sync())
        new = library._catalog.get_photo(turned.resolve())
        assert new is not None
        monkeypatch.setattr(copy_screening, "BACKFILL", 0)  # no thumbnail made this time
        finder.update()
        assert new.id not in finder.store.checked()  # its pair with the original waits
        monkeypatch.setattr(copy_screening, "BACKFILL", 10)
        finder.update()
        assert new.id in finder.store.checked()
        assert any({photos["original"], turned} <= group for group in _copies(library))


def test_a_map_the_pixels_already_judged_is_not_tested_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scenes(tmp_path / "photos")
    tested: list[set[str]] = []
    check = copy_screening.check_files

    def recording(a: Path, b: Path, *args: object) -> object:
        tested.append({a.stem, b.stem})
        return check(a, b, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(copy_screening, "check_files", recording)
    with _indexed(tmp_path / "home", tmp_path / "photos") as library:
        ids = {path.stem: i for i, path, _ in library.photos_under(tmp_path / "photos")}
        screen = library.duplicates().screen
        assert screen is not None
        key = grouping.pair(ids["original"], ids["small"])
        # the cells' map of a whole-frame copy (a burst's take: the same) was judged already
        judged = {key: frame_map(0, (640, 480), (320, 240)) + 0.004}
        pair = (np.asarray([key[0]]), np.asarray([key[1]]), np.asarray([0.9], np.float32))
        assert screen.copies(pair, judged) == ({}, set()) and tested == []
        found, _ = screen.copies(pair, {})  # not judged: tested, and a copy
        assert tested == [{"original", "small"}] and found[key].kind == "copy"
