"""The preset a library's vectors were made with, recorded in its catalog's ``meta`` table.

``lookalike`` reads it before opening the library so a one-off ``--preset`` never re-embeds a
library made with another one (see ``Library.requested_preset_ignored``).
"""

from __future__ import annotations

import json
from pathlib import Path

from lookalike.embed.presets import PRESETS
from lookalike.store.catalog import Catalog
from lookalike.store.catalog_files import peek_meta
from lookalike.types import PhotoEmbedder

PRESET_KEY = "preset"
"""``meta`` key of the preset the library's vectors were made with (JSON: name, model file,
scales, model id)."""


def record_preset(catalog: Catalog, name: str, embedder: PhotoEmbedder) -> None:
    """Record the preset ``name`` (its model file, scales and ``embedder``'s model id)."""
    chosen = PRESETS.get(name)
    scales = getattr(embedder, "scales", None) or (chosen.scales if chosen else ())
    record = {"name": name, "model_file": chosen.model_file if chosen else None,
              "scales": list(scales), "model_id": embedder.model_id}  # fmt: skip
    catalog.set_meta(PRESET_KEY, json.dumps(record))


def stored_preset(path: Path) -> str | None:
    """The preset name recorded in the catalog file ``path``, or None (none yet, an older
    library, or a catalog that cannot be read).

    The file is only read: no schema is created or migrated before ``Library.open`` holds the
    library's lock and checks, repairs or reports the catalog.
    """
    stored = peek_meta(path, PRESET_KEY) if path.is_file() else None
    try:
        return None if stored is None else str(json.loads(stored)["name"])
    except (ValueError, KeyError, TypeError):
        return None
