"""Attention rollout (Abnar and Zuidema, 2020): how much each input token reaches each output token.

One layer's map says where a token looks among the tokens *of that layer*, which after the first layer are
already mixtures of the input. Rollout follows the mixing through the stack. Each layer's residual add
passes a token on as well as the average it attends to, so the layer becomes

    A′ = ½ · (mean over heads of A) + ½ · I,   each row renormalised to sum to 1,

and the layers compose by matrix products, last layer on the left: rollout = A′_L ⋯ A′_2 A′_1. Row i
of the result says how much of each input token flows into token i at the top of the stack, if
attention and the residual path were the only routes (the MLPs and the nonlinearities are ignored). The
paper calls it a heuristic, not an attribution with guarantees.

    maps = capture_attention(...)                    # per layer (B, H, L, L)
    flow = attention_rollout([maps[name] for name in layer_names])   # (B, L, L)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import _require, _shape

__all__ = ["attention_rollout"]


def attention_rollout(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Roll attention out through the layers: A′_L ⋯ A′_1 with A′ = renormalised ½·mean_h(A) + ½·I.

    ``maps`` holds one tensor of attention weights per layer, first layer first, each (B, H, L, L): the
    per-head maps of a self-attention layer (``capture_attention`` gives them). Raises
    :class:`~attnlab.AttnLabError` for an empty sequence, a map that is not (B, H, L, L) with L = S, or
    layers whose shapes differ.

    Shapes:
        maps: a sequence of (B, H, L, L) → (B, L, L); every row sums to 1
    """
    maps = list(maps)
    _require(len(maps) > 0, "attention_rollout needs the maps of at least one layer, got none")
    first = maps[0]
    for i, a in enumerate(maps):
        _require(
            isinstance(a, torch.Tensor) and a.dim() == 4 and a.shape[-1] == a.shape[-2],
            f"layer {i}'s map must be (B, H, L, L), self-attention weights, got "
            f"{_shape(a) if isinstance(a, torch.Tensor) else type(a).__name__}",
        )
        _require(
            a.shape[0] == first.shape[0] and a.shape[-1] == first.shape[-1],
            f"every layer must have the same batch and tokens: layer 0 is {_shape(first)}, layer {i} is {_shape(a)}",
        )
    eye = torch.eye(first.shape[-1], dtype=first.dtype, device=first.device)  # (L, L)
    flow = None
    for a in maps:
        layer = 0.5 * a.mean(dim=1) + 0.5 * eye  # (B, L, L): the head average and the residual path
        layer = layer / layer.sum(dim=-1, keepdim=True)  # rows sum to 1 again
        flow = layer if flow is None else layer @ flow  # later layers on the left
    return flow
