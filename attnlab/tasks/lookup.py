"""Chapter 1's task: one self-attention layer learns to look a digit up by its letter.

Each sequence holds six *key* tokens, a letter with a digit stored under it (``B:7``), then six *query*
tokens, the same letters in another order (``?B``). Every token must output a digit: a key its own, a
query the digit stored under its letter. The :class:`Lookup` model reads its answer out of one attention
layer with a linear map, so a query can only answer by attending to the key with its letter. The right
map is known: key rows look at themselves, query rows at their matching key. It is pinned down for the
query rows, which must find their one key; a key row may also look at another key that holds the same
digit and still answer right, so :func:`evaluate` measures the two halves apart.

    from attnlab.tasks import lookup
    model = lookup.train()
    lookup.evaluate(model)  # digits right; key and query rows whose largest weight is where it should be
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import AttnLabError
from ..functional import scaled_dot_product_attention
from ..training import fit

__all__ = [
    "DIGITS",
    "LETTERS",
    "L_TASK",
    "N_PAIRS",
    "Lookup",
    "Scores",
    "Tokens",
    "evaluate",
    "labels",
    "lookup_batch",
    "train",
]

N_PAIRS, LETTERS, DIGITS = 6, 12, 10  # key-value pairs per sequence, letters, digits
L_TASK = 2 * N_PAIRS  # tokens per sequence: the keys, then the queries

Tokens = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # letters, digits, asked: (B, 6) each


def lookup_batch(n: int, g: torch.Generator) -> tuple[Tokens, torch.Tensor, torch.Tensor]:
    """``n`` sequences drawn with ``g``: their tokens, the digit each token must output, and the right map.

    Returns ``(letters, digits, asked), targets, right``: the keys' letters and digits, the letters the
    queries ask for, the target digits, and the position each row should look at.

    Shapes:
        letters, digits, asked (B, 6); targets (B, 12); right (B, 12), B = n.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sequences, got n={n}")
    letters = torch.stack([torch.randperm(LETTERS, generator=g)[:N_PAIRS] for _ in range(n)])  # (B, 6)
    digits = torch.randint(DIGITS, (n, N_PAIRS), generator=g)  # (B, 6)
    order = torch.stack([torch.randperm(N_PAIRS, generator=g) for _ in range(n)])  # the key each query asks for
    asked = letters.gather(1, order)  # (B, 6)
    targets = torch.cat([digits, digits.gather(1, order)], dim=1)  # (B, 12)
    right = torch.cat([torch.arange(N_PAIRS).expand(n, -1), order], dim=1)  # (B, 12): where each row should look
    return (letters, digits, asked), targets, right


def _check_tokens(letters: Tensor, digits: Tensor, asked: Tensor) -> None:
    if not letters.shape == digits.shape == asked.shape or letters.shape[-1] != N_PAIRS:
        raise AttnLabError(
            f"letters, digits and asked must all be (B, {N_PAIRS}), got {tuple(letters.shape)}, "
            f"{tuple(digits.shape)} and {tuple(asked.shape)}"
        )


class Lookup(nn.Module):
    """Embeddings → one self-attention layer (W_Q, W_K, W_V) → a linear read-out.

    Shapes:
        tokens: letters, digits, asked (B, 6) each
        → digit logits (B, 12, 10), attention weights (B, 12, 12).
    """

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.letter, self.digit = nn.Embedding(LETTERS, d), nn.Embedding(DIGITS, d)
        self.role = nn.Embedding(2, d)  # 0: key, 1: query
        self.W_Q, self.W_K, self.W_V = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.read_out = nn.Linear(d, DIGITS)

    def embed(self, letters: Tensor, digits: Tensor, asked: Tensor) -> Tensor:
        """The token matrix X: keys carry a letter and a digit, queries a letter only.

        Shapes:
            letters, digits, asked (B, 6) → X (B, 12, d).
        """
        _check_tokens(letters, digits, asked)
        key, query = self.role.weight  # (d,) each
        keys = self.letter(letters) + self.digit(digits) + key  # (B, 6, d)
        queries = self.letter(asked) + query  # (B, 6, d): a letter, no digit
        return torch.cat([keys, queries], dim=1)  # (B, 12, d)

    def forward(self, tokens: Tokens, scale: float | None = None) -> tuple[Tensor, ...]:
        X = self.embed(*tokens)  # (B, 12, d)
        Z, weights = scaled_dot_product_attention(
            self.W_Q(X), self.W_K(X), self.W_V(X), scale=scale, return_weights=True
        )
        return self.read_out(Z), weights  # (B, 12, 10), (B, 12, 12)


def _loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
    tokens, targets, _ = lookup_batch(128, g)
    return F.cross_entropy(model(tokens)[0].flatten(0, 1), targets.flatten())


def train(steps: int = 600, seed: int = 0, *, lr: float = 1e-2) -> Lookup:
    """A :class:`Lookup` initialised from ``seed`` and trained for ``steps`` steps of 128 sequences."""
    torch.manual_seed(seed)
    model = Lookup()
    return fit(model, _loss, steps, lr=lr, seed=seed)


class Scores(NamedTuple):
    """What :func:`evaluate` measures, each a share in [0, 1]."""

    accuracy: float  # digits right, over all 12 rows
    found_keys: float  # key rows whose largest weight is on themselves
    found_queries: float  # query rows whose largest weight is on the key with their letter


def evaluate(model: Lookup, n: int = 1000, seed: int = 1) -> Scores:
    """Digits right, and how often each half of the rows looks hardest where ``right`` says
    (:func:`lookup_batch`), on ``n`` new sequences drawn from ``seed``."""
    tokens, targets, right = lookup_batch(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits, weights = model(tokens)  # (B, 12, 10), (B, 12, 12)
    hit = (weights.argmax(-1) == right).float()  # (B, 12)
    accuracy = (logits.argmax(-1) == targets).float().mean().item()
    return Scores(accuracy, hit[:, :N_PAIRS].mean().item(), hit[:, N_PAIRS:].mean().item())


def labels(tokens: Tokens, i: int = 0) -> list[str]:
    """The 12 token labels of sequence ``i``: ``B:7`` for a key, ``?B`` for a query."""
    letters, digits, asked = (t[i].tolist() for t in tokens)
    abc = "ABCDEFGHIJKL"
    return [f"{abc[a]}:{d}" for a, d in zip(letters, digits, strict=True)] + [f"?{abc[a]}" for a in asked]
