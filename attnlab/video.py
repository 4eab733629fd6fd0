"""X-CLIP's video encoder, exactly: cross-frame communication, frame integration and video prompts.

Written from the semantics of microsoft/VideoX's X-CLIP (``cct.py``, ``mit.py``, ``prompt.py``; see the
book's reference notes) on attnlab's modules, so :func:`attnlab.capture_attention` sees every map and an
X-CLIP checkpoint's ``visual.*``, ``mit.*`` and ``prompts_generator.*`` load with ``strict=True``.

A video (B, T, 3, R, R) enters the encoder as B·T images, rows video-major (row = video·T + frame).
Each :class:`CrossFrameAttentionBlock` makes one **message token** per frame from that frame's class token,
lets the T messages of a video attend to each other (**CFA**, cross-frame fusion attention), appends each
message to its own frame's tokens for the frame's own attention (**IFA**, intra-frame fusion attention),
and drops it again before the MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .clip import ResidualAttentionBlock, _mlp
from .errors import _require, _shape
from .mha import MultiHeadAttention

__all__ = [
    "CrossFrameAttentionBlock",
    "CrossFrameCommunicationTransformer",
    "DropPath",
    "MultiframeIntegrationTransformer",
]


class DropPath(nn.Module):
    """Stochastic depth as X-CLIP uses it (timm's ``DropPath``): in training, zero a whole residual branch
    with probability ``p`` and scale the kept ones by 1 / (1 - p); identity in eval.

    The keep/drop draw is per index of the *first* dimension. X-CLIP's tensors are (L, N, D), so it drops
    token positions across the batch rather than samples; kept as X-CLIP has it.

    Shapes:
        x (d0, ...) → same
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        _require(0.0 <= p < 1.0, f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        draw = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)  # (d0, 1, …)
        return x * draw / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CrossFrameAttentionBlock(nn.Module):
    """X-CLIP's ``CrossFramelAttentionBlock``: message tokens, CFA across frames, IFA within each frame.

    ``x`` holds the tokens of B·T frames, class token first, rows video-major. ``attn_mask`` (for IFA,
    ``nn.MultiheadAttention``'s convention) is a plain attribute, never saved. LayerNorms are plain
    ``nn.LayerNorm`` as in X-CLIP.

    Shapes:
        x (l, B·T, D) with l = 1 + patches → (l, B·T, D)
    """

    def __init__(
        self, d_model: int, n_head: int, attn_mask: torch.Tensor | None = None, droppath: float = 0.0, T: int = 0
    ) -> None:
        super().__init__()
        _require(T >= 1, f"T (frames per video) must be at least 1, got {T}")
        self.T = T
        # Registered in X-CLIP's order, so state_dict keys come out in the same order.
        self.message_fc = nn.Linear(d_model, d_model)
        self.message_ln = nn.LayerNorm(d_model)
        self.message_attn = MultiHeadAttention(d_model, n_head)
        self.attn = MultiHeadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.drop_path = DropPath(droppath) if droppath > 0.0 else nn.Identity()
        self.mlp = _mlp(d_model)
        self.ln_2 = nn.LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """IFA: each frame's l + 1 tokens attend to each other."""
        mask = self.attn_mask
        if mask is not None:
            mask = mask.to(device=x.device, dtype=x.dtype if mask.is_floating_point() else torch.bool)
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require(
            x.dim() == 3 and x.shape[1] % self.T == 0,
            f"x must be (l, B·T, D) with B·T a multiple of T = {self.T}, got {_shape(x)}",
        )
        n, bt, d = x.shape  # n = l tokens per frame
        b = bt // self.T
        x = x.view(n, b, self.T, d)  # (l, B, T, D)
        msg = self.message_fc(x[0]).transpose(0, 1)  # (T, B, D): each frame's class token, as it enters
        m = self.message_ln(msg)
        msg = msg + self.drop_path(self.message_attn(m, m, m, need_weights=False)[0])  # CFA over T frames
        x = torch.cat([x, msg.transpose(0, 1).unsqueeze(0)], dim=0).view(n + 1, bt, d)  # (l+1, B·T, D)
        x = x + self.drop_path(self.attention(self.ln_1(x)))  # IFA; the message token gets a residual too
        x = x[:n]  # (l, B·T, D): the message is dropped; the next block makes new ones
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class _CrossFrameTransformer(nn.Module):
    """``layers`` cross-frame blocks in sequence, under X-CLIP's key ``resblocks``."""

    def __init__(self, width: int, layers: int, heads: int, droppath: Sequence[float], T: int) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(
            *[CrossFrameAttentionBlock(width, heads, droppath=droppath[i], T=T) for i in range(layers)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


def _drop_rates(droppath: float | Sequence[float] | None, layers: int) -> list[float]:
    """X-CLIP's per-layer rates: ``linspace(0, droppath, layers)`` for a number, a list as given."""
    if droppath is None or isinstance(droppath, int | float):
        top = float(droppath or 0.0)
        return torch.linspace(0, top, layers).tolist() if top > 0 else [0.0] * layers
    rates = [float(r) for r in droppath]
    _require(len(rates) == layers, f"droppath has {len(rates)} rates for {layers} layers")
    return rates


class CrossFrameCommunicationTransformer(nn.Module):
    """X-CLIP's video encoder: CLIP's ViT with cross-frame blocks, applied to B·T frames.

    Returns each frame's projected class token and every frame's patch tokens, as X-CLIP does; the
    frames of one video are consecutive rows.

    Shapes:
        x (B·T, 3, R, R) → (B·T, output_dim), (B·T, P, width) with P = (R / patch_size)²
    """

    def __init__(
        self,
        input_resolution: int,
        patch_size: int,
        width: int,
        layers: int,
        heads: int,
        output_dim: int,
        droppath: float | Sequence[float] | None = 0.0,
        T: int = 8,
    ) -> None:
        super().__init__()
        _require(
            input_resolution % patch_size == 0,
            f"input_resolution {input_resolution} is not a multiple of patch_size {patch_size}",
        )
        self.input_resolution, self.output_dim, self.patch_size, self.T = input_resolution, output_dim, patch_size, T
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = _CrossFrameTransformer(width, layers, heads, _drop_rates(droppath, layers), T)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The transformer's output for every token of every frame, class token first: (B·T, 1 + P, width)."""
        r = self.input_resolution
        _require(
            x.dim() == 4 and x.shape[1] == 3 and tuple(x.shape[-2:]) == (r, r) and x.shape[0] % self.T == 0,
            f"frames must be (B·T, 3, {r}, {r}) with B·T a multiple of T = {self.T}, got {_shape(x)}",
        )
        x = self.conv1(x.to(self.conv1.weight.dtype))  # (B·T, width, g, g)
        x = x.flatten(2).transpose(1, 2)  # (B·T, P, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (B·T, 1, width)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype))  # (B·T, 1 + P, width)
        return self.transformer(x.transpose(0, 1)).transpose(0, 1)  # (l, B·T, width) inside, as in X-CLIP

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tokens(x)
        return self.ln_post(x[:, 0]) @ self.proj, x[:, 1:]  # (B·T, output_dim), (B·T, P, width)


class MultiframeIntegrationTransformer(nn.Module):
    """X-CLIP's frame integration (MIT): frame positions, pre-LN blocks across frames, the input added back,
    then the mean over frames. Frame order enters a video model here, through ``positional_embedding``.

    ``heads`` defaults to X-CLIP's ``embed_dim // 64``; give it for widths below 64.

    Shapes:
        x (B, T, E) → (B, E)
    """

    def __init__(self, T: int, embed_dim: int = 512, layers: int = 1, *, heads: int | None = None) -> None:
        super().__init__()
        heads = embed_dim // 64 if heads is None else heads
        _require(heads >= 1, f"embed_dim {embed_dim} gives {heads} heads at 64 features per head: pass heads=")
        self.T = T
        self.positional_embedding = nn.Parameter(torch.empty(1, T, embed_dim))
        self.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(embed_dim, heads, norm=nn.LayerNorm) for _ in range(layers)]
        )
        self.apply(_init_like_xclip)
        nn.init.trunc_normal_(self.positional_embedding, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require(
            x.dim() == 3 and x.shape[1:] == self.positional_embedding.shape[1:],
            f"frame features must be (B, {self.T}, {self.positional_embedding.shape[-1]}), got {_shape(x)}",
        )
        y = (x + self.positional_embedding).transpose(0, 1)  # (T, B, E)
        y = self.resblocks(y).transpose(0, 1)  # (B, T, E)
        return (y.to(x.dtype) + x).mean(dim=1)  # (B, E)


def _init_like_xclip(module: nn.Module) -> None:
    """X-CLIP's ``_init_weights``: truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
