"""Chapter 3's transfer exercises: masks the chapter does not build, from what it teaches.

Nothing on the chapter's page answers them by copying: Hugging Face's ``attention_mask`` turned into
attnlab's broadcastable mask, a sliding window, a prefix language model's mask, a per-head mask in the
(N·H, L, S) layout ``nn.MultiheadAttention`` reads, and a left-padding mask without empty rows. Each
carries its worked solution and why it is right, for :func:`attnlab.exercises.reveal`.
"""

from __future__ import annotations

import torch

from ._core import Case, Exercise, Mistake, describe_args, seeded_cases

__all__ = ["EXERCISES"]


def _ij(L: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Query index i (rows) and key index j (columns), (L, 1) and (1, L)."""
    return torch.arange(L)[:, None], torch.arange(L)[None, :]


# ---- hf_to_attnlab_mask -------------------------------------------------------------------------


def _hf_cases() -> list[Case]:
    masks = [
        torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]),
        torch.tensor([[True, True, False, False]]),
        torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.int32),
    ]
    return [Case((m,), describe_args(("attention_mask",), (m,))) for m in masks]


def _hf_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    b, _, _, j = torch.nonzero(got != expected)[0].tolist()
    if bool(expected[b, 0, 0, j]):
        return f"in sequence {b}, key {j} is a real token (attention_mask 1) but is masked"
    return f"in sequence {b}, key {j} is a pad (attention_mask 0) but may be attended"


_HF = Exercise(
    id="hf_to_attnlab_mask",
    chapter=3,
    title="Hugging Face's attention_mask, as attnlab's mask",
    signature="solution(attention_mask) -> Tensor",
    shapes="attention_mask (B, S) int or bool, 1 = a real token → bool (B, 1, 1, S), True = may attend",
    task="A tokenizer returns attention_mask (B, S): 1 (or True) for a real token, 0 for a pad. Return "
    "attnlab's boolean mask for the keys, True = may attend, shaped (B, 1, 1, S) so that it broadcasts "
    "over the heads and the queries of (B, H, L, S) logits.",
    reference=lambda attention_mask: attention_mask.bool()[:, None, None, :],
    cases=_hf_cases,
    mistakes=(
        Mistake(
            "inverted",
            lambda m: (m == 0)[:, None, None, :],
            "{symptom}. Inverted: Hugging Face's 1 = keep already means attnlab's True = may attend; "
            "only nn.MultiheadAttention's key_padding_mask needs the inverse",
        ),
        Mistake(
            "no_broadcast",
            lambda m: m.bool(),
            "you returned (B, S), with no broadcast dimensions: against (B, H, L, S) logits it lines up "
            "with (L, S) from the right. Add two: attention_mask.bool()[:, None, None, :]",
        ),
        Mistake(
            "one_short",
            lambda m: m.bool()[:, None, :],
            "you returned (B, 1, S): against (B, H, L, S) logits its batch axis lines up with the heads. "
            "Two broadcast dimensions, one for the heads and one for the queries: (B, 1, 1, S)",
        ),
        Mistake(
            "float",
            lambda m: m.float()[:, None, None, :],
            "you returned the 0/1 mask as a float: a float mask is added to the logits, +1 on every real "
            "key and 0 on every pad, which masks nothing. Return a bool tensor: .bool()",
        ),
        Mistake(
            "integer",
            lambda m: m[:, None, None, :],
            "you returned the integers themselves: attention functions take a bool or a float mask. "
            "Convert with .bool() (1 = keep is True = may attend)",
        ),
    ),
    dtype="bool",
    symptom=_hf_symptom,
    solution="""def my_hf_to_attnlab_mask(attention_mask):
    keep = attention_mask.bool()  # (B, S): 1 = keep is True = may attend
    return keep[:, None, None, :]  # (B, 1, 1, S): the same for every head and query""",
    explanation="Hugging Face's 1 = keep and attnlab's True = may attend say the same thing, so .bool() "
    "converts without inverting. The mask acts on the keys: broadcast over the heads and the queries "
    "with two new axes. As a float it would be added to the logits (+1 or 0) and mask nothing.",
)


# ---- sliding_window_mask ------------------------------------------------------------------------


