"""settings: JSON round trip and tolerant loading."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lookalike.settings import Settings, settings_path


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "settings.json"
    settings = Settings(
        preset="best", threads=3, exclude=["/mnt/x"], dba=False, rerank=False, rotate=True
    )
    settings.save(path)
    assert Settings.load(path) == settings
    assert not path.with_name("settings.json.tmp").exists()


def test_search_options_default_on_except_rotation() -> None:
    settings = Settings()
    assert (settings.dba, settings.rerank, settings.rotate) == (True, True, False)


def test_a_file_from_before_the_search_options_still_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"preset": "fast", "threads": 2, "exclude": ["/mnt/x"]}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="lookalike.settings"):
        loaded = Settings.load(path)
    assert loaded == Settings(preset="fast", threads=2, exclude=["/mnt/x"])
    assert not caplog.records


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / "none.json") == Settings()


def test_default_path_follows_lookalike_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path))
    Settings(threads=2).save()
    assert settings_path() == tmp_path / "settings.json"
    assert Settings.load().threads == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", Settings()),
        ("[1, 2]", Settings()),
        ('{"preset": "huge", "threads": 2}', Settings(threads=2)),
        ('{"threads": -1, "exclude": "nope", "preset": "fast"}', Settings(preset="fast")),
        ('{"threads": true}', Settings()),
        ('{"colour": "blue", "threads": 4}', Settings(threads=4)),
        ('{"dba": 0, "rerank": "no", "rotate": true}', Settings(rotate=True)),
        ('{"rotate": null, "dba": false}', Settings(dba=False)),
    ],
)
def test_broken_files_fall_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, expected: Settings
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="lookalike.settings"):
        assert Settings.load(path) == expected
    assert caplog.records, "a warning is logged"


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert Settings.load(path) == Settings()


@pytest.mark.parametrize(("dba", "rerank", "rotate"), [(True, True, False), (False, False, True)])
def test_each_search_takes_its_options_from_the_settings(
    dba: bool, rerank: bool, rotate: bool
) -> None:
    from lookalike.library import search_options
    from lookalike.search.defaults import DBA_K

    options = search_options(Settings(dba=dba, rerank=rerank, rotate=rotate), top=7)
    assert (options.dba, options.rerank, options.rotate, options.top) == (
        DBA_K if dba else 0, rerank, rotate, 7)
