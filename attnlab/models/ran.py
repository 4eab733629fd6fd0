"""The Residual Attention Network's attention module (Wang et al., 2017), for images.

A trunk branch T(x) processes features as usual; a soft mask branch M(x) looks at the same features
through a bottom-up (max-pool) then top-down (upsample) path and ends in a sigmoid, so M ∈ [0, 1] at
T's size. The module outputs ``(1 + M) · T``: the mask can only amplify, and where it is 0 the trunk
still passes, which keeps stacked modules trainable ("attention residual learning"). ``residual=False``
gives the naive ``M · T`` for comparison.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import _require, _shape

__all__ = ["ResidualAttentionModule", "ResidualUnit"]


class ResidualUnit(nn.Module):
    """A pre-activation bottleneck residual unit: (BN-ReLU-conv) 1×1, 3×3, 1×1, plus the input.

    Shapes:
        x (N, in_channels, H, W) → (N, out_channels, H / stride, W / stride)
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, stride: int = 1) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        mid = max(1, out_channels // 4)
        self.bn1, self.conv1 = nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, stride, padding=1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, out_channels, 1, bias=False)
        needs_projection = in_channels != out_channels or stride != 1
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h)))
        return self.conv3(F.relu(self.bn3(h))) + skip


def _units(channels: int, n: int) -> nn.Sequential:
    return nn.Sequential(*[ResidualUnit(channels) for _ in range(n)])


class ResidualAttentionModule(nn.Module):
    """Pre-processing units, a trunk and a soft mask branch, ``(1 + M) · T``, post-processing units.

    Args:
        channels: feature channels in and out.
        p, t, r: residual units before and after the module, in the trunk, and between pooling
            (or upsampling) steps in the mask branch (the paper's defaults 1, 2, 1).
        depth: how many times the mask branch halves the resolution (2r units at the lowest).
        residual: ``(1 + M) · T`` (True) or the naive ``M · T`` (False).

    Shapes:
        x (N, C, H, W) → out (N, C, H, W); with ``return_mask=True`` also mask (N, C, H, W) in [0, 1].
    """

    def __init__(
        self, channels: int, p: int = 1, t: int = 2, r: int = 1, depth: int = 1, residual: bool = True
    ) -> None:
        super().__init__()
        _require(channels >= 1 and depth >= 1, f"channels and depth must be >= 1, got {channels} and {depth}")
        self.channels, self.depth, self.residual = channels, depth, residual
        self.pre, self.trunk, self.post = _units(channels, p), _units(channels, t), _units(channels, p)
        # Bottom-up: after each max-pool, r units (2r at the lowest resolution); a skip unit per upper scale.
        self.down = nn.ModuleList([_units(channels, 2 * r if i == depth - 1 else r) for i in range(depth)])
        self.skips = nn.ModuleList([ResidualUnit(channels) for _ in range(depth - 1)])
        self.up = nn.ModuleList([_units(channels, r) for _ in range(depth - 1)])
        self.mask_head = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
            nn.Sigmoid(),
        )

    def soft_mask(self, x: torch.Tensor) -> torch.Tensor:
        """M(x) in [0, 1], the size of x: down by max-pooling, back up by bilinear upsampling."""
        skips, h = [], x
        for i in range(self.depth):
            h = self.down[i](F.max_pool2d(h, kernel_size=3, stride=2, padding=1))  # half the resolution
            if i < self.depth - 1:
                skips.append(self.skips[i](h))
        for i in reversed(range(self.depth - 1)):
            h = F.interpolate(h, size=skips[i].shape[-2:], mode="bilinear", align_corners=False) + skips[i]
            h = self.up[i](h)
        h = F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)  # (N, C, H, W)
        return self.mask_head(h)

    def forward(self, x: torch.Tensor, return_mask: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        _require(
            x.dim() == 4 and x.shape[1] == self.channels,
            f"expected feature maps (N, {self.channels}, H, W), got {_shape(x)}",
        )
        x = self.pre(x)
        trunk, mask = self.trunk(x), self.soft_mask(x)
        out = self.post((1 + mask) * trunk if self.residual else mask * trunk)
        return (out, mask) if return_mask else out
