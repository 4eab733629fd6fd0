"""Read every attention map inside a model, without changing what the model computes.

    with capture_attention(model) as maps:
        model(x)
    maps["encoder.layers.0.attn"]  # (N, H, L, S)

Works for attnlab's :class:`~attnlab.MultiHeadAttention` and its other attention modules that declare
``records_attention = True``: while they compute their weights (N, H, L, S), they hand them to each
callback in :func:`recorders_for(self) <recorders_for>`. It also works for
:class:`torch.nn.MultiheadAttention` (whose weights are recomputed from the same inputs by a forward
hook, so its own fast path and outputs are left alone).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from . import _recording
from ._recording import recorders_for
from .functional import attention_weights
from .mha import MultiHeadAttention, _project_and_mask

__all__ = ["capture_attention", "recorders_for"]

_TORCH_MHA_SIGNATURE = inspect.signature(nn.MultiheadAttention.forward)


@contextmanager
def capture_attention(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Record the per-head attention weights of every attention module inside ``model``.

    Yields a dict, filled as forwards run inside the ``with`` block, from module name (as in
    ``model.named_modules()``; ``""`` is ``model`` itself) to its weights (N, H, L, S), detached.
    Unbatched calls give N = 1. A module called several times keeps its last call. Outputs are
    unchanged; the hooks are gone when the block ends.

    Shapes:
        each value (N, H, L, S): batch, heads, queries, keys.
    """
    maps: dict[str, torch.Tensor] = {}
    undo = []
    for name, module in model.named_modules():
        if isinstance(module, MultiHeadAttention) or getattr(module, "records_attention", False):
            recorder = _store_as(maps, name)
            _recording._add(module, recorder)
            undo.append(lambda m=module, r=recorder: _recording._remove(m, r))
        elif isinstance(module, nn.MultiheadAttention):
            handle = module.register_forward_hook(_torch_mha_hook(maps, name), with_kwargs=True)
            undo.append(handle.remove)
    try:
        yield maps
    finally:
        for remove in undo:
            remove()


def _store_as(maps: dict[str, torch.Tensor], name: str):
    def record(weights: torch.Tensor) -> None:
        maps[name] = weights.detach()

    return record


def _torch_mha_hook(maps: dict[str, torch.Tensor], name: str):
    """A forward hook that recomputes an ``nn.MultiheadAttention``'s per-head weights from its inputs."""

    def hook(module: nn.MultiheadAttention, args: tuple, kwargs: dict, output: object) -> None:
        call = _TORCH_MHA_SIGNATURE.bind(module, *args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        with torch.no_grad():
            q, k, _, mask, _ = _project_and_mask(
                module, a["query"], a["key"], a["value"], a["key_padding_mask"], a["attn_mask"], a["is_causal"]
            )
            maps[name] = attention_weights(q, k, mask)  # (N, H, L, S)

    return hook
