"""``lookalike eval BENCH_DIR``: retrieval quality of the app's own pipeline on a labelled bench.

The bench folder holds ``groundtruth.json`` (``groups``: name → image paths, ``distractors``:
paths; paths relative to the folder), as in ``shared/bench/dev``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.cli.output import print_ablation
from lookalike.embed.presets import DEFAULT_PRESET, PRESETS
from lookalike.errors import KnownError
from lookalike.search.defaults import DBA_ALPHA, DBA_DEPTH, DBA_K

if TYPE_CHECKING:  # numpy stays out of ``lookalike --help``
    import numpy as np
    import numpy.typing as npt

    from lookalike.library.evaluation import (
        Embedder,
        Match,
        MemoryStore,
        QueryImage,
        SearchOptions,
    )
    from lookalike.types import Embedding, PhotoEmbedder, Vectors

DEFAULT_BENCH = Path("../shared/bench/dev")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``eval`` command."""
    p = subparsers.add_parser(
        "eval", help="measure retrieval quality on a labelled bench", description=__doc__
    )
    p.add_argument(
        "bench",
        nargs="?",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench folder with groundtruth.json (default {DEFAULT_BENCH})",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help=f"quality preset (default {DEFAULT_PRESET})",
    )
    p.add_argument("--scales", help="override the preset's scales, e.g. 1024 or 1024,768")
    p.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="spatial re-ranking of the top matches (default: on when the preset stores local "
        "features, as in the app)",
    )
    p.add_argument("--rerank-depth", type=int, default=None, help="matches verified per query")
    p.add_argument("--rerank-weight", type=float, default=None, help="largest inlier boost")
    p.add_argument(
        "--rotate", action="store_true", help="also query with the image turned 90/180/270 degrees"
    )
    p.add_argument("--mirror", action="store_true", help="with --rotate: mirrored turns too")
    p.add_argument("--qe", type=int, default=0, metavar="K", help="alpha query expansion, K nn")
    p.add_argument("--dba", type=int, default=DBA_K, metavar="K",
                   help=f"alpha DBA on the shortlist, K neighbours (default {DBA_K}; 0: off)")
    p.add_argument("--dba-depth", type=int, default=DBA_DEPTH, metavar="N",
                   help=f"top matches DBA rescores (default {DBA_DEPTH})")
    p.add_argument("--alpha", type=float, default=DBA_ALPHA,
                   help=f"alpha of --qe and --dba (default {DBA_ALPHA:g})")
    p.add_argument("--whiten", action="store_true",
                   help="learn a whitening from the bench's own images, as 'lookalike whiten' "
                        "does from a library (no labels)")
    p.add_argument("--ablation", action="store_true",
                   help="score every combination of DBA, re-ranking, whitening and QE (and "
                        "rotation with --rotate) from one embedding pass, with time per query")
    p.add_argument("--task", choices=("places", "copies"), default="places",
                   help="places: same-place retrieval (default); copies: copy detection on a "
                        "bench of make_copies_bench.py (other shots of a scene are negatives)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def load_bench(bench: Path) -> tuple[list[Path], list[int]]:
    """Image paths and labels (group index, -1 for distractors) of a bench folder."""
    gt_file = bench / "groundtruth.json"
    try:
        gt = json.loads(gt_file.read_text())
    except (OSError, ValueError) as exc:
        raise KnownError(f"cannot read {gt_file}: {exc}") from exc
    paths: list[Path] = []
    labels: list[int] = []
    for label, members in enumerate(gt["groups"].values()):
        paths += [bench / p for p in members]
        labels += [label] * len(members)
    paths += [bench / p for p in gt.get("distractors", [])]
    labels += [-1] * (len(paths) - len(labels))
    return paths, labels


def run(args: argparse.Namespace) -> int:
    """Embed every bench image with the app's pipeline and print the scores."""
    from lookalike.library.evaluation import copies_first, evaluate, scores_json, truth

    bench = embed_bench(args)
    paths, labels, embedder, vectors = bench.paths, bench.labels, bench.embedder, bench.vectors
    if args.ablation:
        rows = ablation_table(vectors, bench.embeddings, bench.variants, labels, args,
                              bench.variant_s)  # fmt: skip
        print_ablation(rows, args.json, args.bench, len(paths), bench.seconds)
        return 0
    place, photo = truth(args.bench, paths, labels, args.task)
    search_start = time.perf_counter()
    options = _options(args)
    queries, rankings = rank_bench(bench, options, args.whiten)
    if args.task == "copies":
        rankings = copies_first(rankings)
    similarity = rank_similarity(vectors, rankings, queries)
    search_s = time.perf_counter() - search_start
    seconds, variant_s, failed, preset = bench.seconds, bench.variant_s, bench.failed, bench.preset
    scores = evaluate(similarity, labels)
    n_queries = max(1, scores.queries)
    out = {
        "task": args.task,
        "mAP": round(scores.mean_ap, 2),
        "recall@1": round(scores.recall_at_1, 2),
        "recall@5": round(scores.recall_at_5, 2),
        "images": len(paths),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(paths) / seconds, 2),
        "search_ms_per_query": round(1000 * search_s / n_queries, 1),
        "extra_embed_ms_per_query": round(1000 * variant_s / n_queries, 1),
        "options": {k: getattr(args, k)
                    for k in ("rerank", "rotate", "mirror", "qe", "dba", "whiten")}
        | {"alpha": args.alpha},
        "preset": preset,
        "scales": list(embedder.scales),
        "model": embedder.info.trunk,
        "unreadable": failed,
    } | scores_json(rankings, place, photo, options.rerank_params.depth)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"bench      {args.bench} ({len(paths)} images, {scores.queries} queries)")
        print(f"model      {embedder.info.trunk}, scales {embedder.scales}")
        print(f"options    {out['options']}")
        print(f"mAP        {scores.mean_ap:.1f}")
        print(f"recall@1   {scores.recall_at_1:.1f}")
        print(f"recall@5   {scores.recall_at_5:.1f}")
        print(f"same place precision {out['same_place_precision']}, recall "
              f"{out['same_place_recall']}; same photo precision "
              f"{out['same_photo_precision']}, recall {out['same_photo_recall']}")
        print(f"speed      {len(paths) / seconds:.2f} images/s ({seconds:.1f} s)")
        print(f"per query  search {out['search_ms_per_query']} ms "
              f"+ extra embedding {out['extra_embed_ms_per_query']} ms")
        for line in failed:
            print(f"unreadable {line}", file=sys.stderr)
    return 0


