"""Chapter 2's two relations: heads that divide a task between them.

A sequence of L = 8 letters (from a to j) is read as a ring, and every position must output two letters:
its left neighbour and its right neighbour (:data:`RELATIONS`). The :class:`Neighbours` model is one
self-attention layer with no residual connection and one linear read-out per relation, both reading the
same attention output; nothing tells a head which relation is its own. With two heads each head takes one
relation. With one head, a single softmax row and a single linear value map must serve both relations:
whatever weight it gives one neighbour it takes from the other, and an even split returns a symmetric
average in which neither read-out can tell left from right.

The analysis functions read the heads (:func:`head_maps`, :func:`head_alignment`) and switch them off
(:func:`ablated`, :func:`ablation_table`).

The task is positional: position i always reads positions i − 1 and i + 1, whatever the letters.
:class:`MixingNeighbours` is the baseline that shows it: two fixed mixings
(:class:`~attnlab.models.mixing.FixedMixing`, a learned L×L matrix each, no queries, keys or position
vectors) in place of the two heads; ``train_neighbours(mixing=True)`` trains it, and it solves the task too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..mha import MultiHeadAttention
from ..models.mixing import FixedMixing
from ..training import fit

__all__ = [
    "LETTERS",
    "N_POS",
    "RELATIONS",
    "MixingNeighbours",
    "Neighbours",
    "ablated",
    "ablation_table",
    "accuracy",
    "head_alignment",
    "head_maps",
    "letter_sequences",
    "serving_heads",
    "train_neighbours",
]

LETTERS = list("abcdefghij")
N_POS = 8
RELATIONS = {
    "left": (torch.arange(N_POS) - 1) % N_POS,  # position i must report position i − 1 (a ring)
    "right": (torch.arange(N_POS) + 1) % N_POS,  # ... and position i + 1
}

BATCH, STEPS, LR = 64, 200, 1e-2  # the chapter's training: 200 Adam steps of 64 sequences


def letter_sequences(n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` random sequences of :data:`N_POS` letters, as indices into :data:`LETTERS`.

    Shapes:
        returns (n, L) with L = 8.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sequences, got n={n}")
    return torch.randint(len(LETTERS), (n, N_POS), generator=g)  # (n, L)


class Neighbours(nn.Module):
    """Letter and position embeddings, one multi-head self-attention, one read-out per relation.

    Shapes:
        x (B, L) letter indices → {relation: logits (B, L, len(LETTERS))}.
    """

    def __init__(self, d: int = 32, heads: int = 2) -> None:
        super().__init__()
        if heads <= 0 or d % heads:
            raise AttnLabError(f"width d={d} must split into heads={heads} equal heads")
        self.tok, self.pos = nn.Embedding(len(LETTERS), d), nn.Embedding(N_POS, d)
        self.attn = MultiHeadAttention(d, heads, batch_first=True)
        self.read = nn.ModuleDict({name: nn.Linear(d, len(LETTERS)) for name in RELATIONS})

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Letters plus positions, the input of the attention. Shapes: (B, L) → (B, L, d)."""
        if x.dim() != 2 or x.shape[1] != N_POS:
            raise AttnLabError(f"x must be (B, {N_POS}) letter indices, got shape {tuple(x.shape)}")
        return self.tok(x) + self.pos.weight  # (B, L, d)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(x)  # (B, L, d)
        z = self.attn(h, h, h, need_weights=False)[0]  # (B, L, d)
        return {name: read(z) for name, read in self.read.items()}  # each (B, L, letters)


class MixingNeighbours(nn.Module):
    """The baseline: letter embeddings, ``heads`` fixed mixings added up, one read-out per relation.

    Each "head" is a :class:`~attnlab.models.mixing.FixedMixing`: a learned L×L matrix of weights, the same
    for every sequence, and its own value map. There are no queries, no keys and no position vectors: the
    matrices are the only thing that knows the positions.

    Shapes:
        x (B, L) letter indices → {relation: logits (B, L, len(LETTERS))}.
    """

    def __init__(self, d: int = 32, heads: int = 2) -> None:
        super().__init__()
        if heads <= 0 or d <= 0:
            raise AttnLabError(f"need d > 0 and heads > 0, got d={d}, heads={heads}")
        self.tok = nn.Embedding(len(LETTERS), d)
        self.mix = nn.ModuleList(FixedMixing(d, N_POS) for _ in range(heads))
        self.read = nn.ModuleDict({name: nn.Linear(d, len(LETTERS)) for name in RELATIONS})

    def weights(self) -> torch.Tensor:
        """Every fixed mixing's weights. Shapes: returns (H, L, L)."""
        return torch.stack([m.weights(N_POS) for m in self.mix])  # (H, L, L)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 2 or x.shape[1] != N_POS:
            raise AttnLabError(f"x must be (B, {N_POS}) letter indices, got shape {tuple(x.shape)}")
        h = self.tok(x)  # (B, L, d)
        z = sum(m(h)[0] for m in self.mix)  # (B, L, d): the "heads" added up
        return {name: read(z) for name, read in self.read.items()}  # each (B, L, letters)


