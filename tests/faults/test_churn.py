"""Watcher churn (issue 12): thousands of fast file operations, folders moved out and in, the
root renamed away and back (quickly, and for longer than the watcher's root check), then the
catalog must equal the disk, every vector fresh. Real watchdog, SQLite, hnswlib; FakeEmbedder.

The default run does 150 operations; ``scripts/fault_runs.sh`` does 3,000.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest
from tests.fakes import FakeEmbedder, write_photo

from lookalike.library import Library

pytestmark = pytest.mark.slow

OPS = int(os.environ.get("LOOKALIKE_CHURN_OPS", "150"))


class Churn:
    def __init__(self, root: Path, outside: Path, rng: random.Random) -> None:
        self.root, self.outside, self.rng, self.seed = root, outside, rng, 0

    def photos(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.jpg") if p.is_file())

    def new(self, folder: Path) -> None:
        write_photo(folder / f"n{self.seed:05d}.jpg", self.seed, size=(48, 36))
        self.seed += 1

    def step(self) -> None:
        """One random operation on the root."""
        photos, action = self.photos(), self.rng.random()
        folder = self.root / f"f{self.rng.randrange(6)}"
        if action < 0.4 or len(photos) < 10:
            self.new(folder)
        elif action < 0.55:
            self.rng.choice(photos).unlink()
        elif action < 0.7:
            write_photo(self.rng.choice(photos), self.seed, size=(48, 36))  # rewritten
            self.seed += 1
        elif action < 0.9:
            src = self.rng.choice(photos)
            folder.mkdir(exist_ok=True)
            src.rename(folder / f"m{self.seed:05d}.jpg")
            self.seed += 1
        elif action < 0.96 and folder.is_dir():  # a folder out of the root and back in
            away = self.outside / f"{folder.name}-{self.seed}"
            shutil.move(folder, away)
            self.seed += 1
            if self.rng.random() < 0.7:
                shutil.move(away, self.root / f"back{self.seed}")
        else:
            self.new(self.root / f"deep{self.seed % 3}" / "a" / "b")

    def rename_root_away_and_back(self, pause_s: float) -> None:
        away = self.root.with_name(self.root.name + "_away")
        self.root.rename(away)
        write_photo(away / f"while_away{self.seed}.jpg", self.seed, size=(48, 36))
        self.seed += 1
        time.sleep(pause_s)  # shorter and longer than the watcher's 2 s root check
        away.rename(self.root)


def test_churn_with_the_root_renamed_away_and_back(tmp_path: Path) -> None:
    root, outside = (tmp_path / "photos").resolve(), tmp_path / "outside"
    outside.mkdir()
    churn = Churn(root, outside, random.Random(3000))
    for _ in range(60):
        churn.new(root / "start")
    embedder = FakeEmbedder()
    library = Library.open(tmp_path / "home", embedder)
    try:
        library.add_root(root)
        list(library.sync())
        handle = library.watch(debounce_s=0.2)
        for i in range(OPS):
            churn.step()
            if i in (OPS // 3, 2 * OPS // 3):
                churn.rename_root_away_and_back(0.2 if i == OPS // 3 else 3.0)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert handle.wait_idle(timeout_s=max(1.0, deadline - time.monotonic()))
            catalog = {p: s for _, p, s in library.photos_under(root)}
            if set(catalog) == set(churn.photos()):
                break
            time.sleep(0.5)  # the root check may still be due
        catalog = {p: s for _, p, s in library.photos_under(root)}
        on_disk = set(churn.photos())
        assert set(catalog) == on_disk, (sorted(set(catalog) - on_disk)[:5],
                                         sorted(on_disk - set(catalog))[:5])
        assert set(catalog.values()) == {"indexed"}
        status = library.status()
        assert status.index_size == status.indexed == len(on_disk)
        fake = FakeEmbedder()
        for photo_id, path, _ in library.photos_under(root):
            stored = library.embedding(photo_id)
            assert stored is not None
            assert float(stored.vector @ fake.embed_file(path).vector) > 0.999, f"stale: {path}"
    finally:
        library.close()