@dataclass
class EmbeddedBench:
    """A bench embedded as ``lookalike eval`` embeds it (see :func:`embed_bench`)."""

    paths: list[Path]
    labels: list[int]
    preset: str
    embedder: Embedder
    embeddings: list[Embedding | None]
    vectors: npt.NDArray[np.float32]
    variants: list[list[Embedding]]
    failed: list[str]
    seconds: float
    variant_s: float


def embed_bench(args: argparse.Namespace) -> EmbeddedBench:
    """Embed ``args.bench`` with the command's preset, scales and re-ranking choice."""
    import numpy as np

    from lookalike.library.evaluation import bench_embedder
    from lookalike.paths import models_dir

    preset = args.preset or getattr(args, "preset_global", None) or DEFAULT_PRESET
    if args.rerank is None:
        args.rerank = PRESETS[preset].local_features
    embedder = bench_embedder(
        preset, models_dir(), [int(s) for s in args.scales.split(",")] if args.scales else None,
        getattr(args, "threads", 0) or 0, bool(args.rerank) or bool(args.ablation),
    )
    paths, labels = load_bench(args.bench)
    start = time.perf_counter()
    embeddings: list[Embedding | None] = []
    failed: list[str] = []
    for path, result in embedder.embed_files(paths):
        if isinstance(result, KnownError):
            failed.append(f"{path}: {result.reason if hasattr(result, 'reason') else result}")
            embeddings.append(None)
        else:
            embeddings.append(result)
    seconds = time.perf_counter() - start
    vectors = np.zeros((len(paths), embedder.dim), np.float32)
    for i, emb in enumerate(embeddings):
        if emb is not None:
            vectors[i] = emb.vector
    variants, variant_s = _query_variants(args, embedder, paths, labels, embeddings)
    return EmbeddedBench(paths, labels, preset, embedder, embeddings, vectors, variants, failed,
                         seconds, variant_s)  # fmt: skip


def rank_bench(bench: EmbeddedBench, options: SearchOptions, whiten: bool = False
               ) -> tuple[list[list[Embedding]], list[list[Match]]]:  # fmt: skip
    """Each query image's variants (empty: no query) and its ranking by the app's search."""
    queries = [v if label >= 0 else [] for v, label in zip(bench.variants, bench.labels,
                                                           strict=True)]  # fmt: skip
    store = bench_store(bench.vectors, bench.embeddings, whiten, bench.paths)
    images = query_images(bench.paths, queries, bench.embedder)
    return queries, bench_rankings(store, queries, options, images)


