"""Exercises of chapter 4, residual attention: CLIP's block, QuickGELU, and the (1 + M)·T of the
Residual Attention Network.

The chapter's page no longer lists them, since each retypes a cell it shows; they stay registered, so
that ``check`` and ``reveal`` still know them. The chapter's exercises are in ``ch4_transfer``, which
reuses the block's seeded cases from here.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..mha import MultiHeadAttention
from ..models.clip import QuickGELU
from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]


def _block_cases() -> list[Case]:
    """x and a CLIP block's ln_1, attn, ln_2 and mlp in float64, with LayerNorms that differ from each other."""
    cases = []
    for seed, (L, N) in enumerate(((5, 2), (3, 1), (4, 3))):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ln_1, ln_2 = nn.LayerNorm(8, dtype=torch.float64), nn.LayerNorm(8, dtype=torch.float64)
            for ln in (ln_1, ln_2):
                nn.init.normal_(ln.weight, 1.0, 0.3)
                nn.init.normal_(ln.bias, 0.0, 0.3)
            attn = MultiHeadAttention(8, 2, dtype=torch.float64)
            nn.init.normal_(attn.in_proj_bias, 0.0, 0.3)
            fc, proj = nn.Linear(8, 32, dtype=torch.float64), nn.Linear(32, 8, dtype=torch.float64)
            mlp = nn.Sequential(OrderedDict([("c_fc", fc), ("gelu", QuickGELU()), ("c_proj", proj)]))
            x = torch.randn(L, N, 8, dtype=torch.float64)
        cases.append(Case((x, ln_1, attn, ln_2, mlp), f"x of shape {tuple(x.shape)} (L, N, D)"))
    return cases


def _sa(attn: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return attn(h, h, h, need_weights=False)[0]  # (L, N, D)


def _block(x, ln_1, attn, ln_2, mlp):
    x = x + _sa(attn, ln_1(x))
    return x + mlp(ln_2(x))


def _post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + _sa(attn, x))
    return ln_2(x + mlp(x))


def _added_to_normed(x, ln_1, attn, ln_2, mlp):
    h = ln_1(x)
    x = h + _sa(attn, h)
    h = ln_2(x)
    return h + mlp(h)


_RESIDUAL_BLOCK = Exercise(
    id="residual_block",
    chapter=4,
    title="CLIP's ResidualAttentionBlock, forward",
    signature="solution(x, ln_1, attn, ln_2, mlp) -> Tensor",
    shapes="x (L, N, D) → (L, N, D)",
    task="Compute the block's forward from its parts, as CLIP does. attn works like nn.MultiheadAttention: "
    "call it as attn(h, h, h, need_weights=False)[0].",
    reference=_block,
    cases=_block_cases,
    mistakes=(
        Mistake(
            "post_ln",
            _post_ln,
            "LayerNorm after the add (post-LN, the original Transformer's order): CLIP normalises before "
            "each sublayer, inside the branch, x = x + attn(ln_1(x))",
        ),
        Mistake(
            "no_residual",
            lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(_sa(attn, ln_1(x)))),
            "no residual adds: add each sublayer's output to its input, x = x + attn(ln_1(x)), then "
            "x = x + mlp(ln_2(x))",
        ),
        Mistake(
            "added_to_normed",
            _added_to_normed,
            "you added the sublayer's output to the normalised x: add it to x itself, x + attn(ln_1(x)), so "
            "that the input passes through unchanged",
        ),
        Mistake(
            "mlp_without_add",
            lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(x + _sa(attn, ln_1(x)))),
            "the MLP's output replaced x: add it, x = x + mlp(ln_2(x))",
        ),
        Mistake(
            "parallel",
            lambda x, ln_1, attn, ln_2, mlp: x + _sa(attn, ln_1(x)) + mlp(ln_2(x)),
            "the MLP must read x after the attention's add; you fed it the block's input (a parallel block)",
        ),
        Mistake(
            "norms_swapped",
            lambda x, ln_1, attn, ln_2, mlp: _block(x, ln_2, attn, ln_1, mlp),
            "the LayerNorms are swapped: ln_1 goes before the attention, ln_2 before the MLP",
        ),
        Mistake(
            "attention_unnormalised",
            lambda x, ln_1, attn, ln_2, mlp: _block(x, nn.Identity(), attn, ln_2, mlp),
            "the attention must read ln_1(x), not x",
        ),
    ),
)