def _window(L: int, window: int) -> torch.Tensor:
    i, j = _ij(L)
    return (i - j >= 0) & (i - j < window)  # (L, L)


def _window_cases() -> list[Case]:
    return [Case(a, f"L={a[0]}, window={a[1]}") for a in ((6, 3), (5, 1), (7, 2), (4, 6))]


def _window_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    i, j = torch.nonzero(got != expected)[0].tolist()
    window = case.args[1]
    if j > i:
        return f"position {i} can see position {j}: the mask lets the future in"
    back = "itself" if i == j else f"position {j}, {i - j} back"
    if bool(got[i, j]):
        return f"position {i} can see {back}, outside a window of {window}"
    return f"position {i} cannot see {back}, inside a window of {window}"


_SLIDING = Exercise(
    id="sliding_window_mask",
    chapter=3,
    title="A sliding-window mask",
    signature="solution(L, window) -> Tensor",
    shapes="L, window → bool (L, L), True = may attend",
    task="Return the mask of a causal sliding window: query i may attend to key j when 0 ≤ i − j < window, "
    "so each query sees itself and the window − 1 tokens before it, never a later one.",
    reference=_window,
    cases=_window_cases,
    mistakes=(
        Mistake(
            "off_by_one_wide",
            lambda L, w: (_ij(L)[0] - _ij(L)[1] >= 0) & (_ij(L)[0] - _ij(L)[1] <= w),
            "{symptom}. Off by one: the window counts the query itself, so it reaches back window − 1 "
            "tokens: i − j < window, not ≤ window",
        ),
        Mistake(
            "off_by_one_narrow",
            lambda L, w: (_ij(L)[0] - _ij(L)[1] >= 0) & (_ij(L)[0] - _ij(L)[1] < w - 1),
            "{symptom}. Off by one: window tokens in all, the query itself included: i − j < window, not < window − 1",
        ),
        Mistake(
            "symmetric",
            lambda L, w: (_ij(L)[0] - _ij(L)[1]).abs() < w,
            "{symptom}. A symmetric band looks ahead: a decoder's window is causal too, 0 ≤ i − j",
        ),
        Mistake(
            "causal",
            lambda L, w: torch.ones(L, L, dtype=torch.bool).tril(),
            "{symptom}. This is the plain causal mask: the window must also hide the keys window or more tokens back",
        ),
    ),
    dtype="bool",
    symptom=_window_symptom,
    solution="""def my_sliding_window_mask(L, window):
    i = torch.arange(L)[:, None]  # (L, 1): the query
    j = torch.arange(L)[None, :]  # (1, S): the key
    back = i - j  # (L, S): how far back key j is from query i
    return (back >= 0) & (back < window)""",
    explanation="i − j is how far back key j lies from query i. The window keeps 0 (the query itself) "
    "to window − 1 steps back; a negative i − j is the future, hidden as in any decoder. With "
    "window ≥ L it is the causal mask.",
)


# ---- prefix_lm_mask -----------------------------------------------------------------------------


def _prefix(L: int, prefix: int) -> torch.Tensor:
    i, j = _ij(L)
    return (j < prefix) | (j <= i)  # (L, L)


def _prefix_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    i, j = torch.nonzero(got != expected)[0].tolist()
    prefix = case.args[1]
    where = "in the prefix" if j < prefix else "after the prefix"
    if bool(got[i, j]):
        return f"query {i} can see key {j}, a later token {where}"
    return f"query {i} cannot see key {j}, " + ("a prefix token" if j < prefix else "an earlier token")


