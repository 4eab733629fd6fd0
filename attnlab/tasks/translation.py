"""Chapter 2's toy translation: one cross-attention head that learns to align two sentences.

The source is an English sentence of six words between the markers ``<s>`` and ``</s>`` (S = 8); the
target is its French translation, word for word but in reverse order (L = 6). French word j translates
the English word at source position 6 − j, so the right cross-attention map is known in advance
(:data:`ALIGN`): a reversed diagonal that never looks at the markers. The :class:`Translator` has one
cross-attention head and nothing else that could carry a word, so it can translate only by looking at
the right English word.

The reversal is the same for every sentence: a positional task. :class:`MixingTranslator` is the baseline
that shows it, a learned L×S matrix of weights in place of the cross-attention (no queries, no keys, no
position vectors); ``train_translator(mixing=True)`` trains it, and it translates too.
"""

from __future__ import annotations

import torch
from torch import nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..mha import MultiHeadAttention
from ..models.mixing import FixedMixing
from ..training import fit

__all__ = [
    "ALIGN",
    "ENGLISH",
    "FRENCH",
    "L_TGT",
    "SOURCE_VOCAB",
    "S_SRC",
    "MixingTranslator",
    "Translator",
    "alignment",
    "scores",
    "sentence_pairs",
    "train_translator",
]

ENGLISH = ["cat", "dog", "bird", "fish", "sun", "moon", "tree", "rain"]
FRENCH = ["chat", "chien", "oiseau", "poisson", "soleil", "lune", "arbre", "pluie"]  # FRENCH[i] = ENGLISH[i]
SOURCE_VOCAB = [*ENGLISH, "<s>", "</s>"]
S_SRC, L_TGT = 8, 6  # source: <s>, six words, </s>; target: six words
ALIGN = torch.tensor([S_SRC - 2 - j for j in range(L_TGT)])  # target word j comes from source position 6 − j

BATCH, STEPS, LR = 64, 150, 1e-2  # the chapter's training: 150 Adam steps of 64 sentence pairs


