"""Chapter 1's task: one self-attention layer learns to look a digit up by its letter.

Each sequence holds six *card* tokens, a letter with a digit written on it (``B:7``), then six *question*
tokens, the same letters in another order (``?B``). (The task's tokens are called cards and questions so
that "query" and "key" keep their meaning: every token, card or question, has a query and a key vector.)
Every token must output a digit: a card its own, a question the digit on the card with its letter. The
:class:`Lookup` model reads its answer out of one attention layer with a linear map, so a question can only
answer by attending to a card with the right digit, and the only way to find it is its letter. One right
map: card rows look at themselves, question rows at the card with their letter. It is pinned down for the
question rows, which must find their one card (unless another card holds the same digit); a card row may
also look at another card that holds the same digit and still answer right, so :func:`evaluate` measures
the two halves apart.

Two analyses ask what the trained layer learned. :class:`MixingLookup` is the baseline that cannot read
content: the same embeddings and read-out around a :class:`~attnlab.models.mixing.FixedMixing`, a learned
12×12 matrix of weights, the same for every sequence; :func:`accuracy_by_role` shows it answers the cards
(look at yourself, a fixed position) and fails the questions (where the card is depends on the letters).
:func:`probe` fits linear probes to the card tokens' keys and values: how much of each the letter and
the digit explain, and whether a least-squares classifier reads each label back.

    from attnlab.tasks import lookup
    model = lookup.train()
    lookup.evaluate(model)  # digits right; card and question rows whose largest weight is where it should be
    baseline = lookup.train(mixing=True)
    lookup.accuracy_by_role(baseline)  # (cards, questions): the cards right, the questions not
    lookup.probe(model)["K"]["letter"].share  # the share of the keys' variance the letter explains
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import AttnLabError
from ..functional import scaled_dot_product_attention
from ..models.mixing import FixedMixing
from ..training import fit

__all__ = [
    "DIGITS",
    "LETTERS",
    "L_TASK",
    "N_PAIRS",
    "Lookup",
    "MixingLookup",
    "Probe",
    "Scores",
    "Tokens",
    "accuracy_by_role",
    "evaluate",
    "labels",
    "lookup_batch",
    "probe",
    "train",
]

N_PAIRS, LETTERS, DIGITS = 6, 12, 10  # cards per sequence, letters, digits
L_TASK = 2 * N_PAIRS  # tokens per sequence: the cards, then the questions

Tokens = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # letters, digits, asked: (B, 6) each


def lookup_batch(n: int, g: torch.Generator) -> tuple[Tokens, torch.Tensor, torch.Tensor]:
    """``n`` sequences drawn with ``g``: their tokens, the digit each token must output, and the right map.

    Returns ``(letters, digits, asked), targets, right``: the cards' letters and digits, the letters the
    questions ask for, the target digits, and the position each row should look at (a card itself, a
    question the card with its letter).

    Shapes:
        letters, digits, asked (B, 6); targets (B, 12); right (B, 12), B = n.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sequences, got n={n}")
    letters = torch.stack([torch.randperm(LETTERS, generator=g)[:N_PAIRS] for _ in range(n)])  # (B, 6)
    digits = torch.randint(DIGITS, (n, N_PAIRS), generator=g)  # (B, 6)
    order = torch.stack([torch.randperm(N_PAIRS, generator=g) for _ in range(n)])  # the card each question asks for
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

    ``scale`` multiplies the logits ``QKᵀ`` before the softmax; ``None`` is the usual ``1/√d``, and
    ``scale=1.0`` leaves them unscaled (chapter 1 compares the two at initialisation).

    Shapes:
        tokens: letters, digits, asked (B, 6) each
        → digit logits (B, 12, 10), attention weights (B, 12, 12).
    """

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.letter, self.digit = nn.Embedding(LETTERS, d), nn.Embedding(DIGITS, d)
        self.role = nn.Embedding(2, d)  # 0: card, 1: question
        self.W_Q, self.W_K, self.W_V = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.read_out = nn.Linear(d, DIGITS)

    def embed(self, letters: Tensor, digits: Tensor, asked: Tensor) -> Tensor:
        """The token matrix X: cards carry a letter and a digit, questions a letter only.

        Shapes:
            letters, digits, asked (B, 6) → X (B, 12, d).
        """
        _check_tokens(letters, digits, asked)
        card, question = self.role.weight  # (d,) each
        cards = self.letter(letters) + self.digit(digits) + card  # (B, 6, d)
        questions = self.letter(asked) + question  # (B, 6, d): a letter, no digit
        return torch.cat([cards, questions], dim=1)  # (B, 12, d)

    def forward(self, tokens: Tokens, scale: float | None = None) -> tuple[Tensor, ...]:
        X = self.embed(*tokens)  # (B, 12, d)
        Z, weights = scaled_dot_product_attention(
            self.W_Q(X), self.W_K(X), self.W_V(X), scale=scale, return_weights=True
        )
        return self.read_out(Z), weights  # (B, 12, 10), (B, 12, 12)


class MixingLookup(nn.Module):
    """The baseline: :class:`Lookup`'s embeddings and read-out around a fixed mixing, no queries or keys.

    The weights are one learned 12×12 matrix (:class:`~attnlab.models.mixing.FixedMixing`), row-softmaxed,
    the same for every sequence: row i mixes the same positions whatever the letters are.

    Shapes:
        tokens: letters, digits, asked (B, 6) each
        → digit logits (B, 12, 10), mixing weights (B, 12, 12), the same for every sequence.
    """

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.letter, self.digit = nn.Embedding(LETTERS, d), nn.Embedding(DIGITS, d)
        self.role = nn.Embedding(2, d)  # 0: card, 1: question
        self.mix = FixedMixing(d, L_TASK)
        self.read_out = nn.Linear(d, DIGITS)

    embed = Lookup.embed  # the same token matrix X

    def forward(self, tokens: Tokens) -> tuple[Tensor, Tensor]:
        X = self.embed(*tokens)  # (B, 12, d)
        Z, weights = self.mix(X)  # (B, 12, d), (12, 12)
        return self.read_out(Z), weights.expand(len(X), -1, -1)  # (B, 12, 10), (B, 12, 12)


def _loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
    tokens, targets, _ = lookup_batch(128, g)
    return F.cross_entropy(model(tokens)[0].flatten(0, 1), targets.flatten())


def train(steps: int = 600, seed: int = 0, *, lr: float = 1e-2, mixing: bool = False) -> Lookup | MixingLookup:
    """A :class:`Lookup` initialised from ``seed`` and trained for ``steps`` steps of 128 sequences.

    ``mixing=True`` trains the baseline :class:`MixingLookup` instead, in the same way.
    """
    torch.manual_seed(seed)
    model = MixingLookup() if mixing else Lookup()
    return fit(model, _loss, steps, lr=lr, seed=seed, label="fixed mixing" if mixing else "training")


class Scores(NamedTuple):
    """What :func:`evaluate` measures, each a share in [0, 1]."""

    accuracy: float  # digits right, over all 12 rows
    found_cards: float  # card rows whose largest weight is on themselves
    found_questions: float  # question rows whose largest weight is on the card with their letter


def evaluate(model: Lookup, n: int = 1000, seed: int = 1) -> Scores:
    """Digits right, and how often each half of the rows looks hardest where ``right`` says
    (:func:`lookup_batch`), on ``n`` new sequences drawn from ``seed``."""
    tokens, targets, right = lookup_batch(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits, weights = model(tokens)  # (B, 12, 10), (B, 12, 12)
    hit = (weights.argmax(-1) == right).float()  # (B, 12)
    accuracy = (logits.argmax(-1) == targets).float().mean().item()
    return Scores(accuracy, hit[:, :N_PAIRS].mean().item(), hit[:, N_PAIRS:].mean().item())


def accuracy_by_role(model: nn.Module, n: int = 1000, seed: int = 1) -> tuple[float, float]:
    """The share of digits right on the card rows and on the question rows, on ``n`` new sequences from
    ``seed``; ``model`` is a :class:`Lookup` or a :class:`MixingLookup`.

    Shapes:
        returns (cards, questions), two floats.
    """
    tokens, targets, _ = lookup_batch(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        right = (model(tokens)[0].argmax(-1) == targets).float()  # (B, 12)
    return right[:, :N_PAIRS].mean().item(), right[:, N_PAIRS:].mean().item()


class Probe(NamedTuple):
    """One linear probe of one representation for one label, measured on held-out card tokens."""

    share: float  # the share of the vectors' variance that the label explains (a least-squares fit)
    decoded: float  # the share of labels a least-squares classifier reads back from the vectors


def _probe(R: Tensor, y: Tensor, classes: int, n: int) -> Probe:
    """Fit on the first ``n`` rows, measure on the rest. Shapes: R (N, d), y (N,)."""
    count = torch.bincount(y[:n], minlength=classes).clamp_min(1).float()  # (C,)
    means = torch.zeros(classes, R.shape[1]).index_add_(0, y[:n], R[:n]) / count[:, None]  # (C, d)
    test, y_test = R[n:], y[n:]
    share = 1 - (test - means[y_test]).pow(2).sum() / (test - R[:n].mean(0)).pow(2).sum()
    A = F.pad(R, (0, 1), value=1.0)  # (N, d + 1): a bias column
    W = torch.linalg.lstsq(A[:n], F.one_hot(y[:n], classes).float()).solution  # (d + 1, C)
    decoded = ((A[n:] @ W).argmax(-1) == y_test).float().mean()
    return Probe(share.item(), decoded.item())


def probe(model: Lookup, n: int = 2000, seed: int = 2) -> dict[str, dict[str, Probe]]:
    """Linear probes of the card tokens' keys K and values V for their letter and their digit.

    Draws ``n`` sequences from ``seed``; the probes are fitted on the first half of the card tokens and
    measured on the other half. ``share``: fit the vectors from the label by least squares (one mean
    vector per letter, or per digit) and measure the share of their variance it explains; since
    ``X = letter + digit + card`` and the maps are linear, the letter's and the digit's shares add up to
    about 1. ``decoded``: a least-squares classifier from the vectors (plus a bias) to the label.

    Shapes:
        returns {"K" or "V": {"letter" or "digit": Probe}}.
    """
    (letters, digits, asked), _, _ = lookup_batch(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        cards = model.embed(letters, digits, asked)[:, :N_PAIRS].flatten(0, 1)  # (B·6, d)
        vectors = {"K": model.W_K(cards), "V": model.W_V(cards)}  # (B·6, d) each
    label = {"letter": (letters.flatten(), LETTERS), "digit": (digits.flatten(), DIGITS)}  # (B·6,) each
    half = len(cards) // 2
    return {
        name: {what: _probe(R, y, classes, half) for what, (y, classes) in label.items()} for name, R in vectors.items()
    }


def labels(tokens: Tokens, i: int = 0) -> list[str]:
    """The 12 token labels of sequence ``i``: ``B:7`` for a card, ``?B`` for a question."""
    letters, digits, asked = (t[i].tolist() for t in tokens)
    abc = "ABCDEFGHIJKL"
    return [f"{abc[a]}:{d}" for a, d in zip(letters, digits, strict=True)] + [f"?{abc[a]}" for a in asked]
