"""Calibrate the search verdicts on a copies bench (photos from no bench): the chance level.

    python benchmarks/verdict_calibrate.py COPIES_BENCH [--json OUT.json]

Embeds every image of a bench made by ``benchmarks/make_copies_bench.py`` with the default
preset, then verifies every ordered pair (query, other image) with the search's own re-ranking
fit and verdict (``lookalike.search.verdict``), and prints per kind of pair:

- ``unrelated`` (different copy groups / scenes / distractor sources): the chance distribution of
  verification (inliers p50 / p90 / p99 / max), from which ``SAME_PLACE_INLIERS`` is derived;
- ``copy`` (same copy group), ``other`` (step shots, the real second shot) and ``tripod``: how
  many reach same_place and same_photo, and their global cosines (the tripod guard).

With ``--pixels``, every pair whose fit passes the copy gate (``pair_check.copy_gate``) also gets
the pixel copy test (``search.copy_pixels.check_files``), and per kind of pair (copy pairs
without / with a 320 px copy, step and tripod shots, unrelated) the scatter, correlation and
perspective gain (p50 / p90 / p99) and how many pass: the derivation of ``COPY_SHIFT`` and
``COPY_PERSPECTIVE``. With ``--align``, every pair of one scene (copies, step and tripod shots)
and every unrelated pair above ``copy_check.SUSPECT_COSINE`` (the suspects a search aligns) is
aligned on the pixels alone (``search.copy_align.align``) and the map found gets the pixel test:
the same table, with the map's distortion (``COPY_DISTORTION``). Run it on a bench made with
another seed than the one evaluated.

It fits nothing itself: the constants live in ``search/verdict.py`` and
``search/copy_pixels.py`` with their derivation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "desktop"))

from lookalike.decode.image import decode  # noqa: E402
from lookalike.embed.model import Embedder  # noqa: E402
from lookalike.embed.presets import DEFAULT_PRESET, PRESETS  # noqa: E402
from lookalike.errors import KnownError  # noqa: E402
from lookalike.paths import models_dir  # noqa: E402
from lookalike.search.copy_align import align  # noqa: E402
from lookalike.search.copy_check import SUSPECT_COSINE  # noqa: E402
from lookalike.search.copy_pixels import SIDE, check_files, is_pixel_copy, to_gray  # noqa: E402
from lookalike.search.pair_check import copy_gate  # noqa: E402
from lookalike.search.rerank import rerank_fits, rerank_scores  # noqa: E402
from lookalike.search.similar import Match  # noqa: E402
from lookalike.search.verdict import decide, evidence_of, verified_matches  # noqa: E402


def labels(bench: Path) -> dict[str, tuple[str, str]]:
    """Relative path → (scene key, kind: copy / other / tripod / distractor)."""
    gt = json.loads((bench / "groundtruth.json").read_text())
    out: dict[str, tuple[str, str]] = {}
    for name, members in gt["groups"].items():
        out.update({p: (name, "copy") for p in members})
    for name, shots in gt.get("scenes", {}).items():
        out.update({p: (name, "tripod" if "tripod" in p else "other") for p in shots})
    for p in gt.get("distractors", []):
        if p not in out:
            out[p] = ("d:" + Path(p).stem.rsplit("_", 1)[0], "distractor")
    return out


def pair_kind(a: tuple[str, str], b: tuple[str, str]) -> str:
    """The kind of an ordered pair (query a, result b)."""
    if a[0] != b[0]:
        return "unrelated"
    if a[1] == "copy" and b[1] == "copy":
        return "copy"
    return "tripod" if "tripod" in (a[1], b[1]) else "other"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--pixels", action="store_true", help="also the pixel copy test's numbers")
    ap.add_argument("--align", action="store_true",
                    help="also the pixel test of the maps found by copy_align")
    args = ap.parse_args()
    named = labels(args.bench)
    paths = sorted(named)
    preset = PRESETS[DEFAULT_PRESET]
    embedder = Embedder(models_dir() / preset.model_file, preset.scales, 0, local_features=True)
    embs = {}
    for path, result in embedder.embed_files([args.bench / p for p in paths]):
        if not isinstance(result, KnownError):
            embs[str(path.relative_to(args.bench))] = result
    keys = [p for p in paths if p in embs]
    vecs = np.stack([embs[p].vector for p in keys]).astype(np.float32)
    rows: dict[str, list[tuple[int, str, float]]] = {}
    records: list[dict[str, object]] = []
    plain_s = verdict_s = 0.0
    for i, qp in enumerate(keys):
        q = embs[qp].locals
        others = [j for j in range(len(keys)) if j != i]
        cands = [embs[keys[j]].locals for j in others]
        cos = (vecs[others] @ vecs[i]).tolist()
        top = np.argsort(-np.asarray(cos), kind="stable")[:50].tolist()  # the shortlist
        t_cos, t_cands = [cos[t] for t in top], [cands[t] for t in top]
        started = time.perf_counter()
        rerank_scores(t_cos, q, t_cands)  # today's re-ranking of a 50-deep shortlist
        plain_s += time.perf_counter() - started
        started = time.perf_counter()
        shortlist = [Match(t, Path(keys[others[t]]), cos[t], r) for r, t in enumerate(top)]
        verified_matches(shortlist, q, dict(zip(top, t_cands, strict=True)), {}, 50)
        verdict_s += time.perf_counter() - started
        _, fits = rerank_fits(cos, q, cands)
        for j, fit, c in zip(others, fits, cos, strict=True):
            ev = evidence_of(q, cands[others.index(j)], fit, c)
            kind = pair_kind(named[qp], named[keys[j]])
            rows.setdefault(kind, []).append((ev.inliers, decide(ev), round(c, 3)))
            if ev.inliers > 10:
                record = asdict(ev) | {"pair": kind, "query": qp, "result": keys[j]}
                if args.pixels and fit is not None and fit.affine is not None and copy_gate(ev):
                    px = check_files(args.bench / qp, args.bench / keys[j], fit.affine)
                    record |= {"pixels": asdict(px), "pixel_copy": is_pixel_copy(px),
                               "small": "_small" in qp + keys[j]}  # fmt: skip
                records.append(record)
    report = {}
    for kind, got in sorted(rows.items()):
        inl = np.asarray([g[0] for g in got])
        cos = np.asarray([g[2] for g in got])
        verdicts = [g[1] for g in got]
        report[kind] = {
            "pairs": len(got),
            "inliers_p50_p90_p99_max": [float(np.percentile(inl, q)) for q in (50, 90, 99)]
            + [int(inl.max())],
            "cosine_p10_p50_p90": [round(float(np.percentile(cos, q)), 3) for q in (10, 50, 90)],
            "same_place": verdicts.count("same_place"),
            "same_photo": verdicts.count("same_photo"),
        }
        print(kind, json.dumps(report[kind]))
    print(f"per query, 50 candidates: re-ranking {1000 * plain_s / len(keys):.1f} ms, re-ranking "
          f"+ verdicts {1000 * verdict_s / len(keys):.1f} ms (load {os.getloadavg()[0]:.1f})")
    for t in (14, 16, 18, 20, 25):  # chance above each threshold, and what true pairs keep
        above = {k: sum(g[0] > t for g in got) / len(got) for k, got in sorted(rows.items())}
        print(f"inliers > {t}: " + ", ".join(f"{k} {v:.2%}" for k, v in above.items()))
    for res in (0.004, 0.02):  # the copy test with the exact map only, or half a cell
        exact = {k: sum(r["kind"] == "copy" and r["residual"] <= res for r in records
                        if r["pair"] == k) for k in rows}  # fmt: skip
        print(f"copy test, residual <= {res}: {exact}")
    if args.pixels:
        pixel_report(records)
    if args.align:
        aligned = align_records(args.bench, named, keys, vecs)
        pixel_report(aligned, "aligned")
        records += aligned
    if args.json:
        args.json.write_text(json.dumps({"summary": report, "pairs": records}, indent=1))
    return 0


def align_records(bench: Path, named: dict[str, tuple[str, str]], keys: list[str],
                  vecs: np.ndarray) -> list[dict[str, object]]:  # fmt: skip
    """The pixel test of the map ``copy_align.align`` finds for each pair of one scene and
    each unrelated pair above ``SUSPECT_COSINE`` (ordered pairs, the query a copy)."""
    greys = {p: to_gray(decode(bench / p, SIDE).rgb, SIDE) for p in keys}
    out: list[dict[str, object]] = []
    started, n = time.perf_counter(), 0
    for i, qp in enumerate(keys):
        if named[qp][1] != "copy":
            continue
        for j, rp in enumerate(keys):
            kind = pair_kind(named[qp], named[rp])
            if j == i or (kind == "unrelated" and float(vecs[i] @ vecs[j]) < SUSPECT_COSINE):
                continue
            found, n = align(greys[qp], greys[rp]), n + 1
            px = (check_files(bench / qp, bench / rp, found[1], found[0]) if found is not None
                  else None)  # fmt: skip
            out.append({"pair": kind, "query": qp, "result": rp, "small": "_small" in qp + rp,
                        "pixels": None if px is None else asdict(px),
                        "pixel_copy": px is not None and is_pixel_copy(px)})  # fmt: skip
    print(f"aligned {n} pairs, {1000 * (time.perf_counter() - started) / max(n, 1):.1f} ms per "
          f"pair with its pixel test (load {os.getloadavg()[0]:.1f})")
    return out


def pixel_report(records: list[dict[str, object]], title: str = "pixels") -> None:
    """Per kind of pair, the pixel test's measurements and how many pass it."""
    by: dict[str, list[dict[str, float]]] = {}
    passed: dict[str, int] = {}
    for r in records:
        if r.get("pixels") is None:
            continue
        kind = str(r["pair"]) + ("+320px" if r["pair"] == "copy" and r["small"] else "")
        by.setdefault(kind, []).append(r["pixels"])  # type: ignore[arg-type]
        passed[kind] = passed.get(kind, 0) + bool(r["pixel_copy"])
    for kind, got in sorted(by.items()):
        line = {k: [round(float(np.percentile([g[k] for g in got], q, method="nearest")), 4)
                    for q in (50, 90, 99)]
                for k in ("blocks", "shift", "ncc", "perspective", "distortion")}  # fmt: skip
        print(f"{title} {kind}: {passed[kind]} of {len(got)} pass; p50/p90/p99 "
              f"{json.dumps(line)}")


if __name__ == "__main__":
    raise SystemExit(main())
