"""CLIP's transformer blocks and model, exactly: the same computation, layouts and ``state_dict`` keys.

Written from the semantics of openai/CLIP's ``clip/model.py`` (see the book's reference notes), on top of
:class:`attnlab.MultiHeadAttention`, so that :func:`attnlab.capture_attention` sees every map and a
CLIP checkpoint's ``visual.*`` and text-transformer weights load with ``strict=True``.
Layout (L, N, D) throughout, as in CLIP.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import _require, _shape
from ..masks import bool_to_additive, causal_mask
from ..mha import MultiHeadAttention
from .vit import ViTStem

__all__ = [
    "CLIP",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "CLIPConfig",
    "LayerNorm",
    "QuickGELU",
    "ResidualAttentionBlock",
    "TextTower",
    "Transformer",
    "VisionTransformer",
    "mlp",
    "normalize_images",
]


# CLIP's input normalisation, per RGB channel, for images scaled to [0, 1] (its preprocess's Normalize).
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as CLIP's encoders expect them: each RGB channel minus its mean, over its std.

    Shapes:
        images (..., 3, R, R) → (..., 3, R, R)
    """
    _require(images.dim() >= 3 and images.shape[-3] == 3, f"images must be (..., 3, R, R), got {_shape(images)}")
    mean = torch.tensor(IMAGE_MEAN, dtype=images.dtype, device=images.device)[:, None, None]  # (3, 1, 1)
    std = torch.tensor(IMAGE_STD, dtype=images.dtype, device=images.device)[:, None, None]
    return (images - mean) / std


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back to the input's dtype (CLIP runs in float16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = (None if p is None else p.to(torch.float32) for p in (self.weight, self.bias))
        return F.layer_norm(x.to(torch.float32), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    """CLIP's GELU approximation: ``x · σ(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def mlp(d_model: int) -> nn.Sequential:
    """CLIP's MLP, keys ``c_fc`` and ``c_proj``: D → 4D → QuickGELU → D (X-CLIP's blocks use it too)."""
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
        self.mlp = mlp(d_model)
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


class VisionTransformer(ViTStem):
    """CLIP's image encoder: patches → class token and positions → transformer → the class token, projected.

    Shapes:
        x (N, 3, R, R) with R = input_resolution → (N, output_dim)
    """

    def __init__(
        self, input_resolution: int, patch_size: int, width: int, layers: int, heads: int, output_dim: int
    ) -> None:
        super().__init__(
            input_resolution, patch_size, width, output_dim, lambda: Transformer(width, layers, heads), LayerNorm
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tokens(x)[:, 0, :])  # (N, output_dim)


@dataclass(frozen=True)
class CLIPConfig:
    """CLIP's sizes, as its ``build_model`` reads them off a checkpoint's tensors.

    ViT-B/32: ``CLIPConfig(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12)``.
    """

    embed_dim: int  # width of the joint image–text space that both towers project into
    image_resolution: int
    vision_layers: int
    vision_width: int
    vision_patch_size: int
    context_length: int  # text tokens, 77 in every released model
    vocab_size: int
    transformer_width: int  # the text tower's width
    transformer_heads: int
    transformer_layers: int
    vision_heads: int | None = None  # None: CLIP's rule, vision_width // 64 (a checkpoint does not record it)

    @property
    def image_heads(self) -> int:
        return self.vision_width // 64 if self.vision_heads is None else self.vision_heads


class TextTower(nn.Module):
    """CLIP's text encoder and logit scale, which CLIP and X-CLIP share under the same top-level names
    (``transformer``, ``token_embedding``, ``positional_embedding``, ``ln_final``, ``text_projection``,
    ``logit_scale``). Subclasses build their visual side, then call :meth:`_build_text`.

    Shapes:
        encode_text: token ids (N, context_length) → (N, embed_dim)
    """

    def _build_text(self, config: CLIPConfig) -> None:
        self.context_length = config.context_length
        width = config.transformer_width
        text_mask = bool_to_additive(causal_mask(config.context_length))  # (77, 77): -inf above the diagonal
        self.transformer = Transformer(width, config.transformer_layers, config.transformer_heads, text_mask)
        self.token_embedding = nn.Embedding(config.vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context_length, width))
        self.ln_final = LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, config.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(0.0))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.positional_embedding  # (N, L, D)
        x = self.ln_final(self.transformer(x.transpose(0, 1)).transpose(0, 1))
        end = tokens.argmax(dim=-1)  # CLIP reads the features at the end-of-text token (the largest id)
        return x[torch.arange(x.shape[0]), end] @ self.text_projection  # (N, E)


class CLIP(TextTower):
    """CLIP's two towers under CLIP's own parameter names, so a checkpoint loads with ``strict=True``.

    Shapes:
        encode_image: (N, 3, R, R) → (N, E); encode_text: token ids (N, context_length) → (N, E);
        forward(images, tokens) → logits (N_images, N_texts) and their transpose.
    """

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.visual = VisionTransformer(
            c.image_resolution, c.vision_patch_size, c.vision_width, c.vision_layers, c.image_heads, c.embed_dim
        )
        self._build_text(config)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CLIP's logits: scaled cosine similarities, (N_images, N_texts) and its transpose."""
        image = F.normalize(self.encode_image(images), dim=-1)
        text = F.normalize(self.encode_text(tokens), dim=-1)
        logits = self.logit_scale.exp() * image @ text.T
        return logits, logits.T
