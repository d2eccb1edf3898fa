"""The user's settings, stored as JSON in ``paths.config_dir()/settings.json``.

A leaf module: it imports no stage. A missing, unreadable or malformed file gives the defaults
(with a warning for the last two); unknown keys are ignored.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lookalike import paths
from lookalike.embed.presets import DEFAULT_PRESET, PRESET_NAMES

log = logging.getLogger(__name__)

PRESETS = PRESET_NAMES
"""Model presets the embedder knows (defined in :mod:`lookalike.embed.presets`)."""

FILE_NAME = "settings.json"


def settings_path() -> Path:
    """Default location of the settings file."""
    return paths.config_dir() / FILE_NAME


@dataclass
class Settings:
    """What the user chose.

    Attributes:
        preset: model preset, one of :data:`PRESETS`.
        threads: inference threads; 0 = let onnxruntime decide.
        exclude: absolute folders never indexed.
        dba: refine results with each match's nearest photos (database-side augmentation).
        rerank: check the top matches point by point (only with local features).
        rotate: also search with the query turned sideways and upside down.
    """

    preset: str = DEFAULT_PRESET
    threads: int = 0
    exclude: list[str] = field(default_factory=list)
    dba: bool = True
    rerank: bool = True
    rotate: bool = False

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings; fall back to the defaults (field by field) on any problem.

        Args:
            path: the JSON file; default :func:`settings_path`.

        Returns:
            The settings; never raises for a bad file.
        """
        path = path or settings_path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", path, exc)
            return cls()
        if not isinstance(raw, dict):
            log.warning("ignoring settings file %s: not a JSON object", path)
            return cls()
        return cls(**_valid_fields(raw, path))

    def save(self, path: Path | None = None) -> None:
        """Write the settings atomically (temporary file, then rename).

        Args:
            path: the JSON file; default :func:`settings_path`. Its folder is created.

        Raises:
            OSError: the file cannot be written.
        """
        path = path or settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _valid_fields(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """The well-formed known fields of a settings object; warns about the others."""
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        log.warning("%s: ignoring unknown settings %s", path, ", ".join(unknown))
    checks = {
        "preset": lambda v: isinstance(v, str) and v in PRESETS,
        "threads": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "exclude": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "dba": lambda v: isinstance(v, bool),
        "rerank": lambda v: isinstance(v, bool),
        "rotate": lambda v: isinstance(v, bool),
    }
    valid: dict[str, Any] = {}
    for name in known & set(raw):
        if checks[name](raw[name]):
            valid[name] = raw[name]
        else:
            log.warning("%s: ignoring invalid %s=%r", path, name, raw[name])
    return valid
