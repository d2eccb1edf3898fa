"""What the integrity checks at open cost: ``PRAGMA quick_check`` of the catalog and the CRC-32
of the index file, against a plain read of the same bytes measured in the same run; and the
library's catalog open (lock + open) after an unclean shutdown (quick_check) and after a clean
close (skipped).

A synthetic catalog of N photos (1280-d vectors, 17 KB of local features each, like the
balanced preset) and an index of N vectors are written to a temporary folder.

python benchmarks/open_checks.py [--photos 10000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from lookalike.library.integrity import open_catalog
from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import forget_clean_close
from lookalike.store.hnsw import VectorIndex
from lookalike.store.hnsw_files import file_crc32

DIM, LOCALS_BYTES = 1280, 17_412


def _seconds(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def _read_all(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def _open_and_close(folder: Path) -> None:
    lock, catalog, _notes = open_catalog(folder, "catalog.sqlite", "index.hnsw")
    catalog.close()
    lock.release()  # records the clean close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    n = parser.parse_args().photos
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Catalog.open(folder / "catalog.sqlite") as cat:
            root = cat.add_root(folder)
            with cat.transaction():
                for i in range(n):
                    pid = cat.upsert_pending(root, folder / f"p{i}.jpg", 1, 1, None)
                    v = rng.standard_normal(DIM).astype(np.float32)
                    cat.set_indexed(pid, "m", v / np.linalg.norm(v), b"", os.urandom(LOCALS_BYTES))
        conn = sqlite3.connect(folder / "catalog.sqlite")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        x = rng.standard_normal((n, DIM)).astype(np.float32)
        index = VectorIndex(DIM, "m", capacity=n)
        index.add(np.arange(n), x / np.linalg.norm(x, axis=1, keepdims=True))
        index.save(folder / "index.hnsw")
        cat_mb = (folder / "catalog.sqlite").stat().st_size / 1e6
        idx_mb = (folder / "index.hnsw").stat().st_size / 1e6
        read_cat = _seconds(lambda: _read_all(folder / "catalog.sqlite"))
        open_s = _seconds(lambda: Catalog.open(folder / "catalog.sqlite").close())
        forget_clean_close(folder / "catalog.sqlite")  # as a crash leaves it
        unclean_s = _seconds(lambda: _open_and_close(folder))
        clean_s = min(_seconds(lambda: _open_and_close(folder)) for _ in range(3))
        read_idx = _seconds(lambda: _read_all(folder / "index.hnsw"))
        crc_s = _seconds(lambda: file_crc32(folder / "index.hnsw"))
    print(f"load {os.getloadavg()[0]:.1f}; {n} photos")
    print(f"catalog {cat_mb:.0f} MB: open with quick_check {open_s:.2f} s, plain read "
          f"{read_cat:.2f} s (ratio {open_s / read_cat:.1f})")
    print(f"library catalog open: after an unclean shutdown {unclean_s:.3f} s, after a clean "
          f"close {clean_s:.3f} s (ratio {unclean_s / clean_s:.0f})")
    print(f"index {idx_mb:.0f} MB: CRC-32 {crc_s:.2f} s, plain read {read_idx:.2f} s "
          f"(ratio {crc_s / read_idx:.1f})")


if __name__ == "__main__":
    main()
