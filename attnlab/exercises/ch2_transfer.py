"""Chapter 2's transfer exercises: heads in layouts the chapter does not build, from what it teaches.

Nothing on the chapter's page answers them by copying: the (N·H, L, E) stack in which
``nn.MultiheadAttention`` holds the heads of a sequence-first batch for ``torch.bmm``, and grouped-query
attention (Ainslie et al., 2023), where groups of query heads share one key/value head. Each carries its
worked solution and why it is right, for :func:`attnlab.exercises.reveal`.
"""

from __future__ import annotations

import math

import torch

from ..functional import attention_weights
from ..heads import merge_heads, split_heads
from ._core import Case, Exercise, Mistake, seeded_cases

__all__ = ["EXERCISES"]


# ---- mha_batch_layout ---------------------------------------------------------------------------


def _batch_layout(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    L, N, D = x.shape
    return x.reshape(L, N * num_heads, D // num_heads).transpose(0, 1)  # (N·H, L, E), row n·H + h


def _head_major(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    L, N, D = x.shape
    heads = x.reshape(L, N, num_heads, D // num_heads).permute(2, 1, 0, 3)  # (H, N, L, E)
    return heads.reshape(num_heads * N, L, D // num_heads)  # (H·N, L, E), row h·N + n


def _batch_first(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    N, L, D = x.shape  # the mistake: x read as (N, L, D)
    return split_heads(x, num_heads).reshape(N * num_heads, L, D // num_heads)  # (L·H, N, E) in truth


def _strided(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    L, N, D = x.shape
    heads = x.reshape(L, N, D // num_heads, num_heads).permute(1, 3, 0, 2)  # (N, H, L, E), features h, h+H, …
    return heads.reshape(N * num_heads, L, D // num_heads)


def _layout_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    """Which head of which sequence the first wrong row holds, against the row the module reads there."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    H = case.args[1]
    for row in range(expected.shape[0]):
        if torch.equal(got[row], expected[row]):
            continue
        for other in range(expected.shape[0]):
            if torch.equal(got[row], expected[other]):
                return (
                    f"row {row} holds head {other % H} of sequence {other // H}; nn.MultiheadAttention reads it "
                    f"as head {row % H} of sequence {row // H} (row n·H + h)"
                )
        return f"row {row} is no single head of one sequence"
    return None


_BATCH_LAYOUT = Exercise(
    id="mha_batch_layout",
    chapter=2,
    title="The heads as nn.MultiheadAttention holds them",
    signature="solution(x, num_heads) -> Tensor",
    shapes="x (L, N, D), num_heads H → (N·H, L, E) with E = D / H",
    task="x is sequence-first, (L, N, D), nn.MultiheadAttention's default layout. Return the (N·H, L, E) "
    "tensor in which the module holds the heads for torch.bmm: row n·H + h is head h of sequence n, an "
    "(L, E) matrix, and head h holds features h·E to (h+1)·E − 1 of every position.",
    reference=_batch_layout,
    cases=lambda: seeded_cases(
        ("x", "num_heads"), [((5, 2, 8), 2), ((3, 4, 12), 3), ((4, 3, 8), 4), ((3, 3, 6), 3), ((2, 5, 6), 1)], 21
    ),
    mistakes=(
        Mistake(
            "head_major",
            _head_major,
            "{symptom}. Head-major rows: you numbered them h·N + n, all sequences' head 0 first. The module "
            "merges the sequence and head axes in that order, sequence-major, n·H + h: "
            "x.reshape(L, N·H, E) keeps it, then transpose(0, 1)",
        ),
        Mistake(
            "no_head_transpose",
            lambda x, h: x.transpose(0, 1).reshape(x.shape[1] * h, x.shape[0], x.shape[2] // h),
            "{symptom}. Reshape without the transpose: after transpose(0, 1) each sequence is (L, D), and "
            "reshaping it straight to (H, L, E) cuts across positions, mixing positions into the heads. Split "
            "the features first, (N, L, H, E), then move the head axis in front of the positions",
        ),
        Mistake(
            "reshape_only",
            lambda x, h: x.reshape(x.shape[1] * h, x.shape[0], x.shape[2] // h),
            "{symptom}. A reshape alone keeps the memory order, in which x is sequence-first: one position of "
            "every sequence after another, so each row mixes positions, sequences and heads. Split the features "
            "in place, x.reshape(L, N·H, E), then put the positions second: transpose(0, 1)",
        ),
        Mistake(
            "strided",
            _strided,
            "{symptom}. Head h holds features h, h + H, h + 2H, …: view the features as (H, E), not (E, H), "
            "so that head h holds features h·E to (h+1)·E − 1, as nn.MultiheadAttention splits them",
        ),
        Mistake(
            "batch_first",
            _batch_first,
            "you read x as batch-first, (N, L, D), and your answer has shape (L·H, N, E): "
            "nn.MultiheadAttention's default layout is sequence-first, (L, N, D), and so is x here",
        ),
        Mistake(
            "not_merged",
            lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).permute(1, 2, 0, 3),
            "you returned (N, H, L, E): torch.bmm takes one batch axis, so merge the sequence and head axes "
            "into one of N·H, sequence-major: row n·H + h",
        ),
        Mistake(
            "sequence_first",
            lambda x, h: x.reshape(x.shape[0], x.shape[1] * h, -1),
            "you returned (L, N·H, E), positions first: torch.bmm multiplies the (L, E) matrices stacked along "
            "the first axis, so move the positions behind the heads, transpose(0, 1), to (N·H, L, E)",
        ),
    ),
    symptom=_layout_symptom,
    solution="""def my_mha_batch_layout(x, num_heads):
    L, N, D = x.shape
    E = D // num_heads
    # The D features of a position as H blocks of E; block h of sequence n at n·H + h
    x = x.reshape(L, N * num_heads, E)  # (L, N·H, E)
    return x.transpose(0, 1)  # (N·H, L, E): one (L, E) matrix per row, for torch.bmm""",
    explanation="In (L, N, D) the D features of one position of one sequence lie side by side. Viewing them "
    "as H blocks of E and merging the sequence and head axes in their order numbers the merged axis n·H + h; "
    "moving the positions behind them gives one (L, E) matrix per head of each sequence, which torch.bmm "
    "multiplies as a batch. PyTorch's multi_head_attention_forward writes exactly this: "
    "q.view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1). A per-head attn_mask (chapter 3) is read in "
    "the same row order. From a batch-first x: x.transpose(0, 1) first, or split_heads(x, H).flatten(0, 1).",
)


# ---- grouped_query_attention --------------------------------------------------------------------


def _grouped(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_heads: int,
    num_kv_heads: int,
    tiled: bool = False,
    width: int | None = None,
) -> torch.Tensor:
    """Every query head's output (B, H, L, E): query head h uses key/value head h // (H / H_kv), or
    h % H_kv when ``tiled``; the scores divided by √width (√E by default)."""
    group = num_heads // num_kv_heads
    qh = split_heads(q, num_heads)  # (B, H, L, E)
    kh, vh = split_heads(k, num_kv_heads), split_heads(v, num_kv_heads)  # (B, H_kv, S, E)
    if tiled:
        kh, vh = kh.repeat(1, group, 1, 1), vh.repeat(1, group, 1, 1)  # (B, H, S, E), heads 0 1 0 1
    else:
        kh, vh = kh.repeat_interleave(group, dim=1), vh.repeat_interleave(group, dim=1)  # heads 0 0 1 1
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(width or qh.shape[-1])  # (B, H, L, S)
    return torch.softmax(scores, dim=-1) @ vh  # (B, H, L, E)


def _gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int, num_kv_heads: int) -> torch.Tensor:
    return merge_heads(_grouped(q, k, v, num_heads, num_kv_heads))  # (B, L, D)


def _one_kv_head(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int, num_kv_heads: int) -> torch.Tensor:
    E = q.shape[-1] // num_heads
    return _gqa(q, k[..., :E], v[..., :E], num_heads, 1)  # every query head on key/value head 0


def _gqa_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    """Which key/value head the first wrong query head attended with, when it is another one."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    q, k, v, H, H_kv = case.args
    E, group = q.shape[-1] // H, H // H_kv
    qh, kh, vh = split_heads(q, H), split_heads(k, H_kv), split_heads(v, H_kv)
    for h in range(H):
        columns = slice(h * E, (h + 1) * E)
        if torch.allclose(got[..., columns], expected[..., columns]):
            continue
        for g in range(H_kv):
            z = attention_weights(qh[:, h], kh[:, g]) @ vh[:, g]  # (B, L, E)
            if g != h // group and torch.allclose(got[..., columns], z):
                first = h // group * group
                return (
                    f"query head {h} (columns {h * E} to {(h + 1) * E - 1}) attended with key/value head {g}, "
                    f"but it is in group {h // group}, query heads {first} to {first + group - 1}, which shares "
                    f"key/value head {h // group}"
                )
        return None
    return None


_GQA = Exercise(
    id="grouped_query_attention",
    chapter=2,
    title="Grouped-query attention",
    signature="solution(q, k, v, num_heads, num_kv_heads) -> Tensor",
    shapes="q (B, L, D), k and v (B, S, D_kv) with D_kv = num_kv_heads·E, E = D / num_heads → (B, L, D)",
    task="q, k and v are already projected. Split q into num_heads query heads of width E = D / num_heads, "
    "and k and v each into num_kv_heads heads of the same width E. Consecutive query heads form groups "
    "of num_heads / num_kv_heads, and group g shares key/value head g: query head h attends with key/value "
    "head h // (num_heads / num_kv_heads). Return the heads' outputs concatenated, (B, L, D), head h in "
    "columns h·E to (h+1)·E − 1, with no output projection.",
    reference=_gqa,
    cases=lambda: seeded_cases(
        ("q", "k", "v", "num_heads", "num_kv_heads"),
        [
            ((2, 5, 16), (2, 7, 8), (2, 7, 8), 4, 2),
            ((3, 4, 12), (3, 6, 4), (3, 6, 4), 6, 2),
            ((2, 6, 12), (2, 3, 4), (2, 3, 4), 3, 1),
            ((2, 3, 8), (2, 5, 8), (2, 5, 8), 2, 2),
            ((2, 4, 24), (2, 6, 12), (2, 6, 12), 8, 4),
        ],
        22,
    ),
    mistakes=(
        Mistake(
            "repeat",
            lambda q, k, v, h, h_kv: merge_heads(_grouped(q, k, v, h, h_kv, tiled=True)),
            "{symptom}. repeat tiles the key/value heads, 0, 1, 0, 1, and pairs query head h with key/value "
            "head h % num_kv_heads; repeat_interleave copies each one for the consecutive query heads of its "
            "group, 0, 0, 1, 1: query head h goes with key/value head h // (num_heads / num_kv_heads)",
        ),
        Mistake(
            "one_kv_head",
            _one_kv_head,
            "{symptom}. Every query head used key/value head 0: that is multi-query attention, right only when "
            "num_kv_heads = 1. Here each group of query heads has its own key/value head",
        ),
        Mistake(
            "divide_by_sqrt_D",
            lambda q, k, v, h, h_kv: merge_heads(_grouped(q, k, v, h, h_kv, width=q.shape[-1])),
            "scaled by 1/√D, the queries' full width: each head's dot products run over its own E = D / "
            "num_heads features, so divide by √E",
        ),
        Mistake(
            "divide_by_sqrt_D_kv",
            lambda q, k, v, h, h_kv: merge_heads(_grouped(q, k, v, h, h_kv, width=k.shape[-1])),
            "scaled by 1/√D_kv, the width of all the key/value heads together: a query head and its key/value "
            "head share one width, E = D / num_heads, so divide by √E",
        ),
        Mistake(
            "no_scale",
            lambda q, k, v, h, h_kv: merge_heads(_grouped(q, k, v, h, h_kv, width=1)),
            "off by a factor of √dₖ: divide each head's scores by √E, E = D / num_heads",
        ),
        Mistake(
            "not_merged",
            lambda q, k, v, h, h_kv: _grouped(q, k, v, h, h_kv),
            "you returned the heads, (B, H, L, E): concatenate them back to (B, L, D), transpose(1, 2) then "
            "reshape, head h in columns h·E to (h+1)·E − 1",
        ),
        Mistake(
            "merge_no_transpose",
            lambda q, k, v, h, h_kv: _grouped(q, k, v, h, h_kv).reshape(q.shape),
            "the heads were merged by a reshape without the transpose, which mixes positions into the "
            "features: move the heads behind the positions first, (B, H, L, E) → (B, L, H, E), then flatten",
        ),
    ),
    symptom=_gqa_symptom,
    solution="""def my_grouped_query_attention(q, k, v, num_heads, num_kv_heads):
    B, L, D = q.shape
    S = k.shape[1]
    E = D // num_heads  # one head's width, for queries and keys alike
    group = num_heads // num_kv_heads  # query heads per key/value head
    qh = q.view(B, L, num_heads, E).transpose(1, 2)  # (B, H, L, E)
    kh = k.view(B, S, num_kv_heads, E).transpose(1, 2)  # (B, H_kv, S, E)
    vh = v.view(B, S, num_kv_heads, E).transpose(1, 2)  # (B, H_kv, S, E)
    # Key/value head g serves query heads g·group to (g+1)·group − 1.
    kh = kh.repeat_interleave(group, dim=1)  # (B, H, S, E)
    vh = vh.repeat_interleave(group, dim=1)  # (B, H, S, E)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(E)  # (B, H, L, S): 1/√E
    z = torch.softmax(scores, dim=-1) @ vh  # (B, H, L, E)
    return z.transpose(1, 2).reshape(B, L, D)  # the heads side by side""",
    explanation="Queries split into num_heads heads and keys and values into num_kv_heads heads, all of "
    "width E = D / num_heads. The query heads come in num_kv_heads groups of consecutive heads, and group g "
    "shares key/value head g: repeat_interleave copies each key/value head for its group (repeat would tile "
    "them and pair query head h with key/value head h % num_kv_heads). Each head's dot products run over E "
    "features, so the scale is 1/√E; the heads are then concatenated as always. "
    "F.scaled_dot_product_attention(qh, kh, vh, enable_gqa=True) pairs the heads the same way. With "
    "num_kv_heads = 1 this is multi-query attention, with num_kv_heads = num_heads multi-head attention.",
)

EXERCISES = (_BATCH_LAYOUT, _GQA)
