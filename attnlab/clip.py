"""CLIP's transformer blocks, exactly: the same computation, layouts and ``state_dict`` keys.

Written from the semantics of openai/CLIP's ``clip/model.py`` (see the book's reference notes), on top of
:class:`attnlab.MultiHeadAttention`, so that :func:`attnlab.capture_attention` sees every map and a
CLIP checkpoint's ``visual.*`` and text-transformer weights load with ``strict=True``.
Layout (L, N, D) throughout, as in CLIP.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .errors import _require, _shape
from .mha import MultiHeadAttention

__all__ = ["LayerNorm", "QuickGELU", "ResidualAttentionBlock", "Transformer", "VisionTransformer"]


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back to the input's dtype (CLIP runs in float16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = (None if p is None else p.to(torch.float32) for p in (self.weight, self.bias))
        return F.layer_norm(x.to(torch.float32), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    """CLIP's GELU approximation: ``x · σ(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def _mlp(d_model: int) -> nn.Sequential:
    """CLIP's MLP, keys ``c_fc`` and ``c_proj``: D → 4D → QuickGELU → D."""
    hidden = [
        ("c_fc", nn.Linear(d_model, d_model * 4)),
        ("gelu", QuickGELU()),
        ("c_proj", nn.Linear(d_model * 4, d_model)),
    ]
    return nn.Sequential(OrderedDict(hidden))


class ResidualAttentionBlock(nn.Module):
    """Pre-LayerNorm attention and MLP, each added back to its input.

    ``x = x + attn(ln_1(x))``, then ``x = x + mlp(ln_2(x))`` with mlp = c_fc → QuickGELU → c_proj.
    ``attn_mask`` is in ``nn.MultiheadAttention``'s convention (CLIP's text mask is float, -inf above
    the diagonal) and is not part of the state dict. ``norm`` is CLIP's float32 :class:`LayerNorm`; X-CLIP's
    frame-integration blocks pass ``nn.LayerNorm``.

    Shapes:
        x (L, N, D) → (L, N, D)
    """

    def __init__(
        self, d_model: int, n_head: int, attn_mask: torch.Tensor | None = None, *, norm: type[nn.LayerNorm] = LayerNorm
    ) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_head)
        self.ln_1 = norm(d_model)
        self.mlp = _mlp(d_model)
        self.ln_2 = norm(d_model)
        self.attn_mask = attn_mask  # a plain attribute, as in CLIP: never saved with the weights

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attn_mask
        if mask is not None:  # a float mask follows x's dtype; a boolean one keeps its meaning
            mask = mask.to(device=x.device, dtype=x.dtype if mask.is_floating_point() else torch.bool)
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.ln_1(x))  # (L, N, D)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """``layers`` residual attention blocks in sequence, sharing one ``attn_mask``.

    Shapes:
        x (L, N, width) → (L, N, width)
    """

    def __init__(self, width: int, layers: int, heads: int, attn_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """CLIP's image encoder: patches → class token and positions → transformer → the class token, projected.

    Shapes:
        x (N, 3, R, R) with R = input_resolution → (N, output_dim)
    """

    def __init__(
        self, input_resolution: int, patch_size: int, width: int, layers: int, heads: int, output_dim: int
    ) -> None:
        super().__init__()
        _require(
            input_resolution % patch_size == 0,
            f"input_resolution {input_resolution} is not a multiple of patch_size {patch_size}",
        )
        self.input_resolution, self.output_dim, self.patch_size = input_resolution, output_dim, patch_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width**-0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid**2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The transformer's output for every token, class token at index 0: (N, 1 + g², width)."""
        _require(
            x.dim() == 4 and x.shape[1] == 3 and tuple(x.shape[-2:]) == (self.input_resolution,) * 2,
            f"images must be (N, 3, {self.input_resolution}, {self.input_resolution}), got {_shape(x)}",
        )
        x = self.conv1(x.to(self.conv1.weight.dtype))  # (N, width, g, g)
        x = x.flatten(2).transpose(1, 2)  # (N, g², width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (N, 1, width)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)  # (N, 1 + g², width)
        x = self.ln_pre(x)
        return self.transformer(x.transpose(0, 1)).transpose(0, 1)  # (L, N, D) inside, as in CLIP

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln_post(self.tokens(x)[:, 0, :]) @ self.proj  # (N, output_dim)
