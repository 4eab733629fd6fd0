"""X-CLIP's video-specific prompts: the class names' text features attend to the video's tokens.

Three-input attention: queries from the text (one per class name), keys and values from the video.
Each class's text embedding is nudged by what it finds in this video, ``c + alpha ⊙ prompt(c, z)``,
so the same class name reads slightly differently for different videos.
"""

from __future__ import annotations

import torch
from torch import nn

from ..capture import recorders_for
from ..errors import _require, _shape
from ..functional import scaled_dot_product_attention
from ..heads import merge_heads, split_heads
from ._xclip_init import init_like_xclip
from .clip import QuickGELU

__all__ = ["PromptAttention", "PromptGeneratorLayer", "VideoSpecificPrompt"]


class PromptAttention(nn.Module):
    """X-CLIP's prompt cross-attention (its ``MulitHeadAttention``): q/k/v projections without bias, an
    output projection with one, heads of width E / heads, batch-first. :func:`capture_attention` records
    its weights (B, heads, K, N).

    Shapes:
        q (B, K, E), k and v (B, N, E) → (B, K, E)
    """

    records_attention = True  # capture_attention hands its recorders to this module

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        _require(num_heads >= 1 and dim % num_heads == 0, f"dim {dim} is not divisible into {num_heads} heads")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        _require(
            q.dim() == 3 and k.dim() == 3 and k.shape == v.shape and q.shape[0] == k.shape[0],
            f"expected q (B, K, E) and k, v (B, N, E), got q {_shape(q)}, k {_shape(k)}, v {_shape(v)}",
        )
        H = self.num_heads
        qh, kh, vh = (split_heads(p(t), H) for p, t in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
        recorders = recorders_for(self)
        if recorders:
            out, weights = scaled_dot_product_attention(qh, kh, vh, return_weights=True)  # weights (B, H, K, N)
            for record in recorders:
                record(weights)
        else:
            out = scaled_dot_product_attention(qh, kh, vh)  # (B, H, K, E/H)
        return self.proj(merge_heads(out))  # (B, K, E)


class PromptGeneratorLayer(nn.Module):
    """``c = c + cross_attn(norm1(c), z, z)``, then ``c = c + mlp(norm3(c))`` (X-CLIP's key names).

    Shapes:
        text (B, K, E), visual (B, N, E) → (B, K, E)
    """

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.cross_attn = PromptAttention(d_model, nhead)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        # Keys mlp.0 and mlp.3, as in X-CLIP's unnamed Sequential.
        self.mlp = nn.Sequential(
            nn.Linear(d_model, d_model * 4), QuickGELU(), nn.Dropout(dropout), nn.Linear(d_model * 4, d_model)
        )

    def forward(self, text: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        q = self.norm1(text)
        text = text + self.cross_attn(q, visual, visual)
        return text + self.dropout(self.mlp(self.norm3(text)))


class VideoSpecificPrompt(nn.Module):
    """X-CLIP's prompt generator: LayerNorm the video tokens once, run the layers, scale by ``alpha``.

    Returns ``alpha ⊙ c``, which X-CLIP adds to the text features. ``heads`` defaults to X-CLIP's
    ``embed_dim // 64``; give it for widths below 64.

    Shapes:
        text (B, K, E), visual (B, N, E) → (B, K, E)
    """

    def __init__(self, layers: int = 2, embed_dim: int = 512, alpha: float = 0.1, *, heads: int | None = None) -> None:
        super().__init__()
        heads = embed_dim // 64 if heads is None else heads
        _require(heads >= 1, f"embed_dim {embed_dim} gives {heads} heads at 64 features per head: pass heads=")
        self.norm = nn.LayerNorm(embed_dim)
        self.decoder = nn.ModuleList([PromptGeneratorLayer(embed_dim, heads) for _ in range(layers)])
        self.alpha = nn.Parameter(torch.ones(embed_dim) * alpha)
        self.apply(init_like_xclip)

    def forward(self, text: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        E = self.alpha.shape[0]
        _require(
            text.dim() == 3
            and visual.dim() == 3
            and text.shape[-1] == E == visual.shape[-1]
            and text.shape[0] == visual.shape[0],
            f"expected text (B, K, {E}) and visual (B, N, {E}), got text {_shape(text)}, visual {_shape(visual)}",
        )
        visual = self.norm(visual)
        for layer in self.decoder:
            text = layer(text, visual)
        return self.alpha * text  # (B, K, E)
