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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import _require, _shape
from ..mha import MultiHeadAttention
from ._xclip_init import init_like_xclip
from .clip import CLIPConfig, LayerNorm, ResidualAttentionBlock, TextTower, mlp
from .vit import ViTStem
from .xclip_prompt import VideoSpecificPrompt

__all__ = [
    "XCLIP",
    "CrossFrameAttentionBlock",
    "CrossFrameCommunicationTransformer",
    "DropPath",
    "MultiframeIntegrationTransformer",
    "XCLIPConfig",
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
        self.mlp = mlp(d_model)
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


class CrossFrameCommunicationTransformer(ViTStem):
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
        rates = _drop_rates(droppath, layers)
        super().__init__(
            input_resolution,
            patch_size,
            width,
            output_dim,
            lambda: _CrossFrameTransformer(width, layers, heads, rates, T),
        )
        self.T = T

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The transformer's output for every token of every frame, class token first: (B·T, 1 + P, width)."""
        self._check_images(x, frames=self.T)
        return self.transformer(self.embed(x).transpose(0, 1)).transpose(0, 1)  # (l, B·T, width) inside

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tokens(x)
        return self.head(x[:, 0]), x[:, 1:]  # (B·T, output_dim), (B·T, P, width)


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
        self.apply(init_like_xclip)
        nn.init.trunc_normal_(self.positional_embedding, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require(
            x.dim() == 3 and x.shape[1:] == self.positional_embedding.shape[1:],
            f"frame features must be (B, {self.T}, {self.positional_embedding.shape[-1]}), got {_shape(x)}",
        )
        y = (x + self.positional_embedding).transpose(0, 1)  # (T, B, E)
        y = self.resblocks(y).transpose(0, 1)  # (B, T, E)
        return (y.to(x.dtype) + x).mean(dim=1)  # (B, E)


@dataclass(frozen=True)
class XCLIPConfig:
    """X-CLIP's sizes: CLIP's, and the video parts X-CLIP adds."""

    clip: CLIPConfig
    T: int  # frames per video, fixed by the frame positions of the integration transformer
    mit_layers: int = 1  # depth of the multi-frame integration transformer
    prompts_layers: int = 2  # layers of the video-specific prompt generator
    prompts_alpha: float = 0.1  # initial scale of the prompts added to the text features


class XCLIP(TextTower):
    """X-CLIP: CLIP's text tower, a cross-frame video encoder, frame integration and video-specific prompts,
    under X-CLIP's parameter names (``visual.*``, ``mit.*``, ``prompts_generator.*``, ``prompts_visual_*``).

    It shares CLIP's text tower (:class:`TextTower`) and builds no CLIP image encoder.

    Shapes:
        encode_video: (B, T, 3, R, R) → video features (B, E) and patch features (B, T, P, E);
        forward(videos, tokens (K, context_length)) → logits (B, K); classify(videos, text (K, E)) → (B, K).
    """

    def __init__(self, config: XCLIPConfig) -> None:
        super().__init__()
        self.config = config
        c, T = config.clip, config.T
        self.T = T
        self.visual = CrossFrameCommunicationTransformer(
            c.image_resolution, c.vision_patch_size, c.vision_width, c.vision_layers, c.image_heads, c.embed_dim, T=T
        )
        self._build_text(c)
        self.prompts_visual_ln = LayerNorm(c.vision_width)
        self.prompts_visual_proj = nn.Parameter(torch.randn(c.vision_width, c.embed_dim))
        self.mit = MultiframeIntegrationTransformer(T, c.embed_dim, config.mit_layers)
        self.prompts_generator = VideoSpecificPrompt(config.prompts_layers, c.embed_dim, config.prompts_alpha)

    def encode_video(self, videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _require(
            videos.dim() == 5 and videos.shape[1] == self.T,
            f"videos must be (B, {self.T}, 3, R, R), got {_shape(videos)}",
        )
        b, t = videos.shape[:2]
        frames, patches = self.visual(videos.flatten(0, 1))  # (B·T, E), (B·T, P, W): frames video-major
        patches = self.prompts_visual_ln(patches) @ self.prompts_visual_proj  # (B·T, P, E)
        frames = frames.view(b, t, -1)  # (B, T, E)
        return self.mit(frames), patches.view(b, t, -1, frames.shape[-1])  # (B, E), (B, T, P, E)

    def classify(self, videos: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """X-CLIP's logits against given text features: prompts from the frame-averaged patches, cosine, scale."""
        video, patches = self.encode_video(videos)
        text = text.unsqueeze(0).expand(video.shape[0], -1, -1)  # (B, K, E)
        text = text + self.prompts_generator(text, patches.mean(dim=1))  # video tokens: patches averaged over T
        video, text = F.normalize(video, dim=-1), F.normalize(text, dim=-1)
        return torch.einsum("bd,bkd->bk", video, self.logit_scale.exp() * text)  # (B, K)

    def forward(self, videos: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.classify(videos, self.encode_text(tokens))
