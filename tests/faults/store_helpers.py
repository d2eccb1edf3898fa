"""Shared by the store fault tests: the CLI in-process with the fake embedder, a small library."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.fakes import FakeEmbedder, write_library

from lookalike import app


def lookalike(*argv: str | Path) -> int:
    """Run the CLI in this process with the fake embedder; returns its exit code."""
    return app.run([str(a) for a in argv], make_embedder=lambda _settings: FakeEmbedder())


def indexed_library(tmp_path: Path, count: int = 12) -> tuple[Path, Path, list[Path]]:
    """(library folder, photo root, photos) after ``lookalike index``."""
    home, root = tmp_path / "lib", tmp_path / "photos"
    photos = write_library(root, count)
    assert lookalike("--library", home, "index", root) == 0
    return home, root, photos


def page_of(catalog: Path, table: str) -> tuple[int, int]:
    """(page size, number of the first leaf page of ``table``) in a closed catalog file."""
    conn = sqlite3.connect(catalog)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        root = int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                                (table,)).fetchone()[0])
    finally:
        conn.close()
    return size, root


def smash_page(catalog: Path, table: str, length: int = 600) -> None:
    """Overwrite the last ``length`` bytes (where the cells are) of the root page of ``table``
    with garbage, keeping the file's size."""
    size, page = page_of(catalog, table)
    with open(catalog, "r+b") as f:
        f.seek(page * size - length)
        f.write(bytes((i * 37 + 11) % 256 for i in range(length)))
