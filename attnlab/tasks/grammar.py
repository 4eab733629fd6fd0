"""The intro's task: one attention head learns to read sentences whose structure varies.

A tiny grammar, ``det adj* noun [that iverb] [adv] verb det adj* noun [that iverb]``: each noun phrase has
up to two adjectives and may end in a short relative clause ("the big dog that ran"), and an adverb may
precede the verb, so a sentence has 5 to :data:`MAX_LEN` = 14 words (:data:`TEMPLATES` lists its 72 shapes).
Every word has one job: report one other word of its sentence (:func:`look_at`). Determiners, adjectives,
"that" and the verb of a relative clause report their noun; the adverb and the nouns report the verb; the
verb reports its subject. Where a word should look therefore depends on the words around it.

:class:`Reader` answers through one attention head, or, with ``mixing=True``, through
:class:`~attnlab.models.mixing.FixedMixing`: one learned L×L matrix, the same for every sentence, with no
queries or keys. :func:`evaluate` scores both on new sentences: words reported right, sentences read right
(every word), and rows whose largest weight is on the right word. :func:`head_weights` hands a trained
head to the book's page, which runs it on any sentence the reader types (:func:`read_words` says which
words it reads).

    from attnlab.tasks import grammar
    head, mixing = grammar.train(400, seed=0), grammar.train(400, seed=0, mixing=True)
    grammar.evaluate(head).sentences, grammar.evaluate(mixing).sentences  # share of sentences read right
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..mha import MultiHeadAttention
from ..models.mixing import FixedMixing
from ..training import fit

__all__ = [
    "CLASSES",
    "MAX_LEN",
    "PAD",
    "TEMPLATES",
    "VOCAB",
    "Reader",
    "Scores",
    "encode",
    "evaluate",
    "head_weights",
    "look_at",
    "read_words",
    "sentences",
    "train",
    "where_words_look",
]

# The words of each word class; "·" pads a batch of sentences to MAX_LEN.
CLASSES: dict[str, tuple[str, ...]] = {
    "det": ("the", "a"),
    "adj": ("small", "red", "old", "happy", "quiet", "big"),
    "noun": ("cat", "dog", "bird", "child", "fox", "mouse"),
    "verb": ("chased", "saw", "found", "liked", "pushed"),
    "that": ("that",),
    "iverb": ("ran", "slept", "hid"),  # the verb of a relative clause: "the dog that ran"
    "adv": ("often", "never", "then"),
    "pad": ("·",),
}
VOCAB: tuple[str, ...] = tuple(word for words in CLASSES.values() for word in words)
PAD = VOCAB.index("·")
_CLASS_OF = {word: name for name, words in CLASSES.items() for word in words}
_NO_HEAD = -1  # look_at of a padding position


def _phrase(adjectives: int, clause: bool) -> tuple[str, ...]:
    return ("det",) + ("adj",) * adjectives + ("noun",) + (("that", "iverb") if clause else ())


# Every shape a sentence can take: 3 × 3 adjective counts, 2 × 2 relative clauses, with or without adverb.
TEMPLATES: tuple[tuple[str, ...], ...] = tuple(
    _phrase(a, r) + ("adv",) * adv + ("verb",) + _phrase(b, s)
    for a, b, r, s, adv in itertools.product(range(3), range(3), (False, True), (False, True), (False, True))
)
MAX_LEN = max(len(t) for t in TEMPLATES)


def look_at(classes: tuple[str, ...]) -> list[int]:
    """The position each word of a sentence with these word classes must report.

    Determiners, adjectives, "that" and a relative clause's verb → their noun; adverb and nouns → the verb;
    the verb → its subject. Raises :class:`AttnLabError` for a shape not in :data:`TEMPLATES`.

    Shapes:
        classes (L,) → L positions.
    """
    if tuple(classes) not in TEMPLATES:
        raise AttnLabError(f"not a sentence of the grammar: {' '.join(classes)}")
    verb = classes.index("verb")
    subject, obj = classes.index("noun"), classes.index("noun", verb)
    heads = {"adv": verb, "noun": verb, "verb": subject}
    return [heads.get(c, subject if i < verb else obj) for i, c in enumerate(classes)]


def _template_tensors() -> tuple[Tensor, Tensor]:
    names = list(CLASSES)
    classes = torch.full((len(TEMPLATES), MAX_LEN), names.index("pad"))  # (T, L)
    heads = torch.full((len(TEMPLATES), MAX_LEN), _NO_HEAD)  # (T, L)
    for k, template in enumerate(TEMPLATES):
        classes[k, : len(template)] = torch.tensor([names.index(c) for c in template])
        heads[k, : len(template)] = torch.tensor(look_at(template))
    return classes, heads


_TEMPLATE_CLASSES, _TEMPLATE_HEADS = _template_tensors()
_FIRST = torch.tensor([VOCAB.index(words[0]) for words in CLASSES.values()])  # (C,): a class's first word
_SIZE = torch.tensor([len(words) for words in CLASSES.values()])  # (C,)


def sentences(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` random sentences (a random shape of :data:`TEMPLATES`, random words), drawn with ``g``.

    Returns the words as indices into :data:`VOCAB`, padded with :data:`PAD` to :data:`MAX_LEN`, and the
    position each word must report (:func:`look_at`; -1 at padding).

    Shapes:
        returns words (B, L) and heads (B, L), B = n, L = MAX_LEN.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sentences, got n={n}")
    shape = torch.randint(len(TEMPLATES), (n,), generator=g)  # (B,)
    classes = _TEMPLATE_CLASSES[shape]  # (B, L)
    pick = (torch.rand(n, MAX_LEN, generator=g) * _SIZE[classes]).long()  # (B, L): a word of each class
    return _FIRST[classes] + pick, _TEMPLATE_HEADS[shape]


def encode(sentence: str) -> tuple[Tensor, Tensor]:
    """One sentence of the grammar, as a batch of one (no padding), and the position each word must report.

    Shapes:
        returns words (1, L) and heads (1, L), L = number of words.
    """
    words = sentence.split()
    unknown = [w for w in words if w not in VOCAB or w == "·"]
    if unknown:
        raise AttnLabError(f"unknown words in {sentence!r}: {', '.join(unknown)}")
    heads = look_at(tuple(_CLASS_OF[w] for w in words))
    return torch.tensor([[VOCAB.index(w) for w in words]]), torch.tensor([heads])  # (1, L), (1, L)


class Reader(nn.Module):
    """Token and position embeddings, one mixing step, a read-out: no path to the answer around the mixing.

    The mixing step is one attention head (padding is never looked at) or, with ``mixing=True``, a
    :class:`~attnlab.models.mixing.FixedMixing`: the same learned weights for every sentence.

    Shapes:
        x (B, L) word indices, L ≤ MAX_LEN → logits (B, L, V) over :data:`VOCAB`.
    """

    def __init__(self, mixing: bool = False, d: int = 64) -> None:
        super().__init__()
        self.mixing = mixing
        self.tok, self.pos = nn.Embedding(len(VOCAB), d), nn.Embedding(MAX_LEN, d)
        self.attn = FixedMixing(d, MAX_LEN) if mixing else MultiHeadAttention(d, 1, batch_first=True)
        self.out = nn.Linear(d, len(VOCAB))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or not 0 < x.shape[1] <= MAX_LEN:
            raise AttnLabError(f"expected word indices of shape (B, L) with L ≤ {MAX_LEN}, got {tuple(x.shape)}")
        h = self.tok(x) + self.pos.weight[: x.shape[1]]  # (B, L, d)
        if self.mixing:
            return self.out(self.attn(h)[0])  # (B, L, V)
        z = self.attn(h, h, h, key_padding_mask=x == PAD, need_weights=False)[0]  # (B, L, d)
        return self.out(z)  # (B, L, V)


def _targets(words: Tensor, heads: Tensor) -> Tensor:
    """The word each position must report, -100 (ignored by cross-entropy) at padding. Shapes: (B, L)."""
    return torch.where(heads >= 0, words.gather(1, heads.clamp_min(0)), -100)


def _loss(model: nn.Module, g: torch.Generator) -> Tensor:
    words, heads = sentences(64, g)  # (B, L) each
    return F.cross_entropy(model(words).flatten(0, 1), _targets(words, heads).flatten(), ignore_index=-100)


def train(steps: int, seed: int = 0, *, mixing: bool = False, lr: float = 2e-3) -> Reader:
    """A :class:`Reader` initialised from ``seed`` and trained for ``steps`` steps of 64 sentences."""
    torch.manual_seed(seed)  # the initial weights
    label = "fixed mixing" if mixing else "attention"
    return fit(Reader(mixing), _loss, steps, lr=lr, seed=seed, label=label)


def where_words_look(model: Reader, x: Tensor) -> Tensor:
    """The model's mixing weights over the sentences ``x``: the head's, or the fixed matrix for every one.

    Shapes:
        x (B, L) → weights (B, L, L): rows are the words asking, columns the words looked at.
    """
    if model.mixing:
        return model.attn.weights(x.shape[1]).detach().expand(x.shape[0], -1, -1)  # (B, L, L)
    with torch.no_grad(), capture_attention(model) as maps:
        model(x)
    return maps["attn"][:, 0]  # (B, L, L): the one head


class Scores(NamedTuple):
    """What :func:`evaluate` measures on new sentences, each a share in [0, 1]."""

    words: float  # words that report the right word
    sentences: float  # sentences whose every word reports the right word
    found: float  # words whose largest weight is on the word they must report


def evaluate(model: Reader, n: int = 1000, seed: int = 1000) -> Scores:
    """Scores of ``model`` on ``n`` new sentences drawn from ``seed``."""
    words, heads = sentences(n, torch.Generator().manual_seed(seed))  # (B, L) each
    real = heads >= 0  # (B, L)
    with torch.no_grad():
        right = (model(words).argmax(-1) == _targets(words, heads)) | ~real  # (B, L)
    looked = where_words_look(model, words).argmax(-1) == heads  # (B, L)
    return Scores(
        words=right[real].float().mean().item(),
        sentences=right.all(1).float().mean().item(),
        found=looked[real].float().mean().item(),
    )


_PUNCTUATION = ".,;:!?\"'"  # stripped from both ends of a typed word


def read_words(
    text: str, vocab: Sequence[str] = VOCAB, max_len: int = MAX_LEN
) -> tuple[list[str], list[tuple[str, str]]]:
    """The words of a typed sentence the model can read, and the words skipped, each with why.

    Words are split on white space, lower-cased and stripped of ``.,;:!?"'``. A word not in ``vocab``
    (or the padding "·") is skipped, and so is every word after the first ``max_len`` kept ones. The
    page (compute.js's ``readWords``) applies the same rule.

    Shapes:
        returns kept (K,) words, K ≤ max_len, and skipped [(word, reason)].
    """
    kept: list[str] = []
    skipped: list[tuple[str, str]] = []
    for raw in text.split():
        word = raw.strip(_PUNCTUATION).lower()
        if not word:
            continue
        if word not in vocab or word == VOCAB[PAD]:
            skipped.append((raw, "not in the vocabulary"))
        elif len(kept) >= max_len:
            skipped.append((raw, f"beyond {max_len} words"))
        else:
            kept.append(word)
    return kept, skipped


def head_weights(model: Reader, digits: int = 8) -> dict:
    """What the page needs to run ``model``'s head on a typed sentence: embeddings and q/k projections.

    The weights, as nested lists rounded to ``digits`` significant digits (float32 holds about 7, so
    the page's weights match PyTorch's to about 1e-7): the token embedding ``tok`` (V, d), the position
    embedding ``pos`` (MAX_LEN, d), the head's query and key projections ``w_q``, ``w_k`` (d, d) and
    biases ``b_q``, ``b_k`` (d,) from ``in_proj_weight`` and ``in_proj_bias``, with ``vocab``,
    ``max_len``, ``d`` and ``head_dim`` (the scores are scaled by 1/√head_dim). One sentence needs no
    padding, so the page computes ``softmax((x W_qᵀ + b_q)(x W_kᵀ + b_k)ᵀ / √head_dim)`` with
    ``x = tok[words] + pos[:L]``: :func:`where_words_look` for a batch of one.

    Shapes:
        returns tok (V, d), pos (MAX_LEN, d), w_q and w_k (d, d), b_q and b_k (d,), as lists.
    """
    if not isinstance(model, Reader) or model.mixing:
        raise AttnLabError(
            f"head_weights needs a Reader with an attention head, got mixing={getattr(model, 'mixing', None)}"
        )
    attn = model.attn
    if attn.num_heads != 1 or attn.in_proj_weight is None or attn.in_proj_bias is None:
        raise AttnLabError(
            f"head_weights needs one head with in_proj_weight and in_proj_bias, got num_heads={attn.num_heads}"
        )

    def nested(t: Tensor) -> list:
        return [float(f"{v:.{digits}g}") for v in t.tolist()] if t.dim() == 1 else [nested(r) for r in t]

    d = model.tok.weight.shape[1]
    w_q, w_k, _ = attn.in_proj_weight.detach().chunk(3)  # (d, d) each
    b_q, b_k, _ = attn.in_proj_bias.detach().chunk(3)  # (d,) each
    return {
        "vocab": list(VOCAB),
        "max_len": MAX_LEN,
        "d": d,
        "head_dim": attn.head_dim,
        "tok": nested(model.tok.weight.detach()),
        "pos": nested(model.pos.weight.detach()),
        "w_q": nested(w_q),
        "b_q": nested(b_q),
        "w_k": nested(w_k),
        "b_k": nested(b_k),
    }