_PREFIX = Exercise(
    id="prefix_lm_mask",
    chapter=3,
    title="A prefix language model's mask",
    signature="solution(L, prefix) -> Tensor",
    shapes="L, prefix → bool (L, L), True = may attend",
    task="The first prefix tokens (a prompt) attend to each other in both directions; after them the "
    "sequence is causal. Return the mask: True where j < prefix or j ≤ i. Every query sees the whole "
    "prefix.",
    reference=_prefix,
    cases=lambda: [Case(a, f"L={a[0]}, prefix={a[1]}") for a in ((7, 3), (5, 1), (6, 2), (4, 4))],
    mistakes=(
        Mistake(
            "causal_only",
            lambda L, p: torch.ones(L, L, dtype=torch.bool).tril(),
            "{symptom}. This is the plain causal mask, causal inside the prefix too: the prefix must "
            "see itself fully, so every query sees every j < prefix",
        ),
        Mistake(
            "prefix_sees_everything",
            lambda L, p: (_ij(L)[1] <= _ij(L)[0]) | (_ij(L)[0] < p),
            "{symptom}. The prefix queries see the whole sequence: the prefix sees itself fully, not the "
            "tokens after it. Test the key, j < prefix, not the query",
        ),
        Mistake(
            "off_by_one",
            lambda L, p: (_ij(L)[1] <= p) | (_ij(L)[1] <= _ij(L)[0]),
            "{symptom}. Off by one: the prefix is tokens 0, …, prefix − 1, so j < prefix",
        ),
        Mistake(
            "suffix_blind",
            lambda L, p: ((_ij(L)[0] < p) & (_ij(L)[1] < p)) | ((_ij(L)[1] >= p) & (_ij(L)[1] <= _ij(L)[0])),
            "{symptom}. The tokens after the prefix must see the prefix too: after it the mask is plain "
            "causal, not causal over the suffix alone",
        ),
    ),
    dtype="bool",
    symptom=_prefix_symptom,
    solution="""def my_prefix_lm_mask(L, prefix):
    i = torch.arange(L)[:, None]  # (L, 1): the query
    j = torch.arange(L)[None, :]  # (1, S): the key
    return (j < prefix) | (j <= i)  # the whole prefix, or anything not later""",
    explanation="A key is visible when it lies in the prefix (j < prefix, for every query, so the prefix "
    "sees itself both ways) or when it is not later than the query (j ≤ i, causal). A causal mask "
    "with the prefix block made causal too is just the causal mask: the prefix's two-way view is the "
    "whole difference.",
)


# ---- mha_mask_layout ----------------------------------------------------------------------------


def _layout_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    mask = case.args[0]
    N, H = mask.shape[:2]
    for row in range(N * H):
        if not torch.equal(got[row], expected[row]):
            for n in range(N):
                for h in range(H):
                    if torch.equal(got[row], mask[n, h]):
                        return (
                            f"row {row} holds sequence {n}, head {h}; nn.MultiheadAttention reads it as "
                            f"sequence {row // H}, head {row % H} (row n·H + h)"
                        )
            return None
    return None


_LAYOUT = Exercise(
    id="mha_mask_layout",
    chapter=3,
    title="A per-head mask for nn.MultiheadAttention",
    signature="solution(mask) -> Tensor",
    shapes="mask (N, H, L, S) → (N·H, L, S), the same dtype and values",
    task="A mask (or an additive bias, such as ALiBi's) differs per sequence n and per head h, shape "
    "(N, H, L, S). nn.MultiheadAttention takes a per-head attn_mask only as 3-D (N·H, L, S), and reads "
    "row n·H + h as head h of sequence n. Return that tensor; only the layout changes.",
    reference=lambda mask: mask.reshape(mask.shape[0] * mask.shape[1], *mask.shape[2:]),
    cases=lambda: seeded_cases(("mask",), [((2, 3, 4, 5),), ((3, 2, 3, 3),), ((1, 4, 2, 6),)], seed=3),
    mistakes=(
        Mistake(
            "head_major",
            lambda m: m.transpose(0, 1).reshape(m.shape[0] * m.shape[1], *m.shape[2:]),
            "{symptom}. Head-major rows: row h·N + n holds sequence n, head h. The module wants "
            "sequence-major rows, n·H + h: the (N, H) axes merged in their order, mask.reshape(N * H, L, S)",
        ),
        Mistake(
            "one_head_for_all",
            lambda m: m[:, 0].repeat_interleave(m.shape[1], dim=0),
            "{symptom}. Every head got head 0's mask: repeat_interleave copies one (N, L, S) mask for "
            "each head; here each head has a mask of its own, so keep them all",
        ),
    ),
    symptom=_layout_symptom,
    solution="""def my_mha_mask_layout(mask):
    N, H, L, S = mask.shape
    return mask.reshape(N * H, L, S)  # row n·H + h: sequence n, head h""",
    explanation="Merging the first two axes of (N, H, L, S) in place numbers the rows n·H + h: the "
    "heads of sequence 0, then those of sequence 1, which is the order nn.MultiheadAttention splits "
    "its (N·H, L, S) mask back into. Transposing first would give head-major rows, h·N + n.",
)

