"""Where things live: bundled files (models, resources) and the user's data, cache and config.

This is the only module that knows whether Lookalike runs frozen (PyInstaller) or from source.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Lookalike"
HOME_ENV = "LOOKALIKE_HOME"


def bundle_root() -> Path:
    """The folder holding ``models/`` and ``resources/``: the PyInstaller bundle or the checkout."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root)
    # desktop/lookalike/paths.py -> repository root
    return Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """Folder of the shipped ONNX models."""
    return bundle_root() / "models"


def resources_dir() -> Path:
    """Folder of icons, styles and desktop files."""
    return bundle_root() / "resources"


def resource(*parts: str) -> Path:
    """Path of one bundled resource, e.g. ``resource("icons", "lookalike.svg")``."""
    return resources_dir().joinpath(*parts)


def data_dir() -> Path:
    """The user's library folder (catalog + index); ``$LOOKALIKE_HOME`` overrides it."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Thumbnails and other things that may be deleted at any time."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser() / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Settings file folder."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))
