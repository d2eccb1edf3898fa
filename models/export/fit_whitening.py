"""Fit PCA-whitening on regional R-MAC descriptors of photos that are NOT in any bench.

Dev tooling (torch). The shipped models carry identity whitening unless a fitted one beats it on
the bench (see MODELS.md for the measured numbers). The photos used were the sample photos
shipped inside scikit-image, scikit-learn and matplotlib wheels (public domain / permissive),
each embedded at three scales with mirrored copies and random crops.

python models/export/fit_whitening.py PHOTO_DIR out.npz --trunk lite2 --head preclip
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "desktop"))
sys.path.insert(0, str(HERE))
from trunk import Trunk, load_efficientnet  # noqa: E402

from lookalike.embed.rmac import l2n, pool_regions, region_grid  # noqa: E402


def views(im: Image.Image, rng: np.random.Generator, crops: int) -> list[Image.Image]:
    """The photo, its mirror image, and random crops of 50-90% of each side."""
    out = [im, ImageOps.mirror(im)]
    for _ in range(crops):
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.5, 0.9)), int(h * rng.uniform(0.5, 0.9))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        out.append(im.crop((x, y, x + cw, y + ch)))
    return out


def tensor(im: Image.Image, side: int) -> torch.Tensor:
    w, h = im.size
    f = min(1.0, side / max(w, h))
    size = (max(32, round(w * f / 32) * 32), max(32, round(h * f / 32) * 32))
    a = (np.asarray(im.resize(size, Image.BILINEAR), np.float32) - 127.0) / 128.0
    return torch.from_numpy(a.transpose(2, 0, 1)[None].copy())


def regional(trunk: Trunk, photos: list[Path], crops: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    rows = []
    with torch.no_grad():
        for path in photos:
            im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            for view in views(im, rng, crops):
                for side in (1024, 768, 512):
                    fmap = trunk(tensor(view, side))[0].numpy()
                    rows.append(l2n(pool_regions(fmap, region_grid(*fmap.shape[1:], 3))))
    return np.concatenate(rows)


def pca_whitening(x: np.ndarray, shrink: float, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    """shift (C,), proj (D, C): ``(x - shift) @ proj.T`` whitens, with eigenvalue shrinkage
    ``λ + shrink · mean(λ)`` so directions seen in few samples are not blown up."""
    shift = x.mean(0)
    cov = np.cov((x - shift).T)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1][: dim or len(eigval)]
    eigval, eigvec = eigval[order], eigvec[:, order]
    scale = 1.0 / np.sqrt(eigval + shrink * eigval.mean())
    return shift.astype(np.float32), (eigvec * scale).T.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("photos", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--trunk", default="lite2")
    ap.add_argument("--head", default="preclip")
    ap.add_argument("--crops", type=int, default=6)
    ap.add_argument("--shrink", type=float, default=1.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    trunk = Trunk(load_efficientnet(args.trunk), head=args.head).eval()
    x = regional(trunk, photos, args.crops)
    np.save(args.out.with_suffix(".regions.npy"), x)
    shift, proj = pca_whitening(x, args.shrink, None)
    provenance = (
        f"PCA-whitening, shrinkage {args.shrink}, {len(x)} regional descriptors of "
        f"{len(photos)} non-bench sample photos"
    )
    np.savez(args.out, shift=shift, proj=proj, provenance=provenance)
    print(provenance)


if __name__ == "__main__":
    main()
