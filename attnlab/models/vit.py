"""The Vision Transformer stem that CLIP's image encoder and X-CLIP's video encoder share.

Both cut an image into ``patch_size`` patches with one convolution (``conv1``), put a learned class token
in front (``class_embedding``), add learned positions (``positional_embedding``), normalise (``ln_pre``),
run their transformer, and read the class token out through ``ln_post`` and ``proj``. Only the
transformer differs: CLIP's blocks, or X-CLIP's cross-frame blocks. :class:`ViTStem` holds the shared
parts under CLIP's parameter names, so checkpoints load with ``strict=True``, and builds them in CLIP's
order, so a seeded model starts from the same numbers as CLIP's code would give it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import _require, _shape

__all__ = ["ViTStem"]


class ViTStem(nn.Module):
    """Patch embedding, class token, positions and ``ln_pre``; ``transformer``; ``ln_post`` and ``proj``.

    ``transformer`` is called once, between ``ln_pre`` and ``ln_post``, to build the subclass's
    transformer; ``norm`` is the LayerNorm class (CLIP's float32 one, or ``nn.LayerNorm`` in X-CLIP).

    Shapes:
        embed: (N, 3, R, R) → (N, 1 + g², width) with g = R / patch_size, class token first
    """

    def __init__(
        self,
        input_resolution: int,
        patch_size: int,
        width: int,
        output_dim: int,
        transformer: Callable[[], nn.Module],
        norm: type[nn.LayerNorm] = nn.LayerNorm,
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
        self.ln_pre = norm(width)
        self.transformer = transformer()
        self.ln_post = norm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def _check_images(self, x: torch.Tensor, frames: int | None = None) -> None:
        """Images (N, 3, R, R); or, given ``frames`` = T, video frames (B·T, 3, R, R)."""
        r = self.input_resolution
        what, lead = ("images", "N") if frames is None else ("frames", "B·T")
        _require(
            x.dim() == 4 and x.shape[1] == 3 and tuple(x.shape[-2:]) == (r, r) and x.shape[0] % (frames or 1) == 0,
            f"{what} must be ({lead}, 3, {r}, {r})"
            + ("" if frames is None else f" with B·T a multiple of T = {frames}")
            + f", got {_shape(x)}",
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patches, the class token in front, positions added, ``ln_pre``: (N, 1 + g², width)."""
        x = self.conv1(x.to(self.conv1.weight.dtype))  # (N, width, g, g)
        x = x.flatten(2).transpose(1, 2)  # (N, g², width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (N, 1, width)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)  # (N, 1 + g², width)
        return self.ln_pre(x)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The transformer's output for every token, class token at index 0: (N, 1 + g², width)."""
        self._check_images(x)
        return self.transformer(self.embed(x).transpose(0, 1)).transpose(0, 1)  # (L, N, D) inside

    def head(self, cls: torch.Tensor) -> torch.Tensor:
        """The class token read out: ``ln_post`` then ``proj``. Shapes: (N, width) → (N, output_dim)."""
        return self.ln_post(cls) @ self.proj
