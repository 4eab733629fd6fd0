"""Chapter 1b's task: copy the token two back, a task that only positions can solve.

Each sequence holds L distinct tokens, drawn without replacement from :data:`VOCAB` symbols, and the token
at position i must output the token at position i − 2 (positions 0 and 1, which have nothing two back,
are not scored). The :class:`CopyBack` model is chapter 1's layer, no more: token embeddings, one
self-attention layer (W_Q, W_K, W_V) with no residual, and a linear read-out, so row i can answer only by
looking at position i − 2. What tells it where that is, is the position encoding (:data:`ENCODINGS`):

- ``"none"``: the tokens alone. Self-attention is then permutation-equivariant, so row i cannot tell its
  neighbours from any other token, and it sits at chance (1 in L − 1 for the other tokens).
- ``"learned"``: a learned vector per position (a table of ``max_len`` rows) added to the tokens.
- ``"sinusoidal"``: the fixed table :func:`~attnlab.positions.sinusoidal_positions` added to the tokens.
- ``"rotary"``: the queries and keys rotated by :func:`~attnlab.positions.apply_rope`.
- ``"mixing"``: no attention at all, the fixed-mixing baseline
  :class:`~attnlab.models.mixing.FixedMixing` (a learned L×L matrix, no queries or keys).

The models train on sequences of :data:`L_TRAIN` tokens; :func:`evaluate` also tests them on longer ones
(:data:`L_TEST`), positions they never saw.

    from attnlab.tasks import positions
    model = positions.train("rotary")
    positions.evaluate(model, length=positions.L_TEST)  # accuracy, beyond L_TRAIN, rows that look two back
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import AttnLabError, _shape
from ..functional import attention_weights
from ..models.mixing import FixedMixing
from ..positions import apply_rope, sinusoidal_positions
from ..training import fit

__all__ = [
    "BACK",
    "ENCODINGS",
    "L_TEST",
    "L_TRAIN",
    "VOCAB",
    "CopyBack",
    "Scores",
    "accuracy_by_position",
    "copy_batch",
    "evaluate",
    "permutation_gap",
    "train",
]

VOCAB = 40  # symbols; a sequence holds distinct ones, so the bag of tokens says nothing about the order
BACK = 2  # row i copies the token at i − BACK
L_TRAIN, L_TEST = 16, 32  # trained on 16 tokens; tested on 32 as well
ENCODINGS = ("none", "learned", "sinusoidal", "rotary", "mixing")
BATCH, STEPS, LR = 64, 400, 1e-2  # the chapter's training: 400 Adam steps of 64 sequences


def copy_batch(n: int, length: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` sequences of ``length`` distinct tokens drawn with ``g``, and their targets.

    The target of position i is the token at i − 2; positions 0 and 1 get −100, which
    :func:`torch.nn.functional.cross_entropy` ignores.

    Shapes:
        returns tokens (n, L) and targets (n, L), L = length.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sequences, got n={n}")
    if not BACK < length <= VOCAB:
        raise AttnLabError(f"length must be in {BACK + 1} … {VOCAB} (distinct tokens of {VOCAB}), got {length}")
    tokens = torch.rand(n, VOCAB, generator=g).argsort(dim=-1)[:, :length]  # (n, L): distinct in each row
    targets = torch.full_like(tokens, -100)  # (n, L)
    targets[:, BACK:] = tokens[:, :-BACK]
    return tokens, targets


class CopyBack(nn.Module):
    """Token embeddings (+ positions) → one self-attention layer → a linear read-out.

    ``encoding`` is one of :data:`ENCODINGS`. ``"learned"`` keeps a table of ``max_len`` position vectors;
    ``"mixing"`` replaces the attention by a :class:`~attnlab.models.mixing.FixedMixing` of ``max_len``
    positions. The queries and keys have a bias, so that they can carry position alone (a rotary query
    needs a part that does not depend on the token).

    Shapes:
        x (B, L) token indices → logits (B, L, VOCAB), attention weights (B, L, L).
    """

    def __init__(self, encoding: str = "learned", d: int = 32, max_len: int = L_TEST) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise AttnLabError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
        if d <= 0 or d % 2 or max_len <= 0:
            raise AttnLabError(f"need an even d > 0 and max_len > 0, got d={d}, max_len={max_len}")
        self.encoding, self.d, self.max_len = encoding, d, max_len
        self.tok = nn.Embedding(VOCAB, d)
        if encoding == "learned":
            self.pos = nn.Embedding(max_len, d)
        if encoding == "mixing":
            self.mix = FixedMixing(d, max_len)
        else:
            self.W_Q, self.W_K = nn.Linear(d, d), nn.Linear(d, d)
            self.W_V = nn.Linear(d, d, bias=False)
        self.read_out = nn.Linear(d, VOCAB)

    def embed(self, x: Tensor) -> Tensor:
        """The token matrix X: token embeddings, plus position vectors for learned and sinusoidal.

        Shapes:
            x (B, L) → X (B, L, d).
        """
        if x.dim() != 2:
            raise AttnLabError(f"x must be (B, L) token indices, got shape {_shape(x)}")
        length = x.shape[1]
        X = self.tok(x)  # (B, L, d)
        if self.encoding == "learned":
            if length > self.max_len:
                raise AttnLabError(
                    f"sequence length {length} > max_len={self.max_len}: a learned table has no vector for "
                    f"positions ≥ {self.max_len}"
                )
            X = X + self.pos.weight[:length]  # (B, L, d)
        elif self.encoding == "sinusoidal":
            X = X + sinusoidal_positions(length, self.d).to(X)  # (B, L, d)
        return X

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        X = self.embed(x)  # (B, L, d)
        if self.encoding == "mixing":
            Z, weights = self.mix(X)  # (B, L, d), (L, L)
            return self.read_out(Z), weights.expand(x.shape[0], -1, -1)  # (B, L, V), (B, L, L)
        q, k = self.W_Q(X), self.W_K(X)  # (B, L, d) each
        if self.encoding == "rotary":
            q, k = apply_rope(q), apply_rope(k)  # rotated by their positions
        weights = attention_weights(q, k)  # (B, L, L): softmax(q kᵀ / √d), attnlab's
        return self.read_out(weights @ self.W_V(X)), weights  # (B, L, V), (B, L, L)


def _loss(model: nn.Module, g: torch.Generator) -> Tensor:
    tokens, targets = copy_batch(BATCH, L_TRAIN, g)
    return F.cross_entropy(model(tokens)[0].flatten(0, 1), targets.flatten())


def train(encoding: str, steps: int = STEPS, seed: int = 0, *, lr: float = LR) -> CopyBack:
    """A :class:`CopyBack` with ``encoding``, initialised from ``seed`` and trained for ``steps`` Adam steps.

    Each step draws 64 sequences of :data:`L_TRAIN` tokens; ``seed`` seeds the weights and the batches.
    """
    torch.manual_seed(seed)  # the initial weights
    return fit(CopyBack(encoding), _loss, steps, lr=lr, seed=seed, label=f"{encoding} positions")


class Scores(NamedTuple):
    """What :func:`evaluate` measures, each a share in [0, 1] of the scored rows (positions ≥ 2)."""

    accuracy: float  # tokens copied right
    beyond: float  # tokens copied right at positions ≥ L_TRAIN (NaN when the sequences are no longer)
    looks_back: float  # rows whose largest weight is on position i − 2


def evaluate(model: CopyBack, length: int = L_TRAIN, n: int = 500, seed: int = 1) -> Scores:
    """Copying accuracy and where the rows look, on ``n`` new sequences of ``length`` tokens from ``seed``."""
    tokens, targets = copy_batch(n, length, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits, weights = model(tokens)  # (B, L, V), (B, L, L)
    right = (logits.argmax(-1) == targets)[:, BACK:].float()  # (B, L − 2)
    back = torch.arange(BACK, length)  # rows 2 … L − 1
    looks = (weights[:, back].argmax(-1) == back - BACK).float()  # (B, L − 2)
    beyond = right[:, L_TRAIN - BACK :].mean().item() if length > L_TRAIN else math.nan
    return Scores(right.mean().item(), beyond, looks.mean().item())


def accuracy_by_position(model: CopyBack, length: int = L_TEST, n: int = 500, seed: int = 1) -> Tensor:
    """The share of tokens copied right at each position (NaN at positions 0 and 1, which are not scored).

    Shapes:
        returns (L,) with L = length.
    """
    tokens, targets = copy_batch(n, length, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits = model(tokens)[0]  # (B, L, V)
    right = (logits.argmax(-1) == targets).float().mean(0)  # (L,)
    right[:BACK] = math.nan
    return right


def permutation_gap(model: CopyBack, perm: Tensor, n: int = 8, seed: int = 2) -> float:
    """How far the model is from permutation-equivariant: permute the tokens of ``n`` sequences of
    :data:`L_TRAIN` tokens by ``perm``, and return the largest difference between the outputs (logits) and
    the original outputs permuted the same way. Zero, up to rounding, for a model that cannot see positions.

    Shapes:
        perm (L,) with L = L_TRAIN.
    """
    if perm.shape != (L_TRAIN,) or not torch.equal(perm.sort().values, torch.arange(L_TRAIN)):
        raise AttnLabError(f"perm must be a permutation of 0 … {L_TRAIN - 1}, got {perm.tolist()}")
    tokens, _ = copy_batch(n, L_TRAIN, torch.Generator().manual_seed(seed))  # (n, L)
    with torch.no_grad():
        out, out_perm = model(tokens)[0], model(tokens[:, perm])[0]  # (n, L, V) each
    return (out_perm - out[:, perm]).abs().max().item()