def _gelu_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    xs = [torch.linspace(-6, 6, 25, dtype=torch.float64), 3 * torch.randn(3, 4, generator=g, dtype=torch.float64)]
    xs.append(2 * torch.randn(2, 3, 4, generator=g, dtype=torch.float64))
    return [Case((x,), describe_args(("x",), (x,))) for x in xs]


_QUICK_GELU = Exercise(
    id="quick_gelu",
    chapter=4,
    title="QuickGELU",
    signature="solution(x) -> Tensor",
    shapes="x (...) → (...), the same shape",
    task="Return CLIP's QuickGELU, x·σ(1.702·x), elementwise.",
    reference=QuickGELU(),
    cases=_gelu_cases,
    mistakes=(
        Mistake("exact_gelu", F.gelu, "that is the exact GELU, x·Φ(x); QuickGELU approximates it by x·σ(1.702·x)"),
        Mistake(
            "tanh_gelu",
            lambda x: F.gelu(x, approximate="tanh"),
            "that is GELU's tanh approximation; QuickGELU is x·σ(1.702·x)",
        ),
        Mistake("silu", F.silu, "x·σ(x) is SiLU (swish): QuickGELU multiplies the sigmoid's input by 1.702"),
        Mistake("gate_only", lambda x: torch.sigmoid(1.702 * x), "you returned the gate σ(1.702·x): multiply it by x"),
    ),
)


def _ran_cases() -> list[Case]:
    cases = []
    for seed, shape in enumerate(((2, 4, 6, 6), (1, 4, 5, 3), (3, 4, 2, 2))):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            trunk = nn.Conv2d(4, 4, 3, padding=1, dtype=torch.float64)
            soft_mask = nn.Sequential(nn.Conv2d(4, 4, 1, dtype=torch.float64), nn.Sigmoid())
            x = torch.randn(*shape, dtype=torch.float64)
        cases.append(Case((x, trunk, soft_mask), f"x of shape {shape} (N, C, h, w)"))
    return cases


_RESIDUAL_ATTENTION = Exercise(
    id="residual_attention",
    chapter=4,
    title="The Residual Attention Network's (1 + M)·T",
    signature="solution(x, trunk, soft_mask) -> Tensor",
    shapes="x (N, C, h, w) → (N, C, h, w); trunk(x) and soft_mask(x) have x's shape, the mask in [0, 1]",
    task="Return the module's fused output: the trunk's features T = trunk(x), weighted by the soft mask "
    "M = soft_mask(x), with the residual fusion of the Residual Attention Network.",
    reference=lambda x, trunk, soft_mask: (1 + soft_mask(x)) * trunk(x),
    cases=_ran_cases,
    mistakes=(
        Mistake(
            "naive",
            lambda x, trunk, soft_mask: soft_mask(x) * trunk(x),
            "M·T is the naive weighting, without the residual fusion: add the trunk back, (1 + M)·T",
        ),
        Mistake(
            "input_residual",
            lambda x, trunk, soft_mask: x + soft_mask(x) * trunk(x),
            "you added the input x: the Residual Attention Network adds the trunk's features, (1 + M)·T = T + M·T",
        ),
        Mistake(
            "weighted_input",
            lambda x, trunk, soft_mask: (1 + soft_mask(x)) * x,
            "you weighted the input x: the mask weights the trunk's features, (1 + M)·T",
        ),
        Mistake(
            "added_mask",
            lambda x, trunk, soft_mask: trunk(x) + soft_mask(x),
            "T + M adds the mask: it must weight the features, T + M·T",
        ),
        Mistake(
            "mask_of_trunk",
            lambda x, trunk, soft_mask: (1 + soft_mask(trunk(x))) * trunk(x),
            "the mask branch looks at the module's input x, not at the trunk's output: M = soft_mask(x)",
        ),
    ),
)

EXERCISES = (_RESIDUAL_BLOCK, _QUICK_GELU, _RESIDUAL_ATTENTION)
