"""Chapter 2's toy translation: Japanese to English, where the particles decide the word order.

The source is a short Japanese sentence, romanised, such as ``neko ga kouen de inu o miru``, "the cat
sees the dog in the park". Each noun is followed by a particle that gives its role: ``ga`` marks the
subject, ``o`` the direct object, ``de`` the place of the action. The phrases before the verb may come in
any order (Japanese allows this *scrambling*); the verb comes last. A sentence has a subject and an object
(two different animals), and with probability ½ a place; its phrases are shuffled, and ``<s>`` … ``</s>``
surround it: 7 or 9 tokens, padded with ``<pad>`` to S = 9.

The target is the English sentence as L = 4 slots: subject, verb, object, place (:data:`SLOTS`). The
place slot is :data:`NO_WORD`, which the loss ignores, when the source has no place. Which source word
fills the subject slot depends on the words, through the particle that follows each noun: the right
cross-attention map differs from sentence to sentence (:func:`word_positions`).

The :class:`Translator` has one cross-attention head and nothing else that could carry a word. Its keys see
each source word and the token after it (a noun's particle); its values see the word alone; its queries
know only their slot. :class:`MixingTranslator` is the baseline: a learned L×S matrix of weights in place
of the cross-attention, the same for every sentence. It cannot follow the particles, and it fails.
"""

from __future__ import annotations

import torch
from torch import nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..mha import MultiHeadAttention
from ..training import fit

__all__ = [
    "ENGLISH",
    "L_TGT",
    "NOUNS",
    "NO_WORD",
    "PARTICLES",
    "PLACES",
    "SLOTS",
    "SOURCE_VOCAB",
    "S_SRC",
    "VERBS",
    "MixingTranslator",
    "Translator",
    "alignment",
    "encode",
    "english",
    "japanese",
    "scores",
    "sentence_pairs",
    "subject_first",
    "train_translator",
    "weight_shares",
    "word_positions",
]

# (romanised Japanese, English); kōen is written kouen, as it is typed.
NOUNS = [
    ("neko", "cat"),
    ("inu", "dog"),
    ("tori", "bird"),
    ("uma", "horse"),
    ("kitsune", "fox"),
    ("usagi", "rabbit"),
    ("kuma", "bear"),
    ("saru", "monkey"),
]
PLACES = [("kouen", "park"), ("ie", "house"), ("kawa", "river"), ("mori", "forest")]
VERBS = [("miru", "sees"), ("oikakeru", "chases"), ("yobu", "calls"), ("mitsukeru", "finds")]
PARTICLES = {"subject": "ga", "object": "o", "place": "de"}
_WORDS = NOUNS + PLACES + VERBS
ENGLISH = [e for _, e in _WORDS]  # the target vocabulary: ENGLISH[i] translates SOURCE_VOCAB[i]
SOURCE_VOCAB = [j for j, _ in _WORDS] + [*PARTICLES.values(), "<s>", "</s>", "<pad>"]
SLOTS = ("subject", "verb", "object", "place")  # the English word order
S_SRC, L_TGT = 9, len(SLOTS)  # source: <s>, three phrases of two tokens, the verb, </s>
NO_WORD = -100  # the target of an empty place slot: cross-entropy's default ignore_index
_PAD, _BOS, _EOS = (SOURCE_VOCAB.index(t) for t in ("<pad>", "<s>", "</s>"))
_PARTICLE = {role: SOURCE_VOCAB.index(p) for role, p in PARTICLES.items()}
_PLACE_AT, _VERB_AT = len(NOUNS), len(NOUNS) + len(PLACES)  # where places and verbs start in the vocabulary
_PREPOSITION = {"river": "at"}  # "at the river"; the other places take "in"

BATCH, STEPS, LR = 64, 200, 5e-3  # the chapter's training: 200 Adam steps of 64 sentence pairs