def _options(args: argparse.Namespace) -> SearchOptions:
    """The search options of the command's flags (``top`` is set per bench)."""
    from lookalike.library.evaluation import DEFAULT_PARAMS, SearchOptions

    params = DEFAULT_PARAMS
    if args.rerank_depth is not None:
        params = replace(params, depth=args.rerank_depth)
    if args.rerank_weight is not None:
        params = replace(params, weight=args.rerank_weight)
    return SearchOptions(dba=args.dba, dba_depth=args.dba_depth, alpha=args.alpha, qe=args.qe,
                         rerank=bool(args.rerank), rerank_params=params)


def ablation_table(
    vectors: npt.NDArray[np.float32],
    embeddings: Sequence[Embedding | None],
    variants: Sequence[Sequence[Embedding]],
    labels: Sequence[int],
    args: argparse.Namespace,
    variant_s: float,
) -> list[dict[str, Any]]:
    """mAP, recall and search time per query of each combination of the search options."""
    from lookalike.library.evaluation import evaluate

    dba = args.dba or DBA_K
    qe = args.qe or 2
    base = replace(_options(args), dba=0, qe=0, rerank=False)
    plain, dba_on = base, replace(base, dba=dba)
    rerank, both = replace(base, rerank=True), replace(base, dba=dba, rerank=True)
    combos: list[tuple[str, SearchOptions, bool]] = [
        ("plain", plain, False),
        (f"dba{dba}", dba_on, False),
        ("rerank", rerank, False),
        (f"dba{dba}+rerank", both, False),
        ("whiten", plain, True),
        (f"whiten+dba{dba}", dba_on, True),
        (f"whiten+dba{dba}+rerank", both, True),
        (f"qe{qe}", replace(base, qe=qe), False),
        (f"qe{qe}+dba{dba}+rerank", replace(both, qe=qe), False),
    ]
    upright = [list(v[:1]) for v in variants]
    rows = []
    for name, options, whiten in combos:
        for turned in ([False, True] if args.rotate else [False]):
            started = time.perf_counter()
            try:
                sim = ablation_similarity(vectors, embeddings, variants if turned else upright,
                                          labels, options, whiten)  # fmt: skip
            except KnownError as exc:  # whitening on a bench with too few pairs
                rows.append({"options": name + ("+rotate" if turned else ""), "mAP": None,
                             "recall@1": None, "recall@5": None, "ms_per_query": None,
                             "error": exc.args[0] if exc.args else str(exc)})  # fmt: skip
                continue
            search_s = time.perf_counter() - started
            scores = evaluate(sim, labels)
            n = max(1, scores.queries)
            rows.append({
                "options": name + ("+rotate" if turned else ""),
                "task": args.task,
        "mAP": round(scores.mean_ap, 2),
                "recall@1": round(scores.recall_at_1, 2),
                "recall@5": round(scores.recall_at_5, 2),
                "ms_per_query": round(1000 * (search_s + (variant_s if turned else 0)) / n, 1),
            })
    return rows


def _query_variants(
    args: argparse.Namespace,
    embedder: PhotoEmbedder,
    paths: list[Path],
    labels: list[int],
    embeddings: list[Embedding | None],
) -> tuple[list[list[Embedding]], float]:
    """Per image, its query embeddings: the stored one, plus the turns with ``--rotate``.

    Returns:
        The variants per image (empty for distractors and unreadable images) and the seconds
        spent decoding and embedding the extra turns.
    """
    from lookalike.decode.image import decode
    from lookalike.decode.query import turns
    from lookalike.library.evaluation import Embedder

    started = time.perf_counter()
    out: list[list[Embedding]] = []
    for path, label, emb in zip(paths, labels, embeddings, strict=True):
        if label < 0 or emb is None:
            out.append([])
            continue
        variants = [emb]
        if args.rotate:
            side = embedder.max_side if isinstance(embedder, Embedder) else 1024
            rgb = decode(path, side).rgb
            variants += [embedder.embed_rgb(v) for v in turns(rgb, args.mirror)[1:]]
        out.append(variants)
    return out, time.perf_counter() - started if args.rotate else 0.0


