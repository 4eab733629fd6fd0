"""Multi-head attention: a readable drop-in for :class:`torch.nn.MultiheadAttention`.

Same constructor, same ``forward`` signature and return values, same ``state_dict`` keys (so weights
load either way) and the same mask conventions *at its boundary*: a boolean ``attn_mask`` or
``key_padding_mask`` is True where a query may **not** attend, exactly as in PyTorch. Inside, masks are
converted once (:mod:`attnlab.masks`) and the heads run through
:func:`attnlab.scaled_dot_product_attention`.

Two deliberate differences, both documented in the book: a query that may attend to nothing gets zeros
(PyTorch gives NaN when it returns weights, and on the CPU also with ``need_weights=False`` through its
eval fast path, in eval mode without autograd), and ``is_causal=True`` without an ``attn_mask`` builds the causal mask
(PyTorch asks for one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._recording import recorders_for
from .errors import _require, _shape
from .functional import _check_impl, attention_weights, scaled_dot_product_attention
from .heads import merge_heads, split_heads
from .masks import causal_mask, combine_masks, from_mha_mask, key_padding_to_mask

__all__ = ["MultiHeadAttention", "project_heads"]


class MultiHeadAttention(nn.Module):
    """``h`` heads of scaled dot-product attention, concatenated and projected.

    Args are those of :class:`torch.nn.MultiheadAttention`, plus ``impl`` (``"manual"``, ``"sdpa"`` or
    ``"tiled"``), the path each head's attention takes.

    Shapes:
        query (L, N, D) or (N, L, D) with ``batch_first``, or unbatched (L, D); key (S, N, kdim);
        value (S, N, vdim) → output like query; weights (N, L, S), or (N, H, L, S) per head.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        impl: str = "manual",
    ) -> None:
        super().__init__()
        _require(
            embed_dim > 0 and num_heads > 0,
            f"embed_dim and num_heads must be positive, got {embed_dim} and {num_heads}",
        )
        _require(
            embed_dim % num_heads == 0,
            f"embed_dim {embed_dim} is not divisible by num_heads {num_heads} "
            "(each head takes embed_dim / num_heads features)",
        )
        _check_impl(impl)
        _require(0.0 <= dropout <= 1.0, f"dropout must be in [0, 1], got {dropout}")
        factory = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first, self.add_zero_attn, self.impl = dropout, batch_first, add_zero_attn, impl
        # Registered in PyTorch's order, so state_dict keys (and their order) match nn.MultiheadAttention.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))  # rows q|k|v
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
            self.bias_v = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases, Xavier-normal bias_k/v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                nn.init.xavier_uniform_(w)
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                nn.init.zeros_(b)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                nn.init.xavier_normal_(b)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(output, weights)``; weights are None unless ``need_weights``."""
        q, k, v, mask, batched = _project_and_mask(self, query, key, value, key_padding_mask, attn_mask, is_causal)
        recorders = recorders_for(self)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if (need_weights or recorders) and self.impl == "manual":
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p, return_weights=True)
        else:
            out = scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p, impl=self.impl)
            if need_weights or recorders:
                weights = attention_weights(q, k, mask)  # (N, H, L, S), formed only because it was asked for
        for record in recorders:
            record(weights)
        out = self.out_proj(merge_heads(out))  # (N, L, D)
        if not batched:
            out = out.squeeze(0)  # (L, D)
        elif not self.batch_first:
            out = out.transpose(0, 1)  # (L, N, D)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)  # (N, L, S)
        return out, weights if batched else weights.squeeze(0)


def project_heads(
    mha: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor | None = None,
    value: torch.Tensor | None = None,
    *,
    key_padding_mask: torch.Tensor | None = None,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The per-head queries, keys and values a multi-head attention module computes, and its mask.

    Works for attnlab's :class:`MultiHeadAttention` and ``torch.nn.MultiheadAttention`` alike, with the
    module's own layout and mask conventions; ``key`` and ``value`` default to ``query`` (self-attention).
    The mask comes back in attnlab's convention, ready for :func:`attnlab.attention_weights`.

    Shapes:
        query, key, value as the module takes them → q (N, H, L, E), k (N, H, S, E), v (N, H, S, E),
        mask broadcastable to (N, H, L, S); unbatched input gives N = 1.
    """
    key = query if key is None else key
    value = key if value is None else value
    q, k, v, mask, _ = _project_and_mask(mha, query, key, value, key_padding_mask, attn_mask, is_causal)
    return q, k, v, mask