def sentence_pairs(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random Japanese sentences and their English slots, as indices.

    The English word of a slot has the index of the Japanese word it translates; an empty place slot is
    :data:`NO_WORD`.

    Shapes:
        returns source (n, S) with S = 9, target (n, L) with L = 4.
    """
    if n <= 0:
        raise AttnLabError(f"need n > 0 sentence pairs, got n={n}")
    subj = torch.randint(len(NOUNS), (n,), generator=g)  # (n,)
    obj = (subj + 1 + torch.randint(len(NOUNS) - 1, (n,), generator=g)) % len(NOUNS)  # another animal
    verb = _VERB_AT + torch.randint(len(VERBS), (n,), generator=g)  # (n,)
    place = _PLACE_AT + torch.randint(len(PLACES), (n,), generator=g)  # (n,)
    has_place = torch.rand(n, generator=g) < 0.5  # (n,)
    particles = torch.tensor([_PARTICLE[role] for role in ("subject", "object", "place")])  # (3,)
    phrases = torch.stack([torch.stack([subj, obj, place], 1), particles.expand(n, 3)], 2)  # (n, 3, 2)
    draws = torch.rand(n, 3, generator=g).masked_fill(~has_place[:, None] & (torch.arange(3) == 2), 2.0)
    order = draws.argsort(dim=1)  # (n, 3): a random phrase order; a missing place phrase goes last
    body = phrases.gather(1, order[..., None].expand(n, 3, 2)).flatten(1)  # (n, 6): scrambled phrases
    bos, eos, pad = (torch.full((n, 1), token) for token in (_BOS, _EOS, _PAD))  # (n, 1) each
    full = torch.cat([bos, body, verb[:, None], eos], 1)  # (n, 9): three phrases
    short = torch.cat([bos, body[:, :4], verb[:, None], eos, pad, pad], 1)  # (n, 9): two, then padding
    source = torch.where(has_place[:, None], full, short)  # (n, S)
    target = torch.stack([subj, verb, obj, place.masked_fill(~has_place, NO_WORD)], 1)  # (n, L)
    return source, target


def _check_source(source: torch.Tensor) -> None:
    if source.dim() != 2 or source.shape[1] != S_SRC:
        raise AttnLabError(f"source must be (B, {S_SRC}) token indices, got shape {tuple(source.shape)}")


def word_positions(source: torch.Tensor) -> torch.Tensor:
    """Where each English slot's word stands in the source, read from the particles; −1 for no place.

    The subject is the word before ``ga``, the object the word before ``o``, the place the word before
    ``de``, and the verb the word before ``</s>``: the right cross-attention map, one source position per
    slot, different from sentence to sentence.

    Shapes:
        source (B, S) → positions (B, L).
    """
    _check_source(source)
    marks = [_PARTICLE["subject"], _EOS, _PARTICLE["object"], _PARTICLE["place"]]  # one per slot
    positions = torch.full((len(source), L_TGT), -1)  # (B, L)
    for slot, mark in enumerate(marks):
        batch, at = (source[:, 1:] == mark).nonzero(as_tuple=True)  # the mark stands at 1 + at
        positions[batch, slot] = at  # the word before it
    return positions


def subject_first(source: torch.Tensor) -> torch.Tensor:
    """Whether the subject comes before the object in each source sentence. Shapes: (B, S) → (B,)."""
    positions = word_positions(source)  # (B, L)
    return positions[:, 0] < positions[:, 2]  # (B,)


def encode(sentence: str) -> torch.Tensor:
    """A romanised Japanese sentence, such as ``"neko ga inu o miru"``, as a padded source of one.

    Shapes:
        returns (1, S).
    """
    words = sentence.split()
    unknown = [w for w in words if w not in SOURCE_VOCAB[:_PAD] or w in ("<s>", "</s>")]
    if unknown or not 5 <= len(words) <= S_SRC - 2:
        raise AttnLabError(
            f"need 5 to {S_SRC - 2} words from SOURCE_VOCAB, got {len(words)} words, unknown {unknown}: {sentence!r}"
        )
    tokens = [_BOS, *(SOURCE_VOCAB.index(w) for w in words), _EOS]
    return torch.tensor([tokens + [_PAD] * (S_SRC - len(tokens))])  # (1, S)


def japanese(source: torch.Tensor) -> str:
    """One source sentence (S,) as romanised Japanese, without markers or padding."""
    return " ".join(SOURCE_VOCAB[i] for i in source.tolist() if i not in (_PAD, _BOS, _EOS))


def english(target: torch.Tensor) -> str:
    """One target (L,) as an English sentence: "the cat sees the dog in the park"."""
    subj, verb, obj, place = (ENGLISH[i] if i != NO_WORD else None for i in target.tolist())
    words = f"the {subj} {verb} the {obj}"
    return words if place is None else f"{words} {_PREPOSITION.get(place, 'in')} the {place}"


class _Bigrams(nn.Module):
    """Each source token's embedding plus an embedding of the token after it. Shapes: (B, S) → (B, S, d).

    Both start small (std 0.1): the scores start near 0, so every slot's weights start near uniform. From
    PyTorch's default std 1, four of the seeds 0 to 4 end their 200 steps with some slot wrong most of the time.
    """

    def __init__(self, d: int) -> None:
        super().__init__()
        self.word = nn.Embedding(len(SOURCE_VOCAB), d)
        self.next = nn.Embedding(len(SOURCE_VOCAB), d)
        for table in (self.word, self.next):
            nn.init.normal_(table.weight, std=0.1)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        after = torch.cat([source[:, 1:], torch.full_like(source[:, :1], _PAD)], dim=1)  # (B, S): shifted left
        return self.word(source) + self.next(after)  # (B, S, d)


class Translator(nn.Module):
    """Each English slot asks the Japanese sentence, through one cross-attention head, for its word.

    The queries are learned vectors, one per slot. A source token's key is its embedding plus an
    embedding of the next token, so a noun's key carries its particle; its value is its own embedding
    alone. Padding is masked out of the keys. The read-out sees only what cross-attention returns, and
    nothing knows a position.

    Shapes:
        source (B, S) token indices → logits (B, L, len(ENGLISH)).
    """

    def __init__(self, d: int = 32, d_key: int = 24, d_value: int = 16) -> None:
        super().__init__()
        self.keys = _Bigrams(d_key)  # the word and its right neighbour
        self.values = nn.Embedding(len(SOURCE_VOCAB), d_value)  # the word alone
        self.slots = nn.Embedding(L_TGT, d)  # the queries: one learned vector per English slot
        self.cross = MultiHeadAttention(d, 1, kdim=d_key, vdim=d_value, batch_first=True)
        self.out = nn.Linear(d, len(ENGLISH))

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        _check_source(source)
        queries = self.slots.weight.expand(len(source), -1, -1)  # (B, L, d)
        keys, values = self.keys(source), self.values(source)  # (B, S, d_key), (B, S, d_value)
        z, _ = self.cross(queries, keys, values, key_padding_mask=source == _PAD, need_weights=False)
        return self.out(z)  # (B, L, len(ENGLISH))


class MixingTranslator(nn.Module):
    """The baseline: the source tokens mixed by fixed weights, then the same read-out.

    Each token is its embedding plus an embedding of the next token, as the translator's keys are, so
    a noun arrives with its particle. The weights are a learned L×S matrix of logits, softmaxed along
    each row over the sentence's real tokens (never the padding), the same for every sentence, as in
    :class:`~attnlab.models.mixing.FixedMixing`: no queries, no keys.

    Shapes:
        source (B, S) token indices → logits (B, L, len(ENGLISH)).
    """

    def __init__(self, d: int = 24) -> None:
        super().__init__()
        self.tokens = _Bigrams(d)
        self.logits = nn.Parameter(torch.zeros(L_TGT, S_SRC))  # (L, S): uniform rows to start
        self.W_V = nn.Linear(d, d, bias=False)
        self.out = nn.Linear(d, len(ENGLISH))

    def weights(self, source: torch.Tensor) -> torch.Tensor:
        """The fixed weights, softmaxed over each sentence's real tokens. Shapes: (B, S) → (B, L, S)."""
        _check_source(source)
        pad = (source == _PAD)[:, None, :]  # (B, 1, S)
        return self.logits.masked_fill(pad, float("-inf")).softmax(dim=-1)  # (B, L, S)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        values = self.W_V(self.tokens(source))  # (B, S, d)
        return self.out(self.weights(source) @ values)  # (B, L, len(ENGLISH))


def _loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
    source, target = sentence_pairs(BATCH, g)  # (BATCH, S), (BATCH, L)
    return nn.functional.cross_entropy(model(source).flatten(0, 1), target.flatten(), ignore_index=NO_WORD)


def train_translator(steps: int = STEPS, seed: int = 0, *, mixing: bool = False) -> Translator | MixingTranslator:
    """A :class:`Translator` trained for ``steps`` Adam steps (lr 5e-3, 64 pairs a step) from ``seed``.

    ``seed`` seeds both the initial weights and the batches, so a seed gives one model, bit for bit, on
    one machine. ``mixing=True`` trains the baseline :class:`MixingTranslator` instead, in the same way.

    Shapes:
        the model maps (B, S) → (B, L, len(ENGLISH)).
    """
    torch.manual_seed(seed)  # the initial weights
    model = MixingTranslator() if mixing else Translator()
    return fit(model, _loss, steps, lr=LR, seed=seed, label="fixed mixing" if mixing else "training")


def alignment(model: Translator | MixingTranslator, source: torch.Tensor) -> torch.Tensor:
    """The weights of the English slots over the source tokens: the translator's one head, read with
    :func:`~attnlab.capture_attention`, or the baseline's fixed weights. Padding gets weight 0.

    Shapes:
        source (B, S) → weights (B, L, S).
    """
    if isinstance(model, MixingTranslator):
        with torch.no_grad():
            return model.weights(source)  # (B, L, S)
    with torch.no_grad(), capture_attention(model) as maps:
        model(source)
    return maps["cross"][:, 0]  # (B, L, S): the one head


def weight_shares(model: Translator | MixingTranslator, source: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where each filled slot's weight goes: ``word`` (the source word the slot translates), ``other
    words`` (every other noun, place or verb) and ``no word`` (markers and particles, whose values carry
    no English word). The three add up to 1 for each slot.

    Shapes:
        source (B, S) → three (F,) tensors, one entry per filled slot (F of the B·L).
    """
    weights = alignment(model, source)  # (B, L, S)
    positions = word_positions(source)  # (B, L)
    filled = positions >= 0  # (B, L)
    right = torch.zeros_like(weights, dtype=torch.bool).scatter_(-1, positions.clamp(min=0)[..., None], True)
    is_word = (source < len(ENGLISH))[:, None, :]  # (B, 1, S): nouns, places, verbs
    word = (weights * right).sum(-1)[filled]  # (F,)
    other = (weights * (is_word & ~right)).sum(-1)[filled]  # (F,)
    return {"word": word, "other words": other, "no word": 1 - word - other}


def scores(model: Translator | MixingTranslator, source: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """How well ``model`` translates and where it looks, as shares.

    ``words``: filled slots translated right; ``sentences``: sentences with every slot right; ``roles``:
    subject and object slots right (guessing which of the two animals is which gives ½); ``aligned``:
    filled slots that look hardest at the source word they translate (:func:`word_positions`).

    Shapes:
        source (B, S), target (B, L).
    """
    if target.shape != (len(source), L_TGT):
        raise AttnLabError(
            f"target must be (B, L) = ({len(source)}, {L_TGT}) for source {tuple(source.shape)}, "
            f"got {tuple(target.shape)}"
        )
    filled = target != NO_WORD  # (B, L)
    with torch.no_grad():
        right = (model(source).argmax(-1) == target) | ~filled  # (B, L): an empty slot counts as right
    looks = alignment(model, source).argmax(-1) == word_positions(source)  # (B, L)
    return {
        "words": right[filled].float().mean().item(),
        "sentences": right.all(dim=1).float().mean().item(),
        "roles": right[:, [0, 2]].float().mean().item(),
        "aligned": looks[filled].float().mean().item(),
    }
