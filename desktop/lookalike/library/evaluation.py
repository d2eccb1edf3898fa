"""The parts ``lookalike eval`` measures with: the shipped embedder, an in-memory store and the
search pipeline ``Library.search`` runs, so the CLI reaches them through ``library`` only.

Nothing here is a second copy of a search step: each name is the one the library uses.

Verdict scores and ``--task copies``: a bench made by ``benchmarks/make_copies_bench.py`` also
lists ``scenes`` (copy group → other shots of its scene, negatives of copy detection) in its
``groundtruth.json``. Its other shots are then the same *place* as the group's photos (true
same_place results), but never the same *photo*. On a bench without scenes
(``shared/bench/dev``), the place and the copy group are both the group.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lookalike.embed.model import Embedder
from lookalike.embed.presets import PRESETS
from lookalike.errors import KnownError
from lookalike.library.searching import copy_image
from lookalike.search.copy_check import QueryImage
from lookalike.search.metrics import evaluate, verdict_scores
from lookalike.search.pipeline import SearchOptions, search
from lookalike.search.rerank import DEFAULT_PARAMS
from lookalike.search.similar import Match
from lookalike.store.memory import MemoryStore, stored_form

__all__ = [
    "DEFAULT_PARAMS", "Embedder", "Match", "MemoryStore", "QueryImage", "SearchOptions",
    "bench_embedder", "copies_first", "copy_image", "evaluate", "scores_json", "search",
    "stored_form", "truth",
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


def truth(bench: Path, paths: Sequence[Path], labels: Sequence[int],
          task: str) -> tuple[list[int], list[int]]:  # fmt: skip
    """Place and copy-group labels per bench image (-1: none).

    Args:
        bench: the bench folder.
        paths: its images, as ``eval_cmd.load_bench`` lists them.
        labels: their group labels (-1: distractor).
        task: "places" or "copies" (which needs a bench with ``scenes``).

    Raises:
        KnownError: ``--task copies`` on a bench without scenes.
    """
    gt = json.loads((bench / "groundtruth.json").read_text())
    scenes: dict[str, list[str]] = gt.get("scenes", {})
    if task == "copies" and not scenes:
        raise KnownError(f"{bench} is no copies bench (its groundtruth.json lists no 'scenes'; "
                         "make one with benchmarks/make_copies_bench.py)")
    group_label = {name: label for label, name in enumerate(gt["groups"])}
    shot_label = {str(bench / p): group_label[name] for name, shots in scenes.items()
                  for p in shots if name in group_label}  # fmt: skip
    place = [shot_label.get(str(p), label) for p, label in zip(paths, labels, strict=True)]
    return place, list(labels)


def copies_first(rankings: Sequence[Sequence[Match]]) -> list[list[Match]]:
    """``--task copies`` answers "is it the same photo?": each query's same_photo results move
    ahead of the rest (stable: best first within both), renumbered from rank 1."""
    return [[replace(m, rank=r) for r, m in enumerate(
        sorted(matches, key=lambda m: m.verdict != "same_photo"), start=1)]
        for matches in rankings]  # fmt: skip


def scores_json(rankings: Sequence[Sequence[Match]], place: Sequence[int],
                photo: Sequence[int], depth: int) -> dict[str, Any]:  # fmt: skip
    """The verdict fields of ``eval --json``."""
    s = verdict_scores(rankings, place, photo, depth)
    return {"same_place_precision": s.same_place_precision,
            "same_place_recall": s.same_place_recall,
            "same_photo_precision": s.same_photo_precision,
            "same_photo_recall": s.same_photo_recall}