def _project_and_mask(
    mha: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_padding_mask: torch.Tensor | None,
    attn_mask: torch.Tensor | None,
    is_causal: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, bool]:
    """Everything before the attention itself, for attnlab's module and PyTorch's alike.

    Reads only attributes the two classes share. Returns q (N, H, L, E), k (N, H, S', E),
    v (N, H, S', E), the mask in attnlab's convention broadcastable to (N, H, L, S'), and whether the
    input was batched. S' counts the keys that ``add_bias_kv`` and ``add_zero_attn`` append.
    """
    _require(
        query.dim() in (2, 3), f"query must be (L, N, D), (N, L, D) or unbatched (L, D), got shape {_shape(query)}"
    )
    _require(
        key.dim() == query.dim() == value.dim(),
        f"query, key and value must all be batched (3-D) or all unbatched (2-D), "
        f"got shapes {_shape(query)}, {_shape(key)} and {_shape(value)}",
    )
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)  # (1, L, D)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)  # (1, S)
    elif not mha.batch_first:
        query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)  # (N, L, D)
    N, L, S, D, H = query.shape[0], query.shape[1], key.shape[1], mha.embed_dim, mha.num_heads
    for name, t, width in (("query", query, D), ("key", key, mha.kdim), ("value", value, mha.vdim)):
        _require(t.shape[-1] == width, f"{name} width {t.shape[-1]} != expected {width} ({name}: {_shape(t)})")
    _require(
        key.shape[:2] == value.shape[:2] and key.shape[0] == N,
        f"query, key and value disagree on batch size or key/value length "
        f"(query: {_shape(query)}, key: {_shape(key)}, value: {_shape(value)}, as (N, length, width))",
    )
    if mha.in_proj_weight is not None:
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None)
    q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)  # (N, ·, D)

    mask = _attn_mask(attn_mask, N, H, L, S, batched)
    if mask is None and is_causal:
        mask = causal_mask(L, S, device=q.device)
    pad = None
    if key_padding_mask is not None:
        _require(
            tuple(key_padding_mask.shape) == (N, S),
            f"key_padding_mask of shape {_shape(key_padding_mask if batched else key_padding_mask[0])} "
            f"does not match the keys: expected {_shape((N, S) if batched else (S,))} (batch {N}, key length {S})",
        )
        pad = key_padding_to_mask(key_padding_mask)  # (N, 1, 1, S)
    if mha.bias_k is not None:  # one learned key and value appended to every sequence
        k = torch.cat([k, mha.bias_k.expand(N, 1, D)], dim=1)  # (N, S+1, D)
        v = torch.cat([v, mha.bias_v.expand(N, 1, D)], dim=1)
        mask, pad = _allow_last_key(mask), _allow_last_key(pad)
    q, k, v = (split_heads(t, H) for t in (q, k, v))  # (N, H, ·, E)
    if mha.add_zero_attn:  # one all-zero key and value appended in every head
        zeros = k.new_zeros(N, H, 1, D // H)
        k, v = torch.cat([k, zeros], dim=2), torch.cat([v, zeros], dim=2)  # (N, H, S'+1, E)
        mask, pad = _allow_last_key(mask), _allow_last_key(pad)
    return q, k, v, combine_masks(mask, pad, dtype=q.dtype), batched


def _attn_mask(attn_mask: torch.Tensor | None, N: int, H: int, L: int, S: int, batched: bool) -> torch.Tensor | None:
    """PyTorch's ``attn_mask``, (L, S) or (N·H, L, S), → attnlab's convention, (L, S) or (N, H, L, S)."""
    if attn_mask is None:
        return None
    per_head = (N * H, L, S) if batched else (H, L, S)
    _require(
        tuple(attn_mask.shape) in ((L, S), per_head),
        f"attn_mask of shape {_shape(attn_mask)} must be {_shape((L, S))} or {_shape(per_head)} "
        f"(query length {L}, key length {S}, {'batch × heads' if batched else 'heads'} {per_head[0]})",
    )
    mask = from_mha_mask(attn_mask)
    return mask if mask.dim() == 2 else mask.view(N, H, L, S)  # (N, H, L, S)


def _allow_last_key(mask: torch.Tensor | None) -> torch.Tensor | None:
    """Widen a mask by one key at the end that every query may attend to."""
    if mask is None:
        return None
    return F.pad(mask, (0, 1), value=True if mask.dtype == torch.bool else 0.0)
