"""A photo searched with is decoded once, and its pixels can be shown without a second decode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from tests.fakes import FakeEmbedder, write_library, write_photo

from lookalike.decode import image as decode_image
from lookalike.decode import query as decode_query
from lookalike.errors import UnreadablePhoto
from lookalike.library import Library, SearchOptions


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Library, list[Path]]]:
    paths = write_library(tmp_path / "photos", 6)
    lib = Library.open(tmp_path / "home", FakeEmbedder())
    lib.add_root(tmp_path / "photos")
    for _ in lib.sync():
        pass
    yield lib, paths
    lib.close()


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every photo decoded from now on (through whichever module calls ``decode``)."""
    seen: list[Path] = []
    real = decode_image.decode

    def counted(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(Path(source))
        return real(source, *args, **kwargs)

    for module in (decode_image, decode_query):
        monkeypatch.setattr(module, "decode", counted)
    return seen


def collector() -> tuple[list[npt.NDArray[np.uint8]], Callable[[npt.NDArray[np.uint8]], None]]:
    got: list[npt.NDArray[np.uint8]] = []
    return got, got.append


def test_an_outside_photo_is_decoded_once_and_handed_over(
    library: tuple[Library, list[Path]], tmp_path: Path, decodes: list[Path]
) -> None:
    lib, paths = library
    outside = write_photo(tmp_path / "outside.jpg", 3, size=(300, 200))
    got, keep = collector()
    result = lib.search(outside, SearchOptions(top=3), on_pixels=keep)
    assert decodes == [outside.resolve()]
    assert len(got) == 1 and got[0].dtype == np.uint8 and got[0].shape[2] == 3
    decodes.clear()
    expected = FakeEmbedder().embed_file(outside)  # what indexing would store for it
    np.testing.assert_array_equal(result.query.vector, expected.vector)
    assert result.matches[0].path == paths[3].resolve()


def test_a_library_photo_is_not_decoded_at_all(
    library: tuple[Library, list[Path]], decodes: list[Path]
) -> None:
    lib, paths = library
    got, keep = collector()
    result = lib.search(paths[2], SearchOptions(top=3), on_pixels=keep)
    assert decodes == [] and got == []
    assert paths[2].resolve() not in [m.path for m in result.matches]


def test_a_crop_hands_over_the_cropped_pixels(
    library: tuple[Library, list[Path]], tmp_path: Path
) -> None:
    lib, _paths = library
    outside = write_photo(tmp_path / "outside.png", 4, size=(300, 200))
    got, keep = collector()
    lib.search(outside, SearchOptions(top=3), crop=(0.0, 0.0, 0.5, 1.0), on_pixels=keep)
    assert [a.shape for a in got] == [(200, 150, 3)]


def test_warm_up_without_a_model_does_nothing(library: tuple[Library, list[Path]]) -> None:
    lib, _paths = library
    lib.warm_up()  # the fake embedder has no session to warm: no error


def test_a_prepared_photo_is_searched_without_decoding_it_again(
    library: tuple[Library, list[Path]], tmp_path: Path, decodes: list[Path]
) -> None:
    lib, paths = library
    outside = write_photo(tmp_path / "outside.jpg", 3, size=(300, 200))
    lib.prepare(outside)
    lib.prepare(outside)  # dragged in again: nothing to do
    assert decodes == [outside.resolve()]
    got, keep = collector()
    result = lib.search(outside, SearchOptions(top=3), on_pixels=keep)
    assert decodes == [outside.resolve()] and len(got) == 1
    assert result.matches[0].path == paths[3].resolve()


def test_a_photo_changed_after_it_was_prepared_is_decoded_again(
    library: tuple[Library, list[Path]], tmp_path: Path, decodes: list[Path]
) -> None:
    lib, paths = library
    outside = write_photo(tmp_path / "outside.jpg", 3, size=(300, 200))
    lib.prepare(outside)
    write_photo(outside, 5, size=(300, 240))  # another photo under the same name
    result = lib.search(outside, SearchOptions(top=3))
    assert len(decodes) == 2
    assert result.matches[0].path == paths[5].resolve()


def test_a_library_photo_or_an_unreadable_file_is_not_prepared(
    library: tuple[Library, list[Path]], tmp_path: Path, decodes: list[Path]
) -> None:
    lib, paths = library
    lib.prepare(paths[1])
    assert decodes == []
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    with pytest.raises(UnreadablePhoto):
        lib.prepare(broken)
    lib.prepare(tmp_path / "gone.jpg")  # vanished before it was dropped: nothing to do