def bench_store(
    vectors: Vectors, embeddings: Sequence[Embedding | None], whiten: bool = False,
    paths: Sequence[Path] | None = None,
) -> MemoryStore:
    """The bench as a library would hold it: its readable images' vectors and local features
    (ids: positions in the bench), whitened like ``Library.learn_whitening`` with ``whiten``
    (mutual nearest neighbours as pairs, no labels; exact neighbours here).

    Raises:
        KnownError: ``whiten`` on a bench too small to learn from.
    """
    import numpy as np

    from lookalike.library.evaluation import MemoryStore
    from lookalike.library.learning import learn

    ids = np.asarray([i for i, e in enumerate(embeddings) if e is not None], np.int64)
    kept = np.ascontiguousarray(vectors[ids], np.float32)
    locals_ = {i: e.locals for i, e in enumerate(embeddings) if e and e.locals is not None}
    named = None if paths is None else {int(i): paths[int(i)] for i in ids}
    white = None
    if whiten:
        try:
            white = learn(ids, kept, MemoryStore(ids, kept).knn)
        except KnownError as exc:
            raise KnownError(f"--whiten: the bench is too small to learn from ({exc})") from exc
    return MemoryStore(ids, kept, locals_, white, named)


def query_images(paths: Sequence[Path], queries: Sequence[Sequence[Embedding]],
                 embedder: PhotoEmbedder) -> list[QueryImage | None]:  # fmt: skip
    """Each query's pixels for the same-photo verdict, as ``Library.search_photo`` gives them
    (None for an image that is no query)."""
    from lookalike.library.evaluation import copy_image

    return [copy_image(path, None, embedder) if q else None
            for path, q in zip(paths, queries, strict=True)]  # fmt: skip


def bench_rankings(
    store: MemoryStore,
    variants: Sequence[Sequence[Embedding]],
    options: SearchOptions,
    images: Sequence[QueryImage | None] | None = None,
) -> list[list[Match]]:
    """Each bench query's matches by ``search.pipeline.search``, as ``Library.search`` gets
    them: every image ranked (``top`` = the bench size), the query image itself left out.

    Args:
        store: the bench (:func:`bench_store`).
        variants: per image its query embeddings (first: the image itself); empty = no query.
        options: the search options.
        images: per image its pixels for the pixel copy test (None: cells only).
    """
    from lookalike.library.evaluation import search, stored_form

    options = replace(options, top=max(1, store.live_count))
    return [search(store, [stored_form(e) for e in queries], options, {i},
                   None if images is None else images[i]) if queries else []
            for i, queries in enumerate(variants)]  # fmt: skip


def ablation_similarity(
    vectors: Vectors,
    embeddings: Sequence[Embedding | None],
    variants: Sequence[Sequence[Embedding]],
    labels: Sequence[int],
    options: SearchOptions,
    whiten: bool = False,
) -> npt.NDArray[np.float32]:
    """The (N, N) similarity matrix the metrics rank, from the app's own search.

    Each query row holds ``-rank`` of every match :func:`bench_rankings` found (``-inf`` for
    the rest), so that sorting it gives the app's order.

    Args:
        vectors: (N, D) global descriptors of the bench images (rows of unreadable ones unused).
        embeddings: per image its embedding (locals included), None if unreadable.
        variants: per image its query embeddings (first: the image itself); empty = no query.
        labels: (N,) group ids, -1 for distractors (no query).
        options: the search options.
        whiten: learn a whitening from the bench first, as ``lookalike whiten`` does.
    """
    queries = [v if label >= 0 else [] for v, label in zip(variants, labels, strict=True)]
    rankings = bench_rankings(bench_store(vectors, embeddings, whiten), queries, options)
    return rank_similarity(vectors, rankings, queries)


def rank_similarity(vectors: Vectors, rankings: Sequence[Sequence[Match]],
                    queries: Sequence[Sequence[Embedding]]) -> npt.NDArray[np.float32]:  # fmt: skip
    """The (N, N) matrix whose row i sorts as query i's ranking (``-rank``; ``-inf`` for the
    photos it did not return; cosines in the rows of images that are no query)."""
    import numpy as np

    similarity = np.asarray(vectors @ vectors.T, np.float32)
    for i, matches in enumerate(rankings):
        if not queries[i]:
            continue
        similarity[i] = -np.inf
        for m in matches:
            similarity[i, m.photo_id] = -m.rank
    return similarity
