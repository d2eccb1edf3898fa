"""Verdicts with XFeat on a bench: re-ranking mAP, same-place / same-photo precision and recall.

    python benchmarks/verdict_bench.py BENCH [--sizes 640,1024] [--budgets 512,1024]
        [--depth 50] [--variants 1] [--json OUT.json]

1. Embeds the bench with the default preset and ranks it as ``lookalike eval`` does (DBA +
   re-ranking by the stride-16 locals): the baseline mAP, and each query's top ``--depth``.
2. Extracts XFeat features (``lookalike.embed.xfeat``) of every image at each ``--sizes`` long
   side (the largest budget once; a smaller budget is its first rows, as features are sorted by
   score). With ``--variants 0,1,3,4`` (dihedral transforms, ``verify.dihedral_points``) the
   queries are also extracted turned and mirrored, their positions mapped back.
3. Verifies every (query, shortlisted candidate) pair (``lookalike.search.verify``) and reports
   per (size, budget): mAP when the shortlist is re-ordered by verdict, then inliers (the
   unverified keep the default order); same-place precision / recall (a positive: verdict
   same_place or same_photo; truth: same group; recall over the positives in the shortlists);
   same-photo precision / recall (truth: same group; meaningful on a copies bench);
   the chance levels (inliers, copy inliers, ratio and coverage between photos of different
   groups and scenes: median / p90 / p99 / max); time per photo to extract, per query to
   verify the shortlist, and storage per photo (int8 descriptors + float16 positions).

OpenBLAS is kept to one thread: on the loaded 2-core machine its threaded (512 x 64) @ (64 x 512)
products of the mutual matching took ~60 ms instead of ~4 ms per pair. Machine load is printed
with the times (2 shared cores: times are noisy). Measures only: it
fits nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see the docstring
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "desktop"))

from lookalike.cli.eval_cmd import Options, ablation_similarity, load_bench  # noqa: E402
from lookalike.decode.image import decode  # noqa: E402
from lookalike.embed.model import Embedder  # noqa: E402
from lookalike.embed.presets import DEFAULT_PRESET, PRESETS  # noqa: E402
from lookalike.embed.xfeat import XFeatExtractor  # noqa: E402
from lookalike.search.defaults import DBA_ALPHA, DBA_K  # noqa: E402
from lookalike.search.metrics import evaluate  # noqa: E402
from lookalike.search.rerank import DEFAULT_PARAMS  # noqa: E402
from lookalike.search.verify import (  # noqa: E402
    DEFAULT_VERIFY,
    Evidence,
    Points,
    Verdict,
    VerifyParams,
    decide,
    undo_dihedral,
    verify_variants,
)

STRENGTH = {Verdict.SAME_PHOTO: 2, Verdict.SAME_PLACE: 1, Verdict.SIMILAR: 0}


def default_ranking(paths: list[Path], labels: list[int]) -> np.ndarray:
    """(N, N) similarity of the default search (as ``lookalike eval``)."""
    preset = PRESETS[DEFAULT_PRESET]
    embedder = Embedder(REPO / "models" / preset.model_file, preset.scales, 0, local_features=True)
    embeddings = [
        r if not isinstance(r, Exception) else None for _, r in embedder.embed_files(paths)
    ]
    vectors = np.zeros((len(paths), embedder.dim), np.float32)
    for i, emb in enumerate(embeddings):
        if emb is not None:
            vectors[i] = emb.vector
    variants = [[e] if e is not None and labels[i] >= 0 else [] for i, e in enumerate(embeddings)]
    options = Options(True, DEFAULT_PARAMS, 0, DBA_K, DBA_ALPHA)
    return ablation_similarity(vectors, embeddings, variants, labels, options)


def turned(rgb: np.ndarray, k: int) -> np.ndarray:
    """The pixels as ``verify.dihedral_points`` moves points: mirrored if k >= 4, k % 4 turns."""
    out = rgb[:, ::-1] if k >= 4 else rgb
    return np.ascontiguousarray(np.rot90(out, k % 4))


def extract_all(
    paths: list[Path], size: int, budget: int, query: list[bool], ks: list[int]
) -> tuple[list[list[Points]], float]:
    """Per image its feature variants (only queries get turned ones) and ms per extraction."""
    extractor = XFeatExtractor(REPO / "models" / "xfeat.onnx", threads=2)
    out: list[list[Points]] = []
    spent, count = 0.0, 0
    for path, is_query in zip(paths, query, strict=True):
        rgb = decode(path, size).rgb
        size_wh = (rgb.shape[1], rgb.shape[0])
        found = []
        for k in ks if is_query else [0]:
            start = time.perf_counter()
            feats = extractor.extract(turned(rgb, k), size, budget)
            spent += time.perf_counter() - start
            count += 1
            xy = undo_dihedral(feats.xy, size_wh, k) if k else feats.xy
            found.append(Points(xy, feats.descriptors, size_wh))
        out.append(found)
    return out, 1000 * spent / max(count, 1)


def cached_features(
    bench: Path, paths: list[Path], size: int, budget: int, query: list[bool], ks: list[int]
) -> tuple[list[list[Points]], float]:
    """:func:`extract_all`, kept in /tmp between runs (pickled; a bench-only cache)."""
    import pickle

    tag = f"{bench.resolve().name}_{size}_{budget}_{'-'.join(map(str, ks))}"
    cache = Path(f"/tmp/verdict_xfeat_{tag}.pkl")
    if cache.is_file():
        with open(cache, "rb") as fh:
            return pickle.load(fh)  # type: ignore[no-any-return]
    found = extract_all(paths, size, budget, query, ks)
    with open(cache, "wb") as fh:
        pickle.dump(found, fh)
    return found


def first(points: Points, k: int) -> Points:
    return Points(points.xy[:k], points.descriptors[:k], points.size)


def verify_shortlists(
    feats: list[list[Points]], shortlist: dict[int, np.ndarray], budget: int, params: VerifyParams
) -> tuple[dict[tuple[int, int], Evidence], float]:
    """Evidence per (query, candidate) pair and ms per query."""
    evidence: dict[tuple[int, int], Evidence] = {}
    start = time.perf_counter()
    for i, cands in shortlist.items():
        variants = [first(v, budget) for v in feats[i]]
        for j in cands:
            evidence[i, int(j)] = verify_variants(variants, first(feats[j][0], budget), params)
    return evidence, 1000 * (time.perf_counter() - start) / max(len(shortlist), 1)


def reranked(
    similarity: np.ndarray, shortlist: dict[int, np.ndarray], verdicts: dict
) -> np.ndarray:
    """The similarity with each shortlist re-ordered: verified results by verdict then inliers,
    then the rest in the default order."""
    out = similarity.copy()
    for i, cands in shortlist.items():
        strength = [STRENGTH[verdicts[i, int(j)][0]] for j in cands]
        # verified first (by inliers); the unverified keep the default order (their inliers
        # are chance and would only shuffle it)
        keys = [
            (strength[r], verdicts[i, int(j)][1] if strength[r] else 0, -r)
            for r, j in enumerate(cands)
        ]
        order = sorted(range(len(cands)), key=lambda r: keys[r], reverse=True)
        top = similarity[i, cands].max() + 1.0
        for rank, r in enumerate(order):
            out[i, cands[r]] = top + len(cands) - rank
    return out


def precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(p and t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    pos = sum(t for _, t in pairs)
    return tp / max(tp + fp, 1), tp / max(pos, 1)


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    v = np.asarray(values)
    return "/".join(f"{x:.3g}" for x in (np.median(v), *np.percentile(v, [90, 99]), v.max()))


def score(
    evidence: dict,
    shortlist: dict,
    similarity: np.ndarray,
    labels: list[int],
    same_scene: np.ndarray,
    params: VerifyParams,
) -> dict[str, object]:
    """Metrics of one configuration under one set of thresholds."""
    verdicts = {
        key: (
            decide(
                e.inliers,
                e.photo_inliers,
                e.photo_ratio,
                e.coverage,
                e.turn_error_deg,
                e.perspective,
                params,
            ),
            e.inliers,
        )
        for key, e in evidence.items()
    }
    lab = np.asarray(labels)
    place = [(v[0] != Verdict.SIMILAR, lab[i] == lab[j]) for (i, j), v in verdicts.items()]
    photo = [(v[0] == Verdict.SAME_PHOTO, lab[i] == lab[j]) for (i, j), v in verdicts.items()]
    unrelated = [e for (i, j), e in evidence.items() if lab[i] != lab[j] and not same_scene[i, j]]
    return {
        "mAP": round(evaluate(reranked(similarity, shortlist, verdicts), labels).mean_ap, 2),
        "place_P/R": [round(x, 3) for x in precision_recall(place)],
        "photo_P/R": [round(x, 3) for x in precision_recall(photo)],
        "chance_inliers": stats([e.inliers for e in unrelated]),
        "chance_photo_inliers": stats([e.photo_inliers for e in unrelated]),
        "chance_ratio": stats([e.photo_ratio for e in unrelated]),
    }


def scene_matrix(bench: Path, paths: list[Path], labels: list[int]) -> np.ndarray:
    """(N, N) True where two images show the same scene (same group, or a group and its other
    shots from ``scenes`` in groundtruth.json)."""
    truth = json.loads((bench / "groundtruth.json").read_text())
    scene_of = {}
    for name, members in truth["groups"].items():
        for p in members:
            scene_of[str(bench / p)] = name
    for name, others in truth.get("scenes", {}).items():
        for p in others:
            scene_of[str(bench / p)] = name
    ids = [scene_of.get(str(p), f"#{k}") for k, p in enumerate(paths)]
    return np.asarray(ids)[:, None] == np.asarray(ids)[None, :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--sizes", default="640,1024")
    parser.add_argument("--budgets", default="512,1024")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument(
        "--variants", default="0", help="dihedral transforms of the query, e.g. 0,1,2,3,4,5,6,7"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    paths, labels = load_bench(args.bench)
    same_scene = scene_matrix(args.bench, paths, labels)
    start = time.perf_counter()
    cache = Path(f"/tmp/verdict_default_{args.bench.resolve().name}.npy")
    if cache.is_file():
        similarity = np.load(cache)
    else:
        similarity = default_ranking(paths, labels)
        np.save(cache, similarity)
    base = evaluate(similarity, labels)
    print(
        f"{args.bench}: {len(paths)} images; default search mAP {base.mean_ap:.2f} "
        f"(embedded in {time.perf_counter() - start:.0f} s); load {os.getloadavg()[0]:.1f}"
    )
    shortlist = {}
    for i in np.flatnonzero(np.asarray(labels) >= 0):
        row = similarity[i].copy()
        row[i] = -np.inf
        shortlist[int(i)] = np.argsort(-row, kind="stable")[: args.depth]
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        is_query = [lab >= 0 for lab in labels]
        ks = [int(k) for k in args.variants.split(",")]
        feats, extract_ms = cached_features(args.bench, paths, size, max(budgets), is_query, ks)
        for budget in budgets:
            evidence, verify_ms = verify_shortlists(feats, shortlist, budget, DEFAULT_VERIFY)
            kept = np.mean([min(len(f[0].xy), budget) for f in feats])
            row = {
                "size": size,
                "budget": budget,
                "variants": args.variants,
                "extract_ms": round(extract_ms),
                "verify_ms_per_query": round(verify_ms),
                "load": round(os.getloadavg()[0], 1),
                "mean_kp": round(float(kept)),
                "kb_per_photo": round(kept * (64 + 4) / 1000, 1),
            }
            row |= score(evidence, shortlist, similarity, labels, same_scene, DEFAULT_VERIFY)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                dump = {
                    f"{i},{j}": [
                        e.verdict.value,
                        e.matches,
                        e.inliers,
                        e.photo_inliers,
                        round(e.photo_ratio, 3),
                        round(e.coverage, 3),
                        round(e.turn_error_deg, 1),
                        round(e.perspective, 2),
                        bool(labels[i] == labels[j]),
                        bool(same_scene[i, j]),
                    ]
                    for (i, j), e in evidence.items()
                }
                out = args.json.with_suffix(f".{size}_{budget}.json")
                out.write_text(json.dumps({"labels": labels, "pairs": dump}))
    if args.json:
        args.json.write_text(json.dumps({"baseline_mAP": base.mean_ap, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
