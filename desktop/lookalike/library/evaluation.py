"""The parts ``lookalike eval`` measures with: the shipped embedder, an in-memory store and the
search pipeline ``Library.search`` runs, so the CLI reaches them through ``library`` only.

Nothing here is a second copy of a search step: each name is the one the library uses.
"""

from __future__ import annotations

from pathlib import Path

from lookalike.embed.model import Embedder
from lookalike.embed.presets import PRESETS
from lookalike.search.metrics import evaluate
from lookalike.search.pipeline import SearchOptions, search
from lookalike.search.rerank import DEFAULT_PARAMS
from lookalike.search.similar import Match
from lookalike.store.memory import MemoryStore, stored_form

__all__ = [
    "DEFAULT_PARAMS", "Embedder", "Match", "MemoryStore", "SearchOptions", "bench_embedder",
    "evaluate", "search", "stored_form",
]


def bench_embedder(
    preset: str, models: Path, scales: list[int] | None, threads: int, local_features: bool
) -> Embedder:
    """The embedder of a quality preset, as the library builds it, with eval's overrides.

    Args:
        preset: a preset name ("fast", "balanced", "best").
        models: the folder holding the preset's ONNX file.
        scales: decode sides in pixels, largest first (None: the preset's).
        threads: onnxruntime intra-op threads (0: its default).
        local_features: also extract local features (for re-ranking).
    """
    chosen = PRESETS[preset]
    return Embedder(models / chosen.model_file, scales or chosen.scales, threads,
                    local_features=chosen.local_features or local_features)  # fmt: skip