def sentence_pairs(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random English sentences and their French translations in reverse order, as indices.

    French word i translates English word i, so the indices carry over: the target is the source read
    at :data:`ALIGN`.

    Shapes:
        returns source (n, S) with S = 8, target (n, L) with L = 6.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sentence pairs, got n={n}")
    words = torch.randint(len(ENGLISH), (n, L_TGT), generator=g)  # (n, L)
    bos = torch.full((n, 1), SOURCE_VOCAB.index("<s>"))  # (n, 1)
    eos = torch.full((n, 1), SOURCE_VOCAB.index("</s>"))  # (n, 1)
    source = torch.cat([bos, words, eos], dim=1)  # (n, S)
    return source, source[:, ALIGN]  # (n, S), (n, L)


class Translator(nn.Module):
    """Each target position asks the source sentence, through one cross-attention head, for its word.

    The queries are learned vectors, one per target position; keys and values are the source words plus
    their positions, of their own width ``d_src``. The read-out sees only what cross-attention returns.

    Shapes:
        source (B, S) word indices → logits (B, L, len(FRENCH)).
    """

    def __init__(self, d: int = 32, d_src: int = 24) -> None:
        super().__init__()
        self.src_tok = nn.Embedding(len(SOURCE_VOCAB), d_src)
        self.src_pos = nn.Embedding(S_SRC, d_src)
        self.tgt_pos = nn.Embedding(L_TGT, d)  # the queries: one learned vector per target position
        self.cross = MultiHeadAttention(d, 1, kdim=d_src, vdim=d_src, batch_first=True)
        self.out = nn.Linear(d, len(FRENCH))

    def memory(self, source: torch.Tensor) -> torch.Tensor:
        """The keys and the values: source words plus positions. Shapes: (B, S) → (B, S, d_src)."""
        if source.dim() != 2 or source.shape[1] != S_SRC:
            raise AttnLabError(f"source must be (B, {S_SRC}) word indices, got shape {tuple(source.shape)}")
        return self.src_tok(source) + self.src_pos.weight  # (B, S, d_src)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        memory = self.memory(source)  # (B, S, d_src)
        queries = self.tgt_pos.weight.expand(len(source), -1, -1)  # (B, L, d)
        return self.out(self.cross(queries, memory, memory, need_weights=False)[0])  # (B, L, len(FRENCH))


class MixingTranslator(nn.Module):
    """The baseline: source word embeddings, mixed by fixed weights, and the same read-out.

    The weights are the first L rows of a :class:`~attnlab.models.mixing.FixedMixing` over the S source
    positions: an L×S matrix, row-softmaxed, the same for every sentence, with the mixing's value map.
    There are no queries, no keys and no position vectors.

    Shapes:
        source (B, S) word indices → logits (B, L, len(FRENCH)).
    """

    def __init__(self, d_src: int = 24) -> None:
        super().__init__()
        self.src_tok = nn.Embedding(len(SOURCE_VOCAB), d_src)
        self.mix = FixedMixing(d_src, S_SRC)
        self.out = nn.Linear(d_src, len(FRENCH))

    def weights(self) -> torch.Tensor:
        """The fixed weights of the L target positions over the S source positions. Shapes: (L, S)."""
        return self.mix.weights(S_SRC)[:L_TGT]  # (L, S)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        if source.dim() != 2 or source.shape[1] != S_SRC:
            raise AttnLabError(f"source must be (B, {S_SRC}) word indices, got shape {tuple(source.shape)}")
        values = self.mix.W_V(self.src_tok(source))  # (B, S, d_src)
        return self.out(self.weights() @ values)  # (B, L, len(FRENCH))


def _loss(model: Translator, g: torch.Generator) -> torch.Tensor:
    source, target = sentence_pairs(BATCH, g)  # (BATCH, S), (BATCH, L)
    return nn.functional.cross_entropy(model(source).flatten(0, 1), target.flatten())


def train_translator(steps: int = STEPS, seed: int = 0, *, mixing: bool = False) -> Translator | MixingTranslator:
    """A :class:`Translator` trained for ``steps`` Adam steps (lr 1e-2, 64 pairs a step) from ``seed``.

    ``seed`` seeds both the initial weights and the batches, so a seed gives one model, bit for bit, on
    one machine. ``mixing=True`` trains the baseline :class:`MixingTranslator` instead, in the same way.

    Shapes:
        the model maps (B, S) → (B, L, len(FRENCH)).
    """
    torch.manual_seed(seed)  # the initial weights
    model = MixingTranslator() if mixing else Translator()
    return fit(model, _loss, steps, lr=LR, seed=seed, label="fixed mixing" if mixing else "training")


def alignment(model: Translator | MixingTranslator, source: torch.Tensor) -> torch.Tensor:
    """The cross-attention map of the one head, read with :func:`~attnlab.capture_attention` (for the
    baseline, its fixed weights, the same for every sentence).

    Shapes:
        source (B, S) → weights (B, L, S).
    """
    if isinstance(model, MixingTranslator):
        with torch.no_grad():
            return model.weights().expand(len(source), -1, -1)  # (B, L, S)
    with torch.no_grad(), capture_attention(model) as maps:
        model(source)
    return maps["cross"][:, 0]  # (B, L, S): the one head


def scores(model: Translator | MixingTranslator, source: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """How well ``model`` aligns and translates: shares of target words over the whole batch.

    ``aligned``: the word looks hardest at the source word it translates (:data:`ALIGN`);
    ``translated``: the word is right.

    Shapes:
        source (B, S), target (B, L).
    """
    if target.shape != (len(source), L_TGT):
        raise AttnLabError(
            f"target must be (B, L) = ({len(source)}, {L_TGT}) for source {tuple(source.shape)}, "
            f"got {tuple(target.shape)}"
        )
    with torch.no_grad():
        translated = (model(source).argmax(-1) == target).float().mean().item()
    aligned = (alignment(model, source).argmax(-1) == ALIGN).float().mean().item()
    return {"aligned": aligned, "translated": translated}
