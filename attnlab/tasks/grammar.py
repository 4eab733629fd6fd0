"""The intro's task: one attention head learns to read seven-word sentences.

A tiny grammar, ``det adj noun verb det adj noun``, and one job for every word: report one other word
of its sentence. Determiners and adjectives report their noun, a noun its adjective, the verb its
subject. The :class:`Reader` can only answer by attending to that word, so the right map is known in
advance (:data:`LOOK_AT`) and :func:`found` measures how often the trained head finds it.

    from attnlab.tasks import grammar
    model = grammar.train(300, seed=0)
    grammar.found(model)  # share of (sentence, word) rows whose largest weight is on the right word
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..mha import MultiHeadAttention
from ..training import fit

__all__ = [
    "ADJS",
    "DETS",
    "LENGTH",
    "LOOK_AT",
    "NOUNS",
    "VERBS",
    "VOCAB",
    "Reader",
    "encode",
    "found",
    "sentences",
    "train",
    "where_words_look",
]

DETS = ("the", "a")
ADJS = ("small", "red", "old", "happy", "quiet", "big")
NOUNS = ("cat", "dog", "ball", "mat", "bird", "child")
VERBS = ("chased", "saw", "found", "liked", "pushed")
VOCAB = DETS + ADJS + NOUNS + VERBS
GRAMMAR = (DETS, ADJS, NOUNS, VERBS, DETS, ADJS, NOUNS)  # the word class of each position
LENGTH = len(GRAMMAR)
# The position each word must report: det, adj -> their noun; noun -> its adjective; verb -> its subject.
LOOK_AT = torch.tensor([2, 2, 1, 2, 6, 6, 5])


def sentences(n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` random sentences of the grammar, as indices into :data:`VOCAB`, drawn with ``g``.

    Shapes:
        returns (B, 7), B = n.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sentences, got n={n}")
    columns = [torch.randint(len(words), (n,), generator=g) + VOCAB.index(words[0]) for words in GRAMMAR]
    return torch.stack(columns, dim=1)  # (B, 7)


def encode(sentence: str) -> torch.Tensor:
    """One sentence of seven words of :data:`VOCAB`, as a batch of one.

    Shapes:
        returns (1, 7).
    """
    words = sentence.split()
    unknown = [w for w in words if w not in VOCAB]
    if len(words) != LENGTH or unknown:
        raise AttnLabError(
            f"need {LENGTH} words of the vocabulary, got {len(words)} words in {sentence!r}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return torch.tensor([[VOCAB.index(w) for w in words]])  # (1, 7)


class Reader(nn.Module):
    """Token and position embeddings, one attention head, a read-out: it can only answer by looking.

    Shapes:
        x (B, 7) word indices → logits (B, 7, V) over :data:`VOCAB`.
    """

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(len(VOCAB), d), nn.Embedding(LENGTH, d)
        self.attn = MultiHeadAttention(d, 1, batch_first=True)
        self.out = nn.Linear(d, len(VOCAB))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != LENGTH:
            raise AttnLabError(f"expected word indices of shape (B, {LENGTH}), got {tuple(x.shape)}")
        h = self.tok(x) + self.pos.weight  # (B, 7, d)
        return self.out(self.attn(h, h, h, need_weights=False)[0])  # (B, 7, V)


def _loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
    x = sentences(64, g)  # (B, 7)
    return F.cross_entropy(model(x).flatten(0, 1), x[:, LOOK_AT].flatten())


def train(steps: int, seed: int = 0, *, lr: float = 1e-2) -> Reader:
    """A :class:`Reader` initialised from ``seed`` and trained for ``steps`` steps of 64 sentences."""
    torch.manual_seed(seed)
    model = Reader()
    return fit(model, _loss, steps, lr=lr, seed=seed)


def where_words_look(model: Reader, x: torch.Tensor) -> torch.Tensor:
    """The head's attention weights over the sentences ``x``.

    Shapes:
        x (B, 7) → weights (B, 7, 7): rows are the words asking, columns the words looked at.
    """
    with torch.no_grad(), capture_attention(model) as maps:
        model(x)
    return maps["attn"][:, 0]  # (B, 7, 7): the one head


def found(model: Reader, n: int = 1000, seed: int = 1) -> float:
    """Share of rows, over ``n`` new sentences drawn from ``seed``, whose largest weight is on :data:`LOOK_AT`."""
    test = sentences(n, torch.Generator().manual_seed(seed))
    return (where_words_look(model, test).argmax(-1) == LOOK_AT).float().mean().item()
