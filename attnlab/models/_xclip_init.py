"""X-CLIP's weight initialisation, shared by its frame integration (:mod:`.xclip`) and its prompts
(:mod:`.xclip_prompt`)."""

from __future__ import annotations

from torch import nn


def init_like_xclip(module: nn.Module) -> None:
    """X-CLIP's ``_init_weights``, for ``module.apply`` (its frame integration and prompts use it):
    truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