# ---- mended_padding_mask ------------------------------------------------------------------------


def _mended(pad: torch.Tensor) -> torch.Tensor:
    L = pad.shape[0]
    allowed = torch.ones(L, L, dtype=torch.bool).tril() & ~pad[None, :]  # (L, S): causal, real keys only
    return ~(allowed | torch.diag(pad))  # (L, S), True = blocked: a pad query may see itself


def _mended_cases() -> list[Case]:
    pads = [torch.arange(6) < 2, torch.arange(4) < 1, torch.arange(5) < 0, torch.arange(7) < 3]
    return [Case((p,), f"pad={p.int().tolist()}") for p in pads]


def _mended_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != expected.shape:
        return None
    pad = case.args[0]
    wrong = got != expected  # (L, S)
    real_rows = wrong & ~pad[:, None]  # a real query's mistake is named first: it changes an output
    i, j = torch.nonzero(real_rows if bool(real_rows.any()) else wrong)[0].tolist()
    key = "itself" if i == j else f"key {j}" + (" (a pad)" if bool(pad[j]) else "")
    query = f"query {i}" + (" (a pad)" if bool(pad[i]) else "")
    return f"{query} {'cannot' if bool(got[i, j]) else 'can'} see {key}"


_MENDED = Exercise(
    id="mended_padding_mask",
    chapter=3,
    title="Mend the NaN of left padding",
    signature="solution(pad) -> Tensor",
    shapes="pad (L,) bool, True = a pad on the left → bool (L, S) in nn.MultiheadAttention's convention, "
    "True = blocked",
    task="With left padding and a causal mask, a pad query has no key left, and nn.MultiheadAttention "
    "returns NaN for it. Return one boolean attn_mask for nn.MultiheadAttention (True = blocked): causal, "
    "every pad hidden as a key, except that a pad query may see itself, so no row is empty.",
    reference=_mended,
    cases=_mended_cases,
    mistakes=(
        Mistake(
            "attnlab_convention",
            lambda pad: ~_mended(pad),
            "{symptom}. The mask is inverted: nn.MultiheadAttention's attn_mask says True = blocked; "
            "yours says True = may attend, attnlab's convention (to_mha_mask converts)",
        ),
        Mistake(
            "empty_rows",
            lambda pad: ~(torch.ones(len(pad), len(pad), dtype=torch.bool).tril() & ~pad[None, :]),
            "{symptom}. Causal and padding are right, but a pad query is left with no key at all, which is "
            "the NaN to mend: let each pad query see itself (the diagonal)",
        ),
        Mistake(
            "pads_visible",
            lambda pad: ~torch.ones(len(pad), len(pad), dtype=torch.bool).tril(),
            "{symptom}. This is the causal mask alone: the real tokens then attend to the pads before them. "
            "Hide the pads as keys (columns)",
        ),
    ),
    dtype="bool",
    symptom=_mended_symptom,
    solution="""def my_mended_padding_mask(pad):
    L = pad.shape[0]
    causal = torch.ones(L, L, dtype=torch.bool).tril()  # (L, S), True = may attend
    allowed = causal & ~pad[None, :]  # real keys only: the pads' rows are empty
    allowed = allowed | torch.diag(pad)  # a pad query may see itself
    return ~allowed  # nn.MultiheadAttention: True = blocked""",
    explanation="Build it in attnlab's convention first (causal, and real keys only), add the diagonal of "
    "the pads so that each pad row keeps one key, itself, and invert at the boundary. The real tokens "
    "never see a pad, so their outputs are those of the plain causal + padding mask; only the pads' "
    "own rows change, from NaN to something finite that nobody reads.",
)

EXERCISES = (_HF, _SLIDING, _PREFIX, _LAYOUT, _MENDED)
