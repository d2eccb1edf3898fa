"""The files of an hnswlib index: checked atomic saves and the JSON sidecar that describes what
the index file holds (model, dimension, whitening, size, the CRC-32 of the whole file so damage
inside a stored vector is caught at load, live labels with their CRC-32s and the labels hnswlib
holds as deleted, and the projection from the model's D dimensions to the D' the file holds)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.errors import DiskFull, KnownError
from lookalike.store.projection import Projection

Ids = npt.NDArray[np.int64]

SIDECAR_FORMAT = 2
"""2 adds ``file_crc32``; a format-1 index is rebuilt once (nothing vouches for its vectors)."""
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
"""hnswlib's saveIndex header (0.8): offsetLevel0, max_elements, cur_element_count,
size_data_per_element, label_offset, offsetData, maxlevel, enterpoint, maxM, maxM0, M, mult,
ef_construction; then cur_element_count level-0 blocks, then per element a uint32 byte count
and that many bytes of upper-level links."""
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


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


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX-only: Windows cannot open folders)."""
    if os.name != "nt":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_crc32(path: Path, chunk: int = 1 << 20) -> int:
    """CRC-32 of a whole file, read ``chunk`` bytes at a time (about 1 GB/s)."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def hnsw_file_complete(path: Path) -> bool:
    """Whether an hnswlib index file holds every byte its header promises (hnswlib's writer
    ignores write errors, so a full disk leaves a short file that looks saved)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_HNSW_HEADER.size)
        if len(head) < _HNSW_HEADER.size:
            return False
        fields = _HNSW_HEADER.unpack(head)
        count, per_element = int(fields[2]), int(fields[3])
        pos = _HNSW_HEADER.size + count * per_element
        f.seek(pos)
        tail = f.read()
    at = 0
    for _ in range(count):
        if at + 4 > len(tail):
            return False
        at += 4 + int.from_bytes(tail[at : at + 4], "little")
    return pos + at == size


def _disk_full(path: Path, e: OSError | None = None) -> DiskFull:
    detail = f" ({e.strerror})" if e is not None and e.strerror else ""
    return DiskFull(
        f"the disk holding the library is full{detail}: the index {path.name} could not be "
        "saved, so the previous one was kept and nothing was lost (the catalog holds every "
        "vector); free some space and run the command again"
    )


def save_checked(
    path: Path, write_index: Callable[[Path], None], meta: Callable[[int, int], dict[str, Any]]
) -> int:
    """Write an index file and its sidecar atomically (``*.tmp``, fsync, rename, fsync folder).

    Both are written and checked in full before either replaces the old pair; the index file
    is renamed first, and a crash between the two renames leaves a sidecar that no longer
    matches, which the next load detects (size and checksum).

    Args:
        path: the index file.
        write_index: writes the index to the path it is given (hnswlib's ``save_index``).
        meta: the sidecar's content for a file of (size in bytes, CRC-32).

    Returns:
        The index file's size in bytes.

    Raises:
        DiskFull: no room for the files; the previous index and sidecar are untouched.
        OSError: another write error, likewise.
    """
    side = sidecar_path(path)
    tmp, side_tmp = path.with_name(path.name + ".tmp"), side.with_name(side.name + ".tmp")
    try:
        write_index(tmp)
        if not hnsw_file_complete(tmp):
            raise _disk_full(path)
        size = tmp.stat().st_size
        side_tmp.write_text(json.dumps(meta(size, file_crc32(tmp))), encoding="utf-8")
        _fsync(tmp)
        _fsync(side_tmp)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        side_tmp.unlink(missing_ok=True)
        if e.errno in _FULL_ERRNOS:
            raise _disk_full(path, e) from e
        raise
    except DiskFull:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    os.replace(side_tmp, side)
    _fsync_folder(path.parent)
    return size


def sidecar_path(path: Path) -> Path:
    """Where the JSON sidecar of index file ``path`` lives."""
    return path.with_name(path.name + ".json")


def sidecar(model_id: str, whitening: str, dim: int, size: int, crc: int, labels: Ids,
            crcs: npt.NDArray[np.uint32], deleted: Collection[int],
            projection: Projection | None = None) -> dict[str, Any]:  # fmt: skip
    """The sidecar's content for an index file of ``size`` bytes whose CRC-32 is ``crc``
    (``dim``: the model's D; ``index_dim``: what the file holds, D' with a projection)."""
    return {
        "format": SIDECAR_FORMAT,
        "model_id": model_id,
        "whitening": whitening,
        "dim": dim,
        "projection": projection.digest if projection is not None else "",
        "index_dim": projection.dim if projection is not None else dim,
        "index_bytes": size,
        "file_crc32": crc,
        "live_count": len(labels),
        "labels_sha256": digest_sha256(labels, crcs),
        "labels": labels.tolist(),
        "crc32": crcs.tolist(),
        "deleted": sorted(deleted),
    }


def read_sidecar(path: Path, model_id: str, dim: int, whitening: str = "",
                 projection: Projection | None = None) -> dict[str, Any]:  # fmt: skip
    """Read and check the sidecar of ``path`` (raises IndexUnusable; an index saved with
    another projection, or before projections existed, is "built for another projection")."""
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
        if meta["format"] == 1:
            raise IndexUnusable("saved by an older version without a checksum")
        meta.update(labels=labels, crc32=crcs, deleted={int(x) for x in meta["deleted"]})
        meta.setdefault("whitening", "")  # sidecars written before whitening existed
        meta.setdefault("projection", "")  # and before projections
        meta.setdefault("index_dim", meta["dim"])
        expected = {
            "format": SIDECAR_FORMAT,
            "model_id": model_id,
            "dim": dim,
            "whitening": whitening,
            "projection": projection.digest if projection is not None else "",
            "index_dim": projection.dim if projection is not None else dim,
        }
        wrong = {key: meta[key] for key, value in expected.items() if meta[key] != value}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
        raise IndexUnusable(f"sidecar unreadable ({e})") from e
    if wrong:
        raise IndexUnusable(f"built for another {', '.join(wrong)}: {wrong}")
    size = path.stat().st_size
    if size != meta["index_bytes"]:
        raise IndexUnusable(f"file is {size} bytes, sidecar says {meta['index_bytes']}")
    try:
        crc = file_crc32(path)
    except OSError as e:
        raise IndexUnusable(f"unreadable ({e})") from e
    if crc != meta.get("file_crc32"):
        raise IndexUnusable("damaged: its checksum does not match what was saved")
    return meta
