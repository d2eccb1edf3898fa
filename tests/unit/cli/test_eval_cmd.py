"""``lookalike eval``'s ablation path: the app's search functions give the metric's ranking."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from tests.fakes import fake_peaks

from lookalike.cli import eval_cmd
from lookalike.cli.eval_cmd import ablation_similarity
from lookalike.embed.local import extract
from lookalike.search.metrics import evaluate
from lookalike.search.pipeline import SearchOptions
from lookalike.types import Embedding

PLAIN = SearchOptions(dba=0, rerank=False)


def _bench(n: int = 12, dim: int = 16) -> tuple[np.ndarray, list[Embedding], list[int]]:
    rng = np.random.default_rng(0)
    labels = [i // 3 for i in range(9)] + [-1] * (n - 9)
    centres = rng.standard_normal((4, dim))
    x = np.stack([centres[lab] if lab >= 0 else centres[3] for lab in labels])
    x = (x + 0.9 * rng.standard_normal((n, dim))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fmaps = [np.maximum(rng.standard_normal((24, 8, 8)) - 0.5, 0).astype(np.float32)
             for _ in range(n)]
    embs = [Embedding(v, fake_peaks(v), extract(f, top=48, dim=8))
            for v, f in zip(x, fmaps, strict=True)]
    return x, embs, labels


def test_baseline_ranks_like_the_plain_similarity_matrix() -> None:
    x, embs, labels = _bench()
    variants = [[e] if lab >= 0 else [] for e, lab in zip(embs, labels, strict=True)]
    ours = evaluate(ablation_similarity(x, embs, variants, labels, PLAIN), labels)
    plain = evaluate(x @ x.T, labels)
    assert ours == plain
    for opts in (SearchOptions(dba=0), SearchOptions(dba=0, rerank=False, qe=2),
                 SearchOptions(dba=1, rerank=False), SearchOptions(qe=1, dba=2)):
        scores = evaluate(ablation_similarity(x, embs, variants, labels, opts), labels)
        assert 0.0 <= scores.mean_ap <= 100.0 and scores.queries == plain.queries


def test_a_perfect_query_variant_fixes_a_query() -> None:
    x, embs, labels = _bench()
    variants = [[e] if lab >= 0 else [] for e, lab in zip(embs, labels, strict=True)]
    variants[0] = [embs[0], Embedding(x[1], embs[1].peaks, None)]  # a turn that equals photo 1
    sim = ablation_similarity(x, embs, variants, labels, PLAIN)
    assert int(np.argmax(np.where(np.arange(len(x)) == 0, -np.inf, sim[0]))) == 1


def test_flags_parse() -> None:
    parser = argparse.ArgumentParser()
    eval_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", "b", "--rerank", "--rotate", "--qe", "2", "--dba", "1",
                              "--alpha", "1", "--rerank-depth", "50"])
    opts = eval_cmd._options(args)
    assert opts.rerank and opts.qe == 2 and opts.dba == 1 and opts.alpha == 1.0
    assert opts.rerank_params.depth == 50
    assert not parser.parse_args(["eval", "--no-rerank"]).rerank


def test_ablation_table_scores_every_combination_and_reports_whitening_it_cannot_fit(
) -> None:
    x, embs, labels = _bench()
    variants = [[e] if lab >= 0 else [] for e, lab in zip(embs, labels, strict=True)]
    parser = argparse.ArgumentParser()
    eval_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", "b", "--ablation"])
    rows = eval_cmd.ablation_table(x, embs, variants, labels, args, 0.0)
    names = [r["options"] for r in rows]
    assert names[0] == "plain" and "dba2+rerank" in names and "whiten" in names
    plain = rows[0]
    assert plain["mAP"] == round(evaluate(x @ x.T, labels).mean_ap, 2)
    whiten = rows[names.index("whiten")]  # 12 photos: fewer than 20 mutual pairs
    assert whiten["mAP"] is None and "too small" in whiten["error"]
    assert all(r["mAP"] is not None for r in rows if "whiten" not in r["options"])


def test_whiten_option_learns_from_the_bench_without_labels() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, 16))
    x = np.repeat(centres, 2, axis=0) + 0.3 * rng.standard_normal((60, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    labels = [i // 2 for i in range(60)]
    embs = [Embedding(v, fake_peaks(v), None) for v in x]
    variants = [[e] for e in embs]
    sim = ablation_similarity(x, embs, variants, labels, PLAIN, whiten=True)
    assert evaluate(sim, labels).queries == 60


def test_task_copies_needs_scenes_and_truth_counts_other_shots_as_the_same_place(
    tmp_path: Path,
) -> None:
    import json

    from lookalike.errors import KnownError
    from lookalike.library.evaluation import copies_first, truth
    from lookalike.search.similar import Match

    gt = {"groups": {"a": ["a0.jpg", "a1.jpg"], "b": ["b0.jpg", "b1.jpg"]},
          "distractors": ["a_step.jpg", "d.jpg"]}
    (tmp_path / "groundtruth.json").write_text(json.dumps(gt))
    paths, labels = eval_cmd.load_bench(tmp_path)
    with pytest.raises(KnownError, match="no copies bench"):
        truth(tmp_path, paths, labels, "copies")
    (tmp_path / "groundtruth.json").write_text(json.dumps(gt | {"scenes": {"a": ["a_step.jpg"]}}))
    place, photo = truth(tmp_path, paths, labels, "copies")
    assert place == [0, 0, 1, 1, 0, -1] and photo == [0, 0, 1, 1, -1, -1]
    ranked = [[Match(4, Path("s"), 1.2, 1, 90, "same_place"),
               Match(1, Path("c"), 1.1, 2, 80, "same_photo")]]  # fmt: skip
    assert [(m.photo_id, m.rank) for m in copies_first(ranked)[0]] == [(1, 1), (4, 2)]
