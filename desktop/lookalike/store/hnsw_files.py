"""The files of an hnswlib index: atomic replacement and the JSON sidecar that describes what
the index file holds (model, dimension, whitening, size, live labels with their CRC-32s and the
labels hnswlib holds as deleted)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import KnownError

Ids = npt.NDArray[np.int64]

SIDECAR_FORMAT = 1


class IndexUnusable(KnownError):
    """The index file cannot be used as it is; the caller rebuilds it from the catalog.

    Attributes:
        reason: short text for the log ("missing", "truncated", "built for another model", ...).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def digest_sha256(labels: Ids, crcs: npt.NDArray[np.uint32]) -> str:
    """Checksum of a label set and its vectors' CRCs, independent of order."""
    order = np.argsort(labels, kind="stable")
    h = hashlib.sha256(np.ascontiguousarray(labels[order], dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(crcs[order], dtype="<u4").tobytes())
    return h.hexdigest()


def fsync_replace(tmp: Path, path: Path) -> None:
    """Flush ``tmp``, rename it over ``path`` and make the rename durable (the folder's fsync
    is POSIX-only: Windows cannot open folders)."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if os.name != "nt":
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sidecar_path(path: Path) -> Path:
    """Where the JSON sidecar of index file ``path`` lives."""
    return path.with_name(path.name + ".json")


def sidecar(model_id: str, whitening: str, dim: int, size: int, labels: Ids,
            crcs: npt.NDArray[np.uint32], deleted: Collection[int]) -> dict[str, Any]:  # fmt: skip
    """The sidecar's content for an index file of ``size`` bytes."""
    return {
        "format": SIDECAR_FORMAT,
        "model_id": model_id,
        "whitening": whitening,
        "dim": dim,
        "index_bytes": size,
        "live_count": len(labels),
        "labels_sha256": digest_sha256(labels, crcs),
        "labels": labels.tolist(),
        "crc32": crcs.tolist(),
        "deleted": sorted(deleted),
    }


def read_sidecar(path: Path, model_id: str, dim: int, whitening: str = "") -> dict[str, Any]:
    """Read and check the sidecar of ``path`` (raises IndexUnusable)."""
    if not path.exists():
        raise IndexUnusable("missing")
    try:
        meta: dict[str, Any] = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        labels = np.asarray(meta["labels"], dtype=np.int64).reshape(-1)
        crcs = np.asarray(meta["crc32"], dtype=np.uint32).reshape(-1)
        if len(labels) != meta["live_count"] or len(crcs) != len(labels):
            raise ValueError("counts disagree")
        if digest_sha256(labels, crcs) != meta["labels_sha256"]:
            raise ValueError("label checksum mismatch")
        meta.update(labels=labels, crc32=crcs, deleted={int(x) for x in meta["deleted"]})
        meta.setdefault("whitening", "")  # sidecars written before whitening existed
        expected = {
            "format": SIDECAR_FORMAT,
            "model_id": model_id,
            "dim": dim,
            "whitening": whitening,
        }
        wrong = {key: meta[key] for key, value in expected.items() if meta[key] != value}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
        raise IndexUnusable(f"sidecar unreadable ({e})") from e
    if wrong:
        raise IndexUnusable(f"built for another {', '.join(wrong)}: {wrong}")
    size = path.stat().st_size
    if size != meta["index_bytes"]:
        raise IndexUnusable(f"file is {size} bytes, sidecar says {meta['index_bytes']}")
    return meta
