"""Quality presets: which shipped model, at which scales (long side in pixels)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """A model file in ``models/`` and the scales a photo is embedded at (descriptors summed)."""

    model_file: str
    scales: tuple[int, ...]
    description: str
    local_features: bool = False
    """Also store compact local features per photo (~9 KB), which spatial re-ranking needs."""


PRESETS: dict[str, Preset] = {
    "fast": Preset("rmac_lite0.onnx", (768,), "EfficientNet-Lite0, one scale"),
    "balanced": Preset(
        "rmac_lite2_int8.onnx",
        (1024,),
        "EfficientNet-Lite2 with an int8 trunk (stem and first block float), one scale, "
        "local features for re-ranking",
        local_features=True,
    ),
    "balanced-fp32": Preset(
        "rmac_lite2.onnx",
        (1024,),
        "EfficientNet-Lite2 in float32 (the default before int8), one scale, local features for "
        "re-ranking",
        local_features=True,
    ),
    "best": Preset(
        "rmac_lite2.onnx",
        (1024, 768),
        "EfficientNet-Lite2, two scales summed, local features for re-ranking",
        local_features=True,
    ),
}
PRESETS["balanced-int8"] = PRESETS["balanced"]
"""The name the int8 model had while it was an option: libraries that recorded it still open
(and move to the current int8 file like every ``balanced`` library); no longer offered."""
DEFAULT_PRESET = "balanced"
PRESET_NAMES = ("fast", "balanced", "balanced-fp32", "best")
"""The preset names offered, in order from fastest to best (the one place they are written)."""
