"""VectorCache on a real file: a slot is used only when it holds the vector the index names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lookalike.store.vector_cache import HEADER, VectorCache
from lookalike.store.vectors import vector_crc32

MODEL = "model-a"
DIM = 16
UnitVectors = Callable[..., np.ndarray]


def crcs(vectors: np.ndarray) -> list[int | None]:
    return [vector_crc32(v) for v in vectors]


def test_written_vectors_read_back_only_for_their_digests(tmp_path: Path,
                                                           unit_vectors: UnitVectors) -> None:
    cache = VectorCache(tmp_path / "vectors.cache")
    vecs = unit_vectors(5)
    cache.write(MODEL, [3, 9, 40, 41, 1000], vecs)
    digests = crcs(vecs)
    ids, got = cache.read(MODEL, DIM, [3, 9, 40, 41, 1000], digests)
    assert ids == [3, 9, 40, 41, 1000]
    assert got.dtype == np.float32 and got.tobytes() == vecs.tobytes()
    # another vector's digest, a photo not live in the index (None), a slot never written
    # (a hole: zeros) and one past the end of the file: no hit
    ids, got = cache.read(MODEL, DIM, [3, 9, 5, 5000], [digests[1], None, vector_crc32(vecs[0]),
                                                       digests[0]])  # fmt: skip
    assert ids == [] and got.shape == (0, DIM)
    cache.close()
    again = VectorCache(tmp_path / "vectors.cache")  # kept across sessions
    ids, got = again.read(MODEL, DIM, [40, 3], [digests[2], digests[0]])
    assert ids == [40, 3] and np.array_equal(got, vecs[[2, 0]])
    again.close()


def test_a_torn_slot_is_a_miss_and_is_written_again(tmp_path: Path,
                                                    unit_vectors: UnitVectors) -> None:
    path = tmp_path / "vectors.cache"
    cache = VectorCache(path)
    vecs = unit_vectors(3)
    cache.write(MODEL, [0, 1, 2], vecs)
    cache.close()
    with open(path, "r+b") as f:  # a crash in the middle of rewriting slot 1
        f.seek(HEADER + 1 * DIM * 4 + 20)
        f.write(b"\x7f" * 9)
    ids, _ = cache.read(MODEL, DIM, [0, 1, 2], crcs(vecs))
    assert ids == [0, 2]
    cache.write(MODEL, [1], vecs[1:2])
    ids, got = cache.read(MODEL, DIM, [0, 1, 2], crcs(vecs))
    assert ids == [0, 1, 2] and np.array_equal(got, vecs)
    cache.close()


def test_another_model_starts_the_file_again(tmp_path: Path, unit_vectors: UnitVectors) -> None:
    path = tmp_path / "vectors.cache"
    cache = VectorCache(path)
    vecs = unit_vectors(4)
    cache.write(MODEL, [1, 2, 3, 4], vecs)
    assert cache.read("model-b", DIM, [1], crcs(vecs[:1]))[0] == []  # read: nothing, kept
    assert cache.read(MODEL, DIM, [1], crcs(vecs[:1]))[0] == [1]
    assert cache.read(MODEL, 8, [1], crcs(vecs[:1]))[0] == []  # another dimension
    other = unit_vectors(1, dim=8, seed=1)
    cache.write("model-b", [2], other)  # the switched library's first write
    assert cache.read(MODEL, DIM, [1, 2], crcs(vecs[:2]))[0] == []
    assert cache.read("model-b", 8, [2], crcs(other))[0] == [2]
    assert path.stat().st_size == HEADER + 3 * 8 * 4  # the old slots are gone
    cache.close()


def test_a_damaged_header_gives_no_hits_until_written(tmp_path: Path,
                                                      unit_vectors: UnitVectors) -> None:
    path = tmp_path / "vectors.cache"
    vecs = unit_vectors(2)
    cache = VectorCache(path)
    cache.write(MODEL, [0, 1], vecs)
    cache.close()
    path.write_bytes(b"not a cache" + path.read_bytes()[11:])
    assert cache.read(MODEL, DIM, [0, 1], crcs(vecs))[0] == []
    cache.write(MODEL, [1], vecs[1:])
    assert cache.read(MODEL, DIM, [0, 1], crcs(vecs))[0] == [1]
    cache.close()


def test_a_cache_that_cannot_be_written_is_off_and_never_raises(
    tmp_path: Path, unit_vectors: UnitVectors, caplog: pytest.LogCaptureFixture
) -> None:
    cache = VectorCache(tmp_path / "missing-folder" / "vectors.cache")
    vecs = unit_vectors(2)
    cache.write(MODEL, [0, 1], vecs)
    assert "vector cache" in caplog.text
    assert cache.read(MODEL, DIM, [0, 1], crcs(vecs))[0] == []
    cache.close()
