"""Shared pytest setup: import paths, a private ``$LOOKALIKE_HOME``, and generated test photos."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DESKTOP = REPO_ROOT / "desktop"

# The package lives under desktop/ (src layout) and may not be installed in the venv; the
# tests also import ``tests.fakes``. Both need their folders on sys.path.
for _folder in (DESKTOP, REPO_ROOT):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Accept pyproject's ``timeout`` setting when pytest-timeout is not installed."""
    if importlib.util.find_spec("pytest_timeout") is None:
        parser.addini("timeout", "per-test timeout (used by pytest-timeout when installed)")


@pytest.fixture(autouse=True)
def _private_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point ``$LOOKALIKE_HOME`` at a fresh folder so no test touches the user's library."""
    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def embedder() -> object:
    """A fresh :class:`tests.fakes.FakeEmbedder`."""
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()