def _loss(model: Neighbours, g: torch.Generator) -> torch.Tensor:
    x = letter_sequences(BATCH, g)  # (BATCH, L)
    logits = model(x)
    losses = [nn.functional.cross_entropy(logits[r].flatten(0, 1), x[:, at].flatten()) for r, at in RELATIONS.items()]
    return torch.stack(losses).sum()


def train_neighbours(
    steps: int = STEPS, seed: int = 0, heads: int = 2, *, mixing: bool = False
) -> Neighbours | MixingNeighbours:
    """A :class:`Neighbours` model with ``heads`` heads, trained for ``steps`` Adam steps from ``seed``.

    Adam with lr 1e-2 on 64 random sequences a step; the loss is the sum of both relations'
    cross-entropies. ``seed`` seeds both the initial weights and the batches. ``mixing=True`` trains the
    baseline :class:`MixingNeighbours` instead, in the same way.

    Shapes:
        the model maps (B, L) → {relation: (B, L, len(LETTERS))}.
    """
    torch.manual_seed(seed)  # the initial weights
    model = MixingNeighbours(heads=heads) if mixing else Neighbours(heads=heads)
    return fit(model, _loss, steps, lr=LR, seed=seed, label="fixed mixing" if mixing else "training")


def accuracy(model: Neighbours | MixingNeighbours, x: torch.Tensor) -> dict[str, float]:
    """For each relation, the share of positions whose letter it reports right.

    Shapes:
        x (B, L).
    """
    with torch.no_grad():
        logits = model(x)
    return {r: (logits[r].argmax(-1) == x[:, at]).float().mean().item() for r, at in RELATIONS.items()}


def head_maps(model: Neighbours | MixingNeighbours, x: torch.Tensor) -> torch.Tensor:
    """Every head's weights, read with :func:`~attnlab.capture_attention` (for the baseline, its fixed
    mixings' weights, the same for every sequence).

    Shapes:
        x (B, L) → weights (B, H, L, L).
    """
    if isinstance(model, MixingNeighbours):
        with torch.no_grad():
            return model.weights().expand(len(x), -1, -1, -1)  # (B, H, L, L)
    with torch.no_grad(), capture_attention(model) as maps:
        model(x)
    return maps["attn"]  # (B, H, L, L)


def head_alignment(model: Neighbours | MixingNeighbours, x: torch.Tensor) -> dict[str, list[float]]:
    """For each relation, per head: how often a query looks hardest at the position the relation names.

    Shapes:
        x (B, L) → {relation: H shares}.
    """
    top = head_maps(model, x).argmax(-1)  # (B, H, L)
    return {r: (top == at).float().mean(dim=(0, 2)).tolist() for r, at in RELATIONS.items()}


def serving_heads(looks: dict[str, list[float]]) -> dict[str, int]:
    """The head that serves each relation: the one that looks at its position most often.

    ``looks`` is what :func:`head_alignment` returns.
    """
    return {r: max(range(len(shares)), key=shares.__getitem__) for r, shares in looks.items()}


@contextmanager
def ablated(mha: MultiHeadAttention, head: int) -> Iterator[None]:
    """Within the block, zero one head's output before the output projection.

    A forward pre-hook on ``mha.out_proj``, which receives the heads side by side, zeroes columns
    ``head·E`` to ``(head + 1)·E − 1``, so head ``head`` adds nothing to the output.

    Shapes:
        the hooked input (B, L, H·E).
    """
    if not 0 <= head < mha.num_heads:
        raise AttnLabError(f"head {head} out of range for {mha.num_heads} heads")
    E = mha.head_dim

    def zero_head(module: nn.Module, args: tuple) -> tuple:
        (concat,) = args  # (B, L, H·E): the heads side by side
        concat = concat.clone()
        concat[..., head * E : (head + 1) * E] = 0.0
        return (concat,)

    handle = mha.out_proj.register_forward_pre_hook(zero_head)
    try:
        yield
    finally:
        handle.remove()


def ablation_table(model: Neighbours, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """:func:`accuracy` with nothing switched off (``"none"``) and with each head ablated (``"head i"``).

    Shapes:
        x (B, L).
    """
    table = {"none": accuracy(model, x)}
    for i in range(model.attn.num_heads):
        with ablated(model.attn, i):
            table[f"head {i}"] = accuracy(model, x)
    return table
