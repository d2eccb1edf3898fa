"""The second vector space of a model switch: ``vectors_next`` beside ``vectors``.

While the library moves to another model, the new vectors (global vector, peaks, local
features) are stored in ``vectors_next``; ``vectors`` and the index keep serving searches. The
table, its two triggers and the ``switch`` meta row exist only during a switch: :func:`begin`
creates them, :func:`swap` (one transaction: the new vectors become ``vectors``) or
:func:`drop` removes them. Creating them on demand keeps the schema version untouched: a
catalog without a switch is a plain v5 one, and a kill at any moment leaves either the old
space whole (the switch resumes) or, once the swap committed, the new one.

A new vector is valid only for the content it was made from. The triggers drop it when the
photo's old vector is dropped (a changed, skipped or damaged photo) or when the photo goes back
to 'pending' (a changed file); :func:`store` is only called for a photo row that is unchanged
since it was read (the caller checks it, as ``CatalogWriter.commit`` does).

Runs on the catalog's connection (its private helpers): the SQL of the second space lives here
so that ``catalog.py`` does not grow.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lookalike.errors import BugError
from lookalike.store.catalog import Catalog, PhotoRow
from lookalike.store.hnsw import check_vectors, vector_crc32
from lookalike.types import vector_to_bytes

log = logging.getLogger(__name__)

SWITCH_KEY = "switch"
"""``meta`` key of the switch in progress (JSON: model_id, dim, preset)."""

_TABLE = """
CREATE TABLE IF NOT EXISTS vectors_next (
    photo_id     INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    model_id     TEXT NOT NULL,
    vector       BLOB NOT NULL,
    peaks        BLOB NOT NULL,
    vector_crc32 INTEGER NOT NULL,
    locals       BLOB,
    locals_crc32 INTEGER
)"""
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS vectors_next_old_dropped AFTER DELETE ON vectors "
    "BEGIN DELETE FROM vectors_next WHERE photo_id = OLD.photo_id; END",
    "CREATE TRIGGER IF NOT EXISTS vectors_next_pending AFTER UPDATE OF status ON photos "
    "WHEN NEW.status = 'pending' BEGIN DELETE FROM vectors_next WHERE photo_id = NEW.id; END",
)
_DROP = (
    "DROP TRIGGER IF EXISTS vectors_next_old_dropped",
    "DROP TRIGGER IF EXISTS vectors_next_pending",
    "DROP TABLE IF EXISTS vectors_next",
)
# Photos the switch still has to embed: searchable or waiting, without a new vector.
_TODO = ("FROM photos p WHERE p.status IN ('indexed', 'pending') "
         "AND NOT EXISTS (SELECT 1 FROM vectors_next n WHERE n.photo_id = p.id)")  # fmt: skip
_COLUMNS = "photo_id, model_id, vector, peaks, vector_crc32, locals, locals_crc32"


@dataclass(frozen=True)
class Target:
    """The space a switch moves to.

    Attributes:
        model_id: the new model's id.
        dim: its descriptor size D.
        preset: the preset name the user chose (None: an app update changed the model).
    """

    model_id: str
    dim: int
    preset: str | None


def target(catalog: Catalog) -> Target | None:
    """The switch in progress, or None."""
    raw = catalog.get_meta(SWITCH_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        found = Target(str(data["model_id"]), int(data["dim"]), data.get("preset"))
    except (ValueError, KeyError, TypeError):
        log.warning("catalog %s: unreadable switch record dropped", catalog.path)
        drop(catalog)
        return None
    if not catalog._one("SELECT count(*) FROM sqlite_master WHERE name = 'vectors_next'"):
        log.warning("catalog %s: the new vectors were lost (a salvaged catalog); the switch "
                    "starts again", catalog.path)  # fmt: skip
        _create(catalog)
    return found


def begin(catalog: Catalog, new: Target) -> None:
    """Start (or keep) a switch to ``new``; a switch to another model is dropped first."""
    with catalog.transaction():
        current = target(catalog)
        if current is not None and current.model_id != new.model_id:
            drop(catalog)
        _create(catalog)
        record = {"model_id": new.model_id, "dim": new.dim, "preset": new.preset}
        catalog.set_meta(SWITCH_KEY, json.dumps(record))


def _create(catalog: Catalog) -> None:
    with catalog.transaction():
        for sql in (_TABLE, *_TRIGGERS):
            catalog._write(sql)


def drop(catalog: Catalog) -> None:
    """Forget the switch and its new vectors (the old space is untouched)."""
    with catalog.transaction():
        for sql in _DROP:
            catalog._write(sql)
        catalog._write("DELETE FROM meta WHERE key = ?", (SWITCH_KEY,))


def todo(catalog: Catalog, limit: int) -> list[PhotoRow]:
    """Up to ``limit`` photos still without a new vector, by id."""
    ids = catalog._ids(f"SELECT p.id {_TODO} ORDER BY p.id LIMIT ?", (limit,))
    rows = [catalog.photo_by_id(i) for i in ids]
    return [row for row in rows if row is not None]


def progress(catalog: Catalog) -> tuple[int, int]:
    """(done, total): photos with a new vector, of those the switch has to embed."""
    done = int(catalog._one("SELECT count(*) FROM vectors_next n JOIN photos p ON "
                            "p.id = n.photo_id WHERE p.status IN ('indexed', 'pending')"))
    left = int(catalog._one(f"SELECT count(*) {_TODO}"))
    return done, done + left


def store(
    catalog: Catalog, photo_id: int, new: Target, vector: npt.NDArray[np.float32],
    peaks: bytes, locals_: bytes | None,
) -> None:
    """Store a photo's new vector (D,) float32 unit norm, peaks and local features."""
    if vector.ndim != 1 or vector.shape[0] != new.dim:
        raise BugError(f"new vector must be ({new.dim},), got {vector.shape}")
    vec = check_vectors(vector[None, :], new.dim)[0]
    catalog._write(
        f"INSERT OR REPLACE INTO vectors_next({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (photo_id, new.model_id, vector_to_bytes(vec), peaks, vector_crc32(vec), locals_,
         None if locals_ is None else zlib.crc32(locals_)),
    )


