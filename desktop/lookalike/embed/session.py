"""Open the exported ONNX models with onnxruntime on the CPU and read their metadata.

Everything that touches onnxruntime itself lives here: its import (with telemetry switched off),
session options, and :class:`ModelInfo` read back from the model's ``metadata_props``. The
pipeline that feeds photos through a session is :mod:`lookalike.embed.model`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.cores import usable_cores
from lookalike.errors import ModelMissing

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"
"""onnxruntime 1.32's Linux build carries a telemetry client (``telemetry_1ds.cc``) that resolves
``mobile.events.data.microsoft.com`` every 5-9 s once a session exists, whatever
``disable_telemetry_events()`` says. It reads this variable once, when its library is loaded:
set to "1" before ``import onnxruntime``, no socket other than AF_UNIX is opened (strace)."""


@dataclass(frozen=True)
class ModelInfo:
    """What the app needs to know about a model, read from its ONNX ``metadata_props``.

    Attributes:
        path: the .onnx file.
        sha256: hex digest of the file (the vector space's identity).
        mean, std: (3,) RGB normalisation, ``(x - mean) / std`` on 0..255 values.
        stride: pixels per feature-map cell; input sides must be multiples of ``size_multiple``.
        levels: R-MAC grid levels below the whole image.
        channels: C, feature-map channels.
        dim: D, descriptor size.
        whitening: provenance of the whitening baked into the graph ("identity" or a description).
        trunk: human-readable trunk name.
        version: the exporter's model version.
        local_output: the output local features are taken from: ``fine_features`` (stride 16,
            model version 2) or, in a model without it, ``features``.
        local_stride: pixels per cell of that output.
    """

    path: Path
    sha256: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    stride: int
    size_multiple: int
    levels: int
    channels: int
    dim: int
    whitening: str
    trunk: str
    version: str
    local_output: str = "features"
    local_stride: int = 32

    @classmethod
    def from_metadata(cls, path: Path, meta: dict[str, str]) -> ModelInfo:
        """Build from a metadata map; raises ModelMissing if it is not a Lookalike R-MAC model."""
        if meta.get("lookalike.format") != "rmac":
            raise ModelMissing(f"{path} is not a Lookalike R-MAC model")
        try:
            return cls(
                path=path,
                sha256=_sha256(path),
                mean=tuple(json.loads(meta["lookalike.mean"])),
                std=tuple(json.loads(meta["lookalike.std"])),
                stride=int(meta["lookalike.stride"]),
                size_multiple=int(meta["lookalike.size_multiple"]),
                levels=int(meta["lookalike.levels"]),
                channels=int(meta["lookalike.channels"]),
                dim=int(meta["lookalike.descriptor_dim"]),
                whitening=meta["lookalike.whitening"],
                trunk=meta["lookalike.trunk"],
                version=meta["lookalike.model_version"],
                local_output=meta.get("lookalike.local_output", "features"),
                local_stride=int(meta.get("lookalike.local_stride", meta["lookalike.stride"])),
            )
        except (KeyError, ValueError) as exc:
            raise ModelMissing(f"{path}: incomplete model metadata ({exc})") from exc

    @classmethod
    def from_onnx(cls, path: Path) -> ModelInfo:
        """Read the metadata of an ONNX file (loads it with onnxruntime)."""
        return cls.from_metadata(path, read_metadata(open_session(path, 1)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _onnxruntime() -> Any:
    """Import onnxruntime with its telemetry switched off (see :data:`TELEMETRY_SWITCH`).

    Nothing leaves the machine, so the switch is forced, not defaulted. If onnxruntime was
    imported before (outside this module), the switch came too late; that is logged.
    """
    if "onnxruntime" not in sys.modules:
        os.environ[TELEMETRY_SWITCH] = "1"
    elif os.environ.get(TELEMETRY_SWITCH) != "1":
        log.warning("onnxruntime was loaded before its telemetry was switched off")
    import onnxruntime

    return onnxruntime


def open_session(path: Path, threads: int, spin: bool = False) -> onnxruntime.InferenceSession:
    ort = _onnxruntime()

    if not path.is_file():
        raise ModelMissing(f"model file not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # By default idle intra-op threads sleep instead of spinning, so the decode thread that runs
    # beside inference gets a core when it needs one (compare: benchmarks/embed_speed.py --spin).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelMissing(f"cannot load model {path}: {exc}") from exc


def read_metadata(session: onnxruntime.InferenceSession) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


def default_threads() -> int:
    """Intra-op threads when the user asks for "auto": every core this process may use."""
    return usable_cores()
