"""XFeat local features: RGB pixels → keypoints (N, 2), descriptors (N, 64) and scores (N,).

The network (``models/xfeat.onnx``, exported by ``models/export/export_xfeat.py``) gives dense
maps; everything sparse happens here in NumPy, as in the reference code (Potje et al., CVPR
2024): non-maximum suppression of the keypoint heatmap in 5x5 windows above a threshold, a
score per keypoint (heatmap value times the bilinearly sampled reliability), the ``top_k`` best,
and their descriptors sampled from the stride-8 descriptor map and L2-normalised. The reference
samples descriptors bicubically; bilinear sampling is used here (``benchmarks/verdict_bench.py``
measures both choices alike, see the report in the commit).

Pure functions (:func:`prepare`, :func:`nms`, :func:`sample_bilinear`, :func:`sparse_features`)
carry the math; :class:`XFeatExtractor` only owns the onnxruntime session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from lookalike.embed.session import open_session

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]

SIZE_MULTIPLE = 32
"""The network's input sides must be multiples of this."""
MIN_SIDE = 64
"""Smaller inputs are padded up to this (XFeat divides by zero on a 25-px side)."""
DETECTION_THRESHOLD = 0.05
NMS_KERNEL = 5


@dataclass(frozen=True)
class Points:
    """Local features of one photo (what :mod:`lookalike.search.verify` compares).

    Attributes:
        xy: (N, 2) float32 x, y in source pixels.
        descriptors: (N, d) float32 unit rows.
        size: the photo's (width, height) in pixels.
    """

    xy: Floats
    descriptors: Floats
    size: tuple[int, int]


@dataclass(frozen=True)
class XFeatures(Points):
    """The local features of one photo, as :class:`XFeatExtractor` finds them.

    Attributes:
        xy: (N, 2) float32 keypoint x, y in source pixels (of the array given to ``extract``).
        descriptors: (N, 64) float32 L2-normalised rows.
        size: the source's (width, height) in pixels.
        scores: (N,) float32 keypoint scores in 0..1, descending.
    """

    scores: Floats


@dataclass(frozen=True)
class Prepared:
    """A photo as the network's input.

    Attributes:
        image: (1, 1, H, W) float32 grey image, H and W multiples of 32, at least 64.
        scale: (sx, sy) source pixels per input pixel.
        valid: (width, height) of the input area that holds the photo (the rest is padding).
    """

    image: Floats
    scale: tuple[float, float]
    valid: tuple[int, int]


