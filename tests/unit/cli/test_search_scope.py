"""``lookalike search --in PATH --from DAY --to DAY``: only photos of those folders and days
(EXIF date, else file time) come back (FakeEmbedder, real catalog and hnswlib index)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from tests.fakes import FakeEmbedder, pattern, write_photo

from lookalike import app


def lookalike(*argv: str | Path) -> int:
    return app.run([str(a) for a in argv], make_embedder=lambda _settings: FakeEmbedder())


def _at(path: Path, day: dt.date) -> Path:
    stamp = dt.datetime(day.year, day.month, day.day, 12).timestamp()
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    """Photos in trip/ (2021) and home/ (2022), one trip photo with an EXIF date of 2019."""
    photos = tmp_path / "photos"
    for i in range(4):
        _at(write_photo(photos / "trip" / f"t{i}.jpg", i), dt.date(2021, 7, 1 + i))
        _at(write_photo(photos / "home" / f"h{i}.jpg", 10 + i), dt.date(2022, 1, 1 + i))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2019:06:01 10:00:00"
    old = photos / "trip" / "sub" / "old.jpg"
    old.parent.mkdir()
    pattern(20).save(old, quality=90, exif=exif)
    _at(old, dt.date(2021, 7, 9))  # file time in 2021, taken in 2019
    home = tmp_path / "lib"
    assert lookalike("--library", home, "index", photos) == 0
    return home, photos.resolve()


def _found(capsys: pytest.CaptureFixture[str], home: Path, query: Path, *flags: str) -> set[str]:
    capsys.readouterr()
    assert lookalike("--library", home, "search", query, "--json", "--top", "50", *flags) == 0
    return {Path(m["path"]).name for m in json.loads(capsys.readouterr().out)}


def test_in_limits_to_folders(library: tuple[Path, Path],
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    home, photos = library
    query = photos / "home" / "h0.jpg"
    assert _found(capsys, home, query) == {"t0.jpg", "t1.jpg", "t2.jpg", "t3.jpg", "old.jpg",
                                           "h1.jpg", "h2.jpg", "h3.jpg"}  # fmt: skip
    assert _found(capsys, home, query, "--in", str(photos / "trip")) == {
        "t0.jpg", "t1.jpg", "t2.jpg", "t3.jpg", "old.jpg"}  # fmt: skip
    assert _found(capsys, home, query, "--in", str(photos / "trip" / "sub"),
                  "--in", str(photos / "home")) == {"old.jpg", "h1.jpg", "h2.jpg", "h3.jpg"}


def test_dates_use_exif_else_file_time(library: tuple[Path, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    home, photos = library
    query = photos / "home" / "h0.jpg"
    assert _found(capsys, home, query, "--from", "2021-07-02", "--to", "2021-07-31") == {
        "t1.jpg", "t2.jpg", "t3.jpg"}  # old.jpg's file time is in range, its EXIF date is not
    assert _found(capsys, home, query, "--to", "2019-12-31") == {"old.jpg"}
    assert _found(capsys, home, query, "--from", "2022-01-01", "--in", str(photos / "trip")) \
        == set()  # fmt: skip


def test_bad_scope_arguments_are_explained(library: tuple[Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    home, photos = library
    query = photos / "home" / "h0.jpg"
    assert lookalike("--library", home, "search", query, "--from", "2021-13-01") == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert lookalike("--library", home, "search", query, "--in", photos / "nowhere") == 1
    assert "no such folder" in capsys.readouterr().err
    assert lookalike("--library", home, "search", query, "--from", "2022-01-02",
                     "--to", "2022-01-01") == 1  # fmt: skip
    assert "after --to" in capsys.readouterr().err
