"""The search's copy test plumbing: query variants, candidate files, unreadable photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image
from tests.unit.search.test_copy_pixels import _texture

from lookalike.errors import UnreadablePhoto
from lookalike.search.copy_check import CopyPixels, QueryImage, dihedral
from lookalike.search.verdict import IDENTITY
from lookalike.types import Locals


def test_dihedral_follows_the_order_of_the_query_turns() -> None:
    from lookalike.decode.query import turns

    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    for variant, expected in enumerate(turns(rgb, mirror=True)):
        assert np.array_equal(dihedral(rgb, variant), expected)


def test_variants_are_embedded_once_and_only_for_the_upright_query() -> None:
    calls: list[tuple[int, ...]] = []

    def embed(rgb: npt.NDArray[np.uint8]) -> Locals:
        calls.append(rgb.shape)
        return np.zeros((1, 4), np.float32)

    image = QueryImage(np.zeros((20, 30, 3), np.uint8), embed)
    assert image.variant_locals(1) is not None and image.variant_locals(1) is not None
    assert calls == [(30, 20, 3)]  # a quarter turn, embedded once
    assert image.turned(1).variant_locals(4) is None  # no variants of a variant


def test_a_copy_of_the_query_file_passes_and_unreadable_files_do_not(tmp_path: Path) -> None:
    rgb = _texture(5)
    Image.fromarray(rgb).save(tmp_path / "query.png")
    Image.fromarray(rgb).resize((400, 300)).save(tmp_path / "small.jpg", quality=80)
    Image.fromarray(rgb[:, ::-1]).save(tmp_path / "mirror.png")
    (tmp_path / "broken.jpg").write_bytes(b"no photo")
    files = {1: tmp_path / "small.jpg", 2: tmp_path / "mirror.png", 3: tmp_path / "broken.jpg"}
    pixels = CopyPixels(QueryImage(tmp_path / "query.png"), files.get)
    assert pixels.is_copy(1, IDENTITY)
    assert not pixels.is_copy(2, IDENTITY)  # the mirror does not align as it is...
    assert pixels.is_copy(2, IDENTITY, variant=4)  # ...but with the mirrored query
    assert not pixels.is_copy(3, IDENTITY) and not pixels.is_copy(4, IDENTITY)


def test_an_unreadable_query_gives_no_pixels() -> None:
    def fail() -> npt.NDArray[np.uint8]:
        raise UnreadablePhoto(Path("x.jpg"), "broken")

    image = QueryImage(fail)
    assert image.gray() is None
    assert not CopyPixels(image, lambda _: Path("y.jpg")).is_copy(1, IDENTITY)
