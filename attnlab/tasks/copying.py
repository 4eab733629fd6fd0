"""Chapter 3's tasks: one attention head, with and without a causal mask, on random letters.

Tokens are random letters from an alphabet of :data:`V` = 8, in sequences of :data:`LEN` = 12. Two tasks:

- **copy two back** (:func:`copy_two_back`): at position t, output the token at t - 2. With a causal mask
  the answer is visible, and the right map puts all weight on key t - 2.
- **next token** (:func:`next_token`): at position t, output the token at t + 1. The tokens are random,
  so a model under a causal mask cannot beat chance, 1/V; without the mask the answer sits at key t + 1.

:class:`OneHead` can only answer by looking (embeddings, one head, a read-out, no residual path), so what
it learns shows in its map: :func:`alignment` says how often each query looks hardest at key t + offset.

Both tasks are positional: position t always reads key t - 2, or t + 1, whatever the letters.
:class:`MixingHead` is the baseline that shows it: the same token embeddings and read-out around a
:class:`~attnlab.models.mixing.FixedMixing` (one learned L×L matrix of weights, the same for every sequence;
no queries, keys or position vectors). ``train(..., mixing=True)`` trains it as :class:`OneHead` is trained.

    from attnlab.tasks import copying
    cheater = copying.train(copying.next_token, causal=False)
    accuracy, maps = copying.evaluate(cheater, copying.next_token, copying.held_out())
    fixed = copying.train(copying.next_token, causal=False, mixing=True)  # the baseline
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..capture import capture_attention
from ..errors import AttnLabError
from ..masks import causal_mask, combine_masks, padding_mask, to_mha_mask
from ..mha import MultiHeadAttention
from ..models.mixing import FixedMixing
from ..training import fit

__all__ = [
    "LEN",
    "LETTERS",
    "MASK_KINDS",
    "UNDEFINED",
    "MixingHead",
    "OneHead",
    "V",
    "alignment",
    "copy_two_back",
    "evaluate",
    "held_out",
    "mask_kind",
    "next_token",
    "random_tokens",
    "target_probability",
    "train",
    "weight_on",
]

V, LEN = 8, 12  # alphabet size, sequence length
LETTERS = "abcdefgh"
UNDEFINED = -100  # cross_entropy's ignore_index: positions without a target
MASK_KINDS = ("no mask", "causal", "padding", "causal + padding")

Task = Callable[[Tensor], Tensor]


def random_tokens(n: int, g: torch.Generator) -> Tensor:
    """``n`` sequences of :data:`LEN` random letters, drawn with ``g``. Shapes: returns (B, L), B = n."""
    if n <= 0:
        raise AttnLabError(f"need n > 0 sequences, got n={n}")
    return torch.randint(V, (n, LEN), generator=g)  # (B, L)


def held_out(n: int = 1000, seed: int = 1) -> Tensor:
    """The chapter's test sequences: ``n`` new ones, drawn from ``seed``, never trained on. Shapes: (B, L)."""
    return random_tokens(n, torch.Generator().manual_seed(seed))


def copy_two_back(x: Tensor) -> Tensor:
    """Targets y_t = x_(t-2), :data:`UNDEFINED` at t < 2. Shapes: x (B, L) → y (B, L)."""
    y = torch.full_like(x, UNDEFINED)
    y[:, 2:] = x[:, :-2]  # y_t = x_(t-2)
    return y


def next_token(x: Tensor) -> Tensor:
    """Targets y_t = x_(t+1), :data:`UNDEFINED` at the last position. Shapes: x (B, L) → y (B, L)."""
    y = torch.full_like(x, UNDEFINED)
    y[:, :-1] = x[:, 1:]  # y_t = x_(t+1)
    return y


def _check_tokens(x: Tensor) -> None:
    if x.dim() != 2 or x.shape[1] != LEN:
        raise AttnLabError(f"expected tokens of shape (B, {LEN}), got {tuple(x.shape)}")


class OneHead(nn.Module):
    """Embeddings, one attention head, a read-out: it can answer only through attention.

    ``causal`` sets the model's own mask; ``forward``'s ``mask`` (attnlab's convention,
    True = may attend) replaces it, so a trained head can be tried under other masks.

    Shapes:
        x (B, L) tokens, mask (L, S) or None → logits (B, L, V).
    """

    def __init__(self, causal: bool, d: int = 32) -> None:
        super().__init__()
        self.causal = causal
        self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(LEN, d)
        self.attn = MultiHeadAttention(d, 1, batch_first=True)
        self.out = nn.Linear(d, V)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        _check_tokens(x)
        if mask is None and self.causal:
            mask = causal_mask(LEN)
        h = self.tok(x) + self.pos.weight  # (B, L, d)
        blocked = to_mha_mask(mask)  # the module's convention: True = blocked
        z = self.attn(h, h, h, attn_mask=blocked, need_weights=False)[0]  # (B, L, d)
        return self.out(z)  # (B, L, V)


