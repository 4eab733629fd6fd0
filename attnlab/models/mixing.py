"""A fixed-mixing baseline: attention's weighted average without queries or keys.

Self-attention computes its weights from the tokens: row i of ``softmax(QKᵀ/√E)`` depends on what token i
asks and what every token offers. :class:`FixedMixing` keeps the weighted average of the values and drops
the queries and keys: its weights are one learned L×L matrix of logits, softmaxed along each row, the same
for every input. Whatever it learns, token i reads the same positions in every sequence. A task it solves
is a positional task; a task it fails needs weights that depend on content. The book trains it beside its
attention models as a baseline.

    mix = FixedMixing(d=32, max_len=16, causal=True)
    z, weights = mix(x)  # x (B, L, 32), L <= 16: z (B, L, 32), weights (L, L), every row summing to 1
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import AttnLabError, _shape
from ..masks import causal_mask

__all__ = ["FixedMixing"]


class FixedMixing(nn.Module):
    """A learned L×L matrix of logits, row-softmaxed, mixing the values: no queries, no keys.

    ``z = softmax(M[:L, :L]) (x W_V)``: ``M`` is a learned (max_len, max_len) matrix of logits (zeros at
    the start, so every row starts uniform), and a sequence of L ≤ ``max_len`` tokens uses its top-left
    L×L block. ``causal=True`` hides the future: row i mixes positions 0 … i only. ``value=False`` drops
    the value map (``z = softmax(M) x``), for a model that maps the values itself.

    Raises :class:`AttnLabError` for a non-positive ``d`` or ``max_len``, an input that is not (B, L, d),
    or a sequence longer than ``max_len``.

    Shapes:
        x (B, L, D) → z (B, L, D), weights (L, L).
    """

    def __init__(self, d: int, max_len: int, *, causal: bool = False, value: bool = True) -> None:
        super().__init__()
        if d <= 0 or max_len <= 0:
            raise AttnLabError(f"need d > 0 and max_len > 0, got d={d}, max_len={max_len}")
        self.d, self.max_len, self.causal = d, max_len, causal
        self.logits = nn.Parameter(torch.zeros(max_len, max_len))  # (L_max, L_max): uniform rows to start
        self.W_V = nn.Linear(d, d, bias=False) if value else nn.Identity()

    def weights(self, length: int) -> torch.Tensor:
        """The mixing weights for a sequence of ``length`` tokens: each row sums to 1.

        Shapes:
            returns (L, L) with L = length.
        """
        if not 0 < length <= self.max_len:
            raise AttnLabError(
                f"sequence length {length} is outside 1 … max_len={self.max_len}: the matrix has no "
                f"row or column for positions ≥ {self.max_len}"
            )
        logits = self.logits[:length, :length]  # (L, L)
        if self.causal:
            future = ~causal_mask(length, device=logits.device)  # (L, L), True above the diagonal
            logits = logits.masked_fill(future, float("-inf"))  # row i sees 0 … i
        return torch.softmax(logits, dim=-1)  # (L, L)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3 or x.shape[-1] != self.d:
            raise AttnLabError(f"x must be (B, L, {self.d}), got shape {_shape(x)}")
        weights = self.weights(x.shape[1]).to(x.dtype)  # (L, L)
        return weights @ self.W_V(x), weights  # (B, L, D), (L, L)

    def extra_repr(self) -> str:
        return f"d={self.d}, max_len={self.max_len}, causal={self.causal}"
