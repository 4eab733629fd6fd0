"""Divided space-time attention (TimeSformer, Bertasius et al., 2021), in X-CLIP's token layout.

A video of T frames with P patches each: first every patch position attends across the T frames
(temporal attention, with its own projections and a linear layer ``temporal_fc`` after it, as in
TimeSformer), then every frame attends within itself (spatial attention), then the MLP. The spatial part
costs T attentions over one frame; the temporal part P attentions over T tokens.

One difference from TimeSformer, kept on purpose so that chapter 6 can compare three blocks on one
layout: TimeSformer has **one** class token for the whole video (copied into every frame for spatial
attention and averaged back), while this block takes X-CLIP's layout, (1 + P, B·T, D) with **one class
token per frame**. Each frame's class token joins spatial attention but not temporal attention. The
attention cost is the same; the code, and what the class tokens hold, are not.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import _require, _shape
from ..mha import MultiHeadAttention

__all__ = ["DividedSpaceTimeBlock"]


class DividedSpaceTimeBlock(nn.Module):
    """Patches attend across the frames, then frames attend within themselves, then the MLP; pre-LN residuals.

    Shapes:
        x (l, B·T, D) with l = 1 + P, each frame's class token first, a video's frames in consecutive
        rows (row = video · T + frame) → (l, B·T, D)
    """

    def __init__(self, d: int, heads: int, T: int) -> None:
        super().__init__()
        _require(T >= 1, f"T must be >= 1 frames, got {T}")
        self.T = T
        self.temporal_ln, self.temporal_attn = nn.LayerNorm(d), MultiHeadAttention(d, heads)
        self.temporal_fc = nn.Linear(d, d)
        self.ln_1, self.attn = nn.LayerNorm(d), MultiHeadAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require(
            x.dim() == 3 and x.shape[0] >= 2 and x.shape[1] % self.T == 0,
            f"x must be (1 + P, B·T, D) with B·T a multiple of T = {self.T}, got {_shape(x)}",
        )
        n_tok, bt, d = x.shape  # n_tok = l = 1 + P
        b, patches = bt // self.T, n_tok - 1
        p = x[1:].reshape(patches, b, self.T, d).permute(2, 0, 1, 3).reshape(self.T, patches * b, d)  # (T, P·B, D)
        y = self.temporal_ln(p)
        p = p + self.temporal_fc(self.temporal_attn(y, y, y, need_weights=False)[0])  # across the T frames
        p = p.reshape(self.T, patches, b, d).permute(1, 2, 0, 3).reshape(patches, bt, d)  # (P, B·T, D)
        x = torch.cat([x[:1], p])  # (l, B·T, D)
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]  # (l, B·T, D): within each frame
        return x + self.mlp(self.ln_2(x))