class MixingHead(nn.Module):
    """The baseline beside :class:`OneHead`: token embeddings, a fixed mixing, the same read-out.

    The head is replaced by a :class:`~attnlab.models.mixing.FixedMixing`: one learned L×L matrix of logits,
    row-softmaxed, the same for every sequence, with its value map. There are no queries, no keys and no
    position vectors: the matrix is the only thing that knows the positions. ``causal=True`` hides the
    future, row t mixing positions 0 … t only, as :class:`OneHead`'s causal mask does.

    ``forward`` takes no mask: the weights are fixed when the model is built (``causal``), and passing a
    ``mask`` raises :class:`AttnLabError`, so :func:`target_probability` under another mask is for
    :class:`OneHead` only.

    Shapes:
        x (B, L) tokens → logits (B, L, V); :meth:`weights` → (L, S).
    """

    def __init__(self, causal: bool, d: int = 32) -> None:
        super().__init__()
        self.causal = causal
        self.tok = nn.Embedding(V, d)
        self.mix = FixedMixing(d, LEN, causal=causal)
        self.out = nn.Linear(d, V)

    def weights(self) -> Tensor:
        """The mixing weights, the same for every sequence; each row sums to 1. Shapes: returns (L, S)."""
        return self.mix.weights(LEN)  # (L, S)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        _check_tokens(x)
        if mask is not None:
            raise AttnLabError(
                f"MixingHead takes no mask: its weights are one fixed matrix (causal={self.causal}), "
                f"got a mask of shape {tuple(mask.shape)}"
            )
        z, _ = self.mix(self.tok(x))  # (B, L, d)
        return self.out(z)  # (B, L, V)


def train(
    task: Task, causal: bool, steps: int = 150, seed: int = 0, *, lr: float = 1e-2, mixing: bool = False
) -> OneHead | MixingHead:
    """A :class:`OneHead` initialised from ``seed`` and trained on ``task`` for ``steps`` steps of 64.

    ``mixing=True`` trains the baseline :class:`MixingHead` instead, with the same ``causal``, steps,
    learning rate and batches.
    """
    torch.manual_seed(seed)
    model = MixingHead(causal) if mixing else OneHead(causal)

    def loss(model: nn.Module, g: torch.Generator) -> Tensor:
        x = random_tokens(64, g)  # (B, L)
        return F.cross_entropy(model(x).flatten(0, 1), task(x).flatten(), ignore_index=UNDEFINED)

    return fit(model, loss, steps, lr=lr, seed=seed, label="fixed mixing" if mixing else "training")


def evaluate(model: OneHead | MixingHead, task: Task, x: Tensor) -> tuple[float, Tensor]:
    """Accuracy on the defined positions of ``task`` over ``x``, and the head's maps.

    For a :class:`MixingHead` the maps are its fixed weights, the same for every sequence, expanded over
    the batch.

    Shapes:
        x (B, L) → accuracy, maps (B, L, S).
    """
    y = task(x)
    with torch.no_grad(), capture_attention(model) as captured:
        predicted = model(x).argmax(-1)  # (B, L)
        fixed = model.weights() if isinstance(model, MixingHead) else None  # (L, S)
    maps = captured["attn"][:, 0] if fixed is None else fixed.expand(len(x), -1, -1)  # (B, L, S)
    return (predicted == y)[y != UNDEFINED].float().mean().item(), maps


def _rows(maps: Tensor, offset: int) -> Tensor:
    """The queries t whose key t + ``offset`` lies inside the sequence. Shapes: maps (B, L, S) → (n,)."""
    if maps.dim() != 3 or maps.shape[-2:] != (LEN, LEN):
        raise AttnLabError(f"expected maps of shape (B, {LEN}, {LEN}), got {tuple(maps.shape)}")
    t = torch.arange(LEN)
    rows = t[(t + offset >= 0) & (t + offset < LEN)]  # (n,)
    if not len(rows):
        raise AttnLabError(f"offset {offset} leaves no key inside a sequence of {LEN}")
    return rows


def alignment(maps: Tensor, offset: int) -> float:
    """How often a query's largest weight is on key t + ``offset``, over the rows where that key exists.

    Shapes:
        maps (B, L, S) → a share in [0, 1].
    """
    rows = _rows(maps, offset)  # (n,)
    return (maps.argmax(-1)[:, rows] == rows + offset).float().mean().item()


def weight_on(maps: Tensor, offset: int) -> float:
    """The mean weight a query gives key t + ``offset``, over the rows where that key exists.

    Shapes:
        maps (B, L, S) → a weight in [0, 1].
    """
    rows = _rows(maps, offset)  # (n,)
    return maps[:, rows, rows + offset].mean().item()  # maps[:, (n,), (n,)] is (B, n)


def mask_kind(kind: str, n_real: int = LEN) -> Tensor | None:
    """One of :data:`MASK_KINDS` over :data:`LEN` positions, ``n_real`` real tokens then padding.

    Returns an attnlab mask (True = may attend), or None for ``"no mask"``.

    Shapes:
        returns (L, S).
    """
    if kind not in MASK_KINDS:
        raise AttnLabError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    if not 1 <= n_real <= LEN:
        raise AttnLabError(f"the number of real tokens must be from 1 to {LEN}, got {n_real}")
    real_keys = padding_mask([n_real], max_len=LEN).expand(LEN, LEN)  # (L, S): the same keys for every query
    return {
        "no mask": None,
        "causal": causal_mask(LEN),
        "padding": real_keys,
        "causal + padding": combine_masks(causal_mask(LEN), real_keys),
    }[kind]


def target_probability(model: OneHead | MixingHead, task: Task, x: Tensor, mask: Tensor | None = None) -> Tensor:
    """The probability ``model`` gives the true target at each position, averaged over the sequences.

    ``mask`` replaces the model's own (see :class:`OneHead`); positions without a target are NaN.

    Shapes:
        x (B, L), mask (L, S) or None → (L,).
    """
    y = task(x)  # (B, L)
    with torch.no_grad():
        probs = model(x, mask=mask).softmax(-1)  # (B, L, V)
    right = probs.gather(-1, y.clamp_min(0)[..., None])[..., 0]  # (B, L)
    right = right.masked_fill(y == UNDEFINED, float("nan"))
    return right.nanmean(0)  # (L,)