def swap(catalog: Catalog, new: Target) -> None:
    """Make the new space the catalog's, in one transaction (the caller's, if any).

    Photos with a new vector are 'indexed' (pending ones too: they were embedded only in the
    new space); 'indexed' ones without one (none when the switch is complete) go back to
    'pending'. The old model's whitening and retired vectors are dropped.
    """
    with catalog.transaction():
        old = catalog.get_meta("model_id")
        for sql in _DROP[:2]:  # the triggers first: the old vectors are about to go
            catalog._write(sql)
        catalog._write("DELETE FROM vectors")
        catalog._write(f"INSERT INTO vectors({_COLUMNS}) SELECT {_COLUMNS} FROM vectors_next "
                       "n WHERE EXISTS (SELECT 1 FROM photos p WHERE p.id = n.photo_id AND "
                       "p.status IN ('indexed', 'pending', 'offline'))")  # fmt: skip
        catalog._write("UPDATE photos SET status = 'indexed', skip_reason = NULL WHERE "
                       "status = 'pending' AND id IN (SELECT photo_id FROM vectors)")
        catalog._write("UPDATE photos SET status = 'pending', indexed_at_ns = NULL WHERE "
                       "status = 'indexed' AND id NOT IN (SELECT photo_id FROM vectors)")
        catalog._write("DELETE FROM whitening WHERE model_id != ?", (new.model_id,))
        catalog._write("DELETE FROM retired_vectors WHERE model_id != ?", (new.model_id,))
        catalog.set_meta("model_id", new.model_id)
        catalog.set_meta("dim", str(new.dim))
        drop(catalog)
    log.info("catalog %s switched from model %s to %s", catalog.path, old, new.model_id)