def prepare(rgb: npt.NDArray[np.uint8], max_side: int) -> Prepared:
    """Grey, resized so the long side is at most ``max_side`` and both sides are multiples of 32.

    Photos never get larger except up to the next multiple of 32 when smaller than 32 px; inputs
    smaller than 64 px are padded
    with zeros (keypoints found in the padding are dropped by :func:`sparse_features`).

    Args:
        rgb: (H, W, 3) uint8 photo.
        max_side: the largest long side of the input, in pixels.

    Returns:
        The input and how it maps back to the source.
    """
    height, width = rgb.shape[:2]
    shrink = min(1.0, max_side / max(height, width))
    # rounded down, as the reference code does
    w = max(SIZE_MULTIPLE, int(width * shrink) // SIZE_MULTIPLE * SIZE_MULTIPLE)
    h = max(SIZE_MULTIPLE, int(height * shrink) // SIZE_MULTIPLE * SIZE_MULTIPLE)
    grey = rgb.astype(np.float32).mean(axis=2)
    resized = np.asarray(
        Image.fromarray(grey, mode="F").resize((w, h), Image.Resampling.BILINEAR), np.float32
    )
    pad_w, pad_h = max(w, MIN_SIDE), max(h, MIN_SIDE)
    image = np.zeros((1, 1, pad_h, pad_w), np.float32)
    image[0, 0, :h, :w] = resized
    return Prepared(image, (width / w, height / h), (w, h))


def nms(
    heat: Floats, threshold: float = DETECTION_THRESHOLD, kernel: int = NMS_KERNEL
) -> npt.NDArray[np.intp]:
    """Pixels that are the maximum of their ``kernel`` x ``kernel`` window and above ``threshold``.

    Args:
        heat: (H, W) float32 keypoint heatmap.
        threshold: the smallest kept value (exclusive).
        kernel: the odd window side.

    Returns:
        (N, 2) x, y of the kept pixels, in row-major order.
    """
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.zeros((0, 2), np.intp)
    pad = kernel // 2
    padded = np.pad(heat, pad, constant_values=-np.inf)
    values = heat[ys, xs]
    keep = np.ones(len(ys), bool)
    for dy in range(kernel):
        for dx in range(kernel):
            keep &= values >= padded[ys + dy, xs + dx]
    return np.stack([xs[keep], ys[keep]], axis=1)


def sample_bilinear(fmap: Floats, uv: Floats) -> Floats:
    """Bilinear samples of a map at fractional cell positions, zero outside (like grid_sample).

    Args:
        fmap: (C, h, w) float32 map.
        uv: (N, 2) float32 positions in cells; (0, 0) is the centre of the first cell.

    Returns:
        (N, C) float32 samples.
    """
    channels, h, w = fmap.shape
    u0 = np.floor(uv[:, 0]).astype(np.intp)
    v0 = np.floor(uv[:, 1]).astype(np.intp)
    fu = (uv[:, 0] - u0).astype(np.float32)
    fv = (uv[:, 1] - v0).astype(np.float32)
    out = np.zeros((len(uv), channels), np.float32)
    for du, dv, weight in (
        (0, 0, (1 - fu) * (1 - fv)),
        (1, 0, fu * (1 - fv)),
        (0, 1, (1 - fu) * fv),
        (1, 1, fu * fv),
    ):
        u, v = u0 + du, v0 + dv
        inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
        out[inside] += weight[inside, None] * fmap[:, v[inside], u[inside]].T
    return out


def sparse_features(
    descriptors: Floats, heat: Floats, reliability: Floats, prepared: Prepared, top_k: int
) -> tuple[Floats, Floats, Floats]:
    """Keypoints, descriptors and scores from the network's dense outputs.

    Args:
        descriptors: (64, H/8, W/8) float32 unit descriptor map.
        heat: (H, W) float32 keypoint heatmap.
        reliability: (H/8, W/8) float32 reliability map.
        prepared: the input the maps were computed from.
        top_k: the most keypoints kept.

    Returns:
        (N, 2) float32 x, y in source pixels, (N, 64) float32 unit descriptors and (N,) float32
        scores, best first (N <= top_k).
    """
    height, width = heat.shape
    xy = nms(heat)
    xy = xy[(xy[:, 0] < prepared.valid[0]) & (xy[:, 1] < prepared.valid[1])]
    # grid_sample with align_corners=False after the reference's normalisation by (W - 1, H - 1)
    h8, w8 = reliability.shape
    uv = np.stack(
        [xy[:, 0] * (w8 / max(width - 1, 1)) - 0.5, xy[:, 1] * (h8 / max(height - 1, 1)) - 0.5],
        axis=1,
    ).astype(np.float32)
    scores = heat[xy[:, 1], xy[:, 0]] * sample_bilinear(reliability[None], uv)[:, 0]
    order = np.argsort(-scores, kind="stable")[:top_k]
    order = order[scores[order] > 0]
    desc = sample_bilinear(descriptors, uv[order])
    desc /= np.maximum(np.linalg.norm(desc, axis=1, keepdims=True), 1e-12)
    points = xy[order].astype(np.float32) * np.array(prepared.scale, np.float32)
    return points, desc.astype(np.float32), scores[order].astype(np.float32)


class XFeatExtractor:
    """Runs ``xfeat.onnx`` with onnxruntime on the CPU.

    Args:
        path: the ONNX file.
        threads: intra-op threads of the session.
    """

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = open_session(path, threads)  # telemetry off, like every session

    def extract(
        self, rgb: npt.NDArray[np.uint8], max_side: int = 1024, top_k: int = 1024
    ) -> XFeatures:
        """The local features of one photo.

        Args:
            rgb: (H, W, 3) uint8 photo.
            max_side: the network input's largest long side, in pixels.
            top_k: the most keypoints kept.

        Returns:
            Keypoints in the source's pixels, their descriptors and scores.
        """
        prepared = prepare(rgb, max_side)
        desc_map, heat, rel = self._session.run(None, {"image": prepared.image})
        xy, desc, scores = sparse_features(desc_map[0], heat[0, 0], rel[0, 0], prepared, top_k)
        return XFeatures(xy, desc, (rgb.shape[1], rgb.shape[0]), scores)

