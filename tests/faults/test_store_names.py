"""Case 1: a file name that is not UTF-8 is indexed, found and shown like any other."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo
from tests.faults.store_helpers import lookalike

from lookalike.library import Library, SearchOptions

BAD = b"bad\xffname.jpg"


@pytest.fixture
def odd_root(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of 4 photos, one named with a byte that is not UTF-8; (root, that photo)."""
    root = tmp_path / "photos"
    write_library(root, 3)
    odd = Path(os.fsdecode(os.fsencode(root) + b"/" + BAD))
    write_photo(odd, 99)
    return root, odd


def test_a_non_utf8_name_is_indexed_found_and_printed(
    tmp_path: Path, odd_root: tuple[Path, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    root, odd = odd_root
    home = tmp_path / "lib"
    assert lookalike("--library", home, "index", root) == 0
    assert b"Traceback" not in capsysbinary.readouterr().err
    query = shutil.copy(odd, tmp_path / "query.jpg")
    assert lookalike("--library", home, "search", query, "--top", "1") == 0
    out = capsysbinary.readouterr().out
    assert os.fsencode(root) + b"/" + BAD in out  # the bytes the OS gave, as ls prints them
    with Library.open(home, FakeEmbedder()) as library:
        status = library.status()
        assert (status.indexed, status.skipped) == (4, [])
        [match] = library.search(query, SearchOptions(top=1, rerank=False)).matches
        assert os.fsencode(match.path) == os.fsencode(odd) and match.path.exists()
        assert odd in [p for _, p, _ in library.photos_under(root)]


def test_a_non_utf8_name_is_moved_and_removed(
    tmp_path: Path, odd_root: tuple[Path, Path]
) -> None:
    root, odd = odd_root
    with Library.open(tmp_path / "lib", FakeEmbedder()) as library:
        library.add_root(root)
        list(library.sync())
        moved = odd.with_name(os.fsdecode(b"moved\xfe.jpg"))
        odd.rename(moved)
        list(library.sync())
        names = {os.fsencode(p.name) for _, p, _ in library.photos_under(root)}
        assert b"moved\xfe.jpg" in names and BAD not in names
        assert library.status().indexed == 4
        moved.unlink()
        list(library.sync())
        assert library.status().indexed == 3


@pytest.mark.gui
def test_the_window_shows_a_non_utf8_name_without_crashing(
    tmp_path: Path, qtbot: object
) -> None:
    from PySide6.QtCore import Qt

    from lookalike.gui.results_model import PhotoItem, ResultsModel
    from lookalike.gui.thumbnails import ThumbnailCache

    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + BAD))
    write_photo(odd, 1)
    model = ResultsModel(ThumbnailCache(tmp_path / "thumbs"))
    model.set_items([PhotoItem(1, odd, 0.9, 1, "indexed")])
    index = model.index(0)
    assert "name.jpg" in str(model.data(index, Qt.ItemDataRole.DisplayRole))
    assert "name.jpg" in str(model.data(index, Qt.ItemDataRole.ToolTipRole))
    assert model.mimeData([index]).hasUrls()
