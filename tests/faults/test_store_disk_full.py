"""Case 6: a full disk never leaves a short index file, and says so plainly.

The library lives on a 2 MB tmpfs the test mounts itself (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_library
from tests.faults.store_helpers import lookalike

from lookalike.errors import DiskFull
from lookalike.library import Library
from lookalike.store.hnsw import VectorIndex


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a fresh 2 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_saving_the_index_on_a_full_disk_keeps_the_old_file(small_disk: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 256)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = VectorIndex(256, "m")
    index.add(np.arange(100), x[:100])
    path = small_disk / "index.hnsw"
    index.save(path)
    before = path.read_bytes()
    index.add(np.arange(100, 600), x[100:])
    filler = _fill(small_disk)
    with pytest.raises(DiskFull, match=r"disk holding the library is full.*nothing was lost"):
        index.save(path)
    assert path.read_bytes() == before  # never a short or empty index
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "index.hnsw",
                                                            "index.hnsw.json"]
    filler.unlink()
    index.save(path)
    assert VectorIndex.load(path, "m", 256).live_count == 600


def test_indexing_onto_a_full_disk_says_so_and_loses_nothing(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "photos"
    photos = write_library(root, 6)
    home = small_disk / "lib"
    assert lookalike("--library", home, "index", root) == 0
    more = write_library(root, 60, first_seed=100)
    library = Library.open(home, FakeEmbedder())
    filler = _fill(small_disk)
    with pytest.raises(DiskFull) as caught:
        list(library.sync())
    with contextlib.suppress(DiskFull):  # the index may be unchanged, or fail to save
        library.close()
    assert (home / "index.hnsw").stat().st_size > 0
    message = str(caught.value)
    assert "the disk holding the library is full" in message and "nothing was lost" in message
    os.unlink(filler)
    capsys.readouterr()
    assert lookalike("--library", home, "index", root) == 0
    assert f"{len(photos) + len(more)} indexed" in capsys.readouterr().out
    assert lookalike("--library", home, "check") == 0


def test_the_cli_reports_a_full_disk_without_a_traceback(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "photos"
    write_library(root, 40)
    home = small_disk / "lib"
    home.mkdir()
    filler = _fill(small_disk)
    os.truncate(filler, filler.stat().st_size - 96 * 1024)  # room to open, not to index
    assert lookalike("--library", home, "index", root) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "lookalike: the disk holding the library is full" in err


def test_a_full_disk_turns_the_vector_cache_off_without_an_error(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import numpy as np

    from lookalike.store.vector_cache import VectorCache
    from lookalike.store.vectors import vector_crc32

    cache = VectorCache(small_disk / "vectors.cache")
    x = np.random.default_rng(1).standard_normal((4, 1280)).astype(np.float32)
    cache.write("m", [0, 1], x[:2])
    filler = _fill(small_disk)
    cache.write("m", [2000, 2001], x[2:])  # past the end: new blocks that the disk lacks
    assert "vector cache" in caplog.text and "No space" in caplog.text
    assert cache.read("m", 1280, [0, 1], [vector_crc32(v) for v in x[:2]])[0] == []  # off
    filler.unlink()
    cache.close()
