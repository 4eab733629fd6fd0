"""Chapter 4's transfer exercises: a block, a reach and a layout that the chapter's page does not show.

Nothing on the chapter's page answers them by copying: the original Transformer's post-LN block built
from the parts of CLIP's pre-LN one, which tokens' outputs a change to one token reaches through a block
with or without its attention, with CLIP's text mask or with CaiT's class attention, and a batch of patch
tokens folded back into rectangular images (the page only cuts one square photograph into tokens). Each
carries its worked solution and why it is right, for :func:`attnlab.exercises.reveal`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._core import Case, Exercise, Mistake, describe_args
from .ch4_residual import _block, _block_cases, _sa

__all__ = ["EXERCISES"]


# ---- post_ln_block ------------------------------------------------------------------------------


def _post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + _sa(attn, x))  # (L, N, D): the add, then the LayerNorm
    return ln_2(x + mlp(x))


_POST_LN = Exercise(
    id="post_ln_block",
    chapter=4,
    title="The original Transformer's post-LN block, from CLIP's parts",
    signature="solution(x, ln_1, attn, ln_2, mlp) -> Tensor",
    shapes="x (L, N, D) → (L, N, D)",
    task="CLIP's block, on this page, is pre-LN. The original Transformer's block is post-LN, built from the "
    "same parts: each sublayer reads the residual stream as it is, its output is added to the stream, and "
    "the sum is normalised, by ln_1 after the attention's add and by ln_2 after the MLP's. Return that "
    "block's output. attn works like nn.MultiheadAttention: attn(h, h, h, need_weights=False)[0].",
    reference=_post_ln,
    cases=_block_cases,
    mistakes=(
        Mistake(
            "pre_ln",
            _block,
            "that is the page's pre-LN block, CLIP's: its LayerNorms sit inside the branches, before each "
            "sublayer. Post-LN normalises after each add, on the stream itself: x = ln_1(x + attn(x)), "
            "then x = ln_2(x + mlp(x)), and the sublayers read x unnormalised",
        ),
        Mistake(
            "no_attention_add",
            lambda x, ln_1, attn, ln_2, mlp: (lambda y: ln_2(y + mlp(y)))(ln_1(_sa(attn, x))),
            "the attention's residual add is missing: normalise the sum x + attn(x), not the attention's output alone",
        ),
        Mistake(
            "no_mlp_add",
            lambda x, ln_1, attn, ln_2, mlp: ln_2(mlp(ln_1(x + _sa(attn, x)))),
            "the MLP's residual add is missing: the second LayerNorm normalises the sum x + mlp(x), not the "
            "MLP's output alone",
        ),
        Mistake(
            "normed_branch",
            lambda x, ln_1, attn, ln_2, mlp: (lambda y: y + ln_2(mlp(y)))(x + ln_1(_sa(attn, x))),
            "you normalised each sublayer's output and then added it, x + ln_1(attn(x)) (Swin V2's "
            "res-post-norm): the stream itself is then never normalised. Post-LN normalises the sum, "
            "ln_1(x + attn(x))",
        ),
        Mistake(
            "normed_input",
            lambda x, ln_1, attn, ln_2, mlp: (lambda y: ln_2(y) + mlp(ln_2(y)))(ln_1(x) + _sa(attn, ln_1(x))),
            "you applied each LayerNorm before the add, to x, and added the sublayer's output to the "
            "normalised x: post-LN adds first, then normalises the sum, ln_1(x + attn(x))",
        ),
        Mistake(
            "normalised_both_sides",
            lambda x, ln_1, attn, ln_2, mlp: (lambda y: ln_2(y + mlp(ln_2(y))))(ln_1(x + _sa(attn, ln_1(x)))),
            "the LayerNorms are right after the adds, but the sublayers also read a normalised copy, as in "
            "pre-LN: in post-LN the attention reads x itself, and the MLP the output of ln_1",
        ),
        Mistake(
            "norms_swapped",
            lambda x, ln_1, attn, ln_2, mlp: _post_ln(x, ln_2, attn, ln_1, mlp),
            "the LayerNorms are swapped: ln_1 normalises after the attention's add, ln_2 after the MLP's",
        ),
    ),
    solution="""def my_post_ln_block(x, ln_1, attn, ln_2, mlp):
    # the sublayers read the stream itself; the LayerNorms come after the adds
    x = ln_1(x + attn(x, x, x, need_weights=False)[0])  # (L, N, D)
    return ln_2(x + mlp(x))  # (L, N, D)""",
    explanation="Post-LN puts each LayerNorm on the residual stream, after the add: the attention reads x, "
    "its output is added to x, and ln_1 normalises the sum; the MLP reads that, is added to it, and ln_2 "
    "normalises again. So every token leaves each sublayer normalised, and no path from input to output "
    "skips a LayerNorm. Pre-LN (CLIP, on this page) moves the LayerNorm inside each branch, which leaves "
    "the path through the adds free of any normalisation; that is what lets it train without the "
    "learning-rate warm-up post-LN needs.",
)


# ---- which_tokens_move --------------------------------------------------------------------------

_BLOCKS = ("clip", "no_attention", "causal", "class_attention")


def _tokens_that_move(L: int, j: int, block: str) -> set[int]:
    if block == "no_attention":
        return {j}  # LayerNorm, the MLP and the add each work on one token at a time
    if block == "causal":
        return set(range(j, L))  # token i reads tokens 0 … i: j reaches itself and the later tokens
    if block == "class_attention":
        return {0, j}  # only the class token is updated; token j passes through, changed
    return set(range(L))  # every token reads key j and value j, with a weight above 0


def _wrong(block: str, answer: Callable[[int, int], set[int]]) -> Callable[[int, int, str], set[int]]:
    """The rule, with the answer for one kind of block replaced by ``answer(L, j)``."""

    def rule(L: int, j: int, kind: str) -> set[int]:
        return answer(L, j) if kind == block else _tokens_that_move(L, j, kind)

    return rule


_MOVE_CASES = (
    (6, 2, "clip"),
    (6, 2, "no_attention"),
    (7, 3, "causal"),
    (5, 2, "class_attention"),
    (4, 3, "causal"),
    (5, 0, "class_attention"),
    (5, 0, "no_attention"),
    (3, 1, "clip"),
)

_WHICH_TOKENS = Exercise(
    id="which_tokens_move",
    chapter=4,
    title="Predict which tokens a change reaches through one block",
    signature="solution(L, j, block) -> set",
    shapes="L ≥ 2 tokens, j a token index, block a word → a set of output tokens (integers 0 … L − 1)",
    task="One block of this chapter runs on a sequence of L tokens (any weights, nothing special), and token "
    "j's input changes; every other input stays as it was. Which output tokens change, by any amount however "
    "small? block='clip' is CLIP's ResidualAttentionBlock, with no mask; 'no_attention' is that block with "
    "its attention sublayer removed, x + mlp(ln_2(x)); 'causal' is CLIP's block with its text mask, the "
    "causal one; 'class_attention' is CaiT's class-attention block: only token 0, the class token, is a "
    "query (it attends to all L tokens, then goes through the MLP, each added back), and the other tokens "
    "pass through unchanged. Return a set.",
    reference=_tokens_that_move,
    cases=lambda: [Case(a, describe_args(("L", "j", "block"), a)) for a in _MOVE_CASES],
    mistakes=(
        Mistake(
            "own_token_only",
            _wrong("clip", lambda L, j: {j}),
            "{symptom}. The residual add carries token j's change to its own output, but attention carries it "
            "to all the others: every token's query reads key j and value j, with a softmax weight above 0 "
            "however small, so every output moves",
        ),
        Mistake(
            "mlp_mixes",
            _wrong("no_attention", lambda L, j: set(range(L))),
            "{symptom}. Without attention nothing carries a change from one token to another: LayerNorm "
            "normalises each token over its own features, the MLP works on each token alone, and the add "
            "adds token j to itself",
        ),
        Mistake(
            "causal_backwards",
            _wrong("causal", lambda L, j: set(range(j + 1))),
            "{symptom}. The causal mask lets token i read tokens 0 … i: a change at token j is read by j "
            "itself and by the tokens after it, never by those before",
        ),
        Mistake(
            "causal_ignored",
            _wrong("causal", lambda L, j: set(range(L))),
            "{symptom}. The text mask hides token j from every token before it: their queries never read "
            "key j or value j, so their outputs cannot move",
        ),
        Mistake(
            "class_attention_mixes",
            _wrong("class_attention", lambda L, j: set(range(L))),
            "{symptom}. In class attention only the class token is a query: the other tokens are not "
            "updated at all, so a token other than j and 0 comes out exactly as it came in",
        ),
        Mistake(
            "class_attention_forgets_j",
            _wrong("class_attention", lambda L, j: {0}),
            "{symptom}. Token j passes through unchanged, and unchanged means it carries its own change to the output",
        ),
        Mistake(
            "class_attention_blind",
            _wrong("class_attention", lambda L, j: {j}),
            "{symptom}. The class token's query attends to every token, token j included: its key and value "
            "change, so the class token's output moves",
        ),
    ),
    output="set",
    element="token",
    solution="""def my_which_tokens_move(L, j, block):
    if block == "no_attention":
        return {j}  # LayerNorm, the MLP and the add: each token by itself
    if block == "causal":
        return set(range(j, L))  # token i reads tokens 0 … i
    if block == "class_attention":
        return {0, j}  # the class token reads token j; token j passes through
    return set(range(L))  # "clip": every query reads key j and value j""",
    explanation="Attention is the only part of a block that moves information between tokens: LayerNorm, "
    "the MLP and the residual add each work on one token at a time, so without attention a change stays "
    "on its own token, and the add always keeps it there. With attention, an output moves exactly when its "
    "query can read token j's key and value, since a softmax weight is never exactly 0: every token "
    "without a mask, tokens j and after with the causal mask, and in class attention the class token "
    "alone (plus token j itself, which passes through).",
)


# ---- patches_to_images --------------------------------------------------------------------------


def _to_images(tokens: torch.Tensor, p: int, H: int, W: int) -> torch.Tensor:
    N, _, D = tokens.shape
    C = D // (p * p)
    grid = tokens.reshape(N, H // p, W // p, C, p, p)  # token r·(W/p) + c is the patch at row r, column c
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(N, C, H, W)  # (N, C, H/p, p, W/p, p) → (N, C, H, W)


def _patch_cases() -> list[Case]:
    g = torch.Generator().manual_seed(4)
    cases = []
    for N, C, H, W, p in ((2, 3, 8, 12, 4), (1, 2, 6, 4, 2), (3, 1, 10, 15, 5), (2, 3, 4, 6, 2)):
        images = torch.randn(N, C, H, W, generator=g, dtype=torch.float64)
        tokens = images.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(N, -1, C * p * p)
        args = (tokens, p, H, W)
        cases.append(Case(args, describe_args(("tokens", "p", "H", "W"), args) + f" (C={C})"))
    return cases


def _grid(tokens: torch.Tensor, p: int, H: int, W: int) -> torch.Tensor:
    N, _, D = tokens.shape
    return tokens.reshape(N, H // p, W // p, D // (p * p), p, p)


def _patch_symptom(got: torch.Tensor, expected: torch.Tensor, case: Case) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.dtype != expected.dtype:
        return None
    tokens, p, H, W = case.args
    N, C = expected.shape[:2]
    cols = W // p
    # (N, H/p, W/p, C, p, p): the square at patch row r, column c of each image
    mine, want = (t.reshape(N, C, H // p, p, cols, p).permute(0, 2, 4, 1, 3, 5) for t in (got, expected))
    for n in range(mine.shape[0]):
        for r in range(H // p):
            for c in range(cols):
                if torch.allclose(mine[n, r, c], want[n, r, c]):
                    continue
                where = f"the {p} × {p} square at patch row {r}, column {c} of image {n}"
                flat = mine[n, r, c].flatten()
                for t in range(tokens.shape[1]):
                    if torch.allclose(flat, tokens[n, t]):
                        return f"{where} holds token {t}; it is token {r * cols + c}"
                if torch.allclose(flat.sort().values, tokens[n, r * cols + c].sort().values):
                    return f"{where} holds token {r * cols + c}'s numbers, in the wrong places"
                return f"{where} does not hold token {r * cols + c}'s numbers"
    return None


_PATCHES = Exercise(
    id="patches_to_images",
    chapter=4,
    title="Patch tokens back into images",
    signature="solution(tokens, p, H, W) -> Tensor",
    shapes="tokens (N, P, C·p·p), P = (H/p)·(W/p); p, H, W ints, H and W multiples of p → (N, C, H, W)",
    task="A Vision Transformer cuts images of H × W pixels (not always square) into p × p patches, in the "
    "order of this chapter's conv1 (and of the photograph's tokens): patch rows top to bottom, left to "
    "right within a row, each patch flattened as its conv1 weight is, (C, p, p). A masked autoencoder "
    "predicts such tokens and must show them as pictures. Given a batch of tokens, return the images they "
    "were cut from.",
    reference=_to_images,
    cases=_patch_cases,
    mistakes=(
        Mistake(
            "column_major",
            lambda t, p, H, W: (
                t.reshape(t.shape[0], W // p, H // p, -1, p, p).permute(0, 3, 2, 4, 1, 5).reshape(t.shape[0], -1, H, W)
            ),
            "{symptom}. You laid the patches out column by column: conv1's flatten(2) numbers them row by row, "
            "token r·(W/p) + c for patch row r, column c",
        ),
        Mistake(
            "channels_last",
            lambda t, p, H, W: (
                t.reshape(t.shape[0], H // p, W // p, p, p, -1).permute(0, 5, 1, 3, 2, 4).reshape(t.shape[0], -1, H, W)
            ),
            "{symptom}. You read each token as (p, p, C), channels last, as MAE's patchify writes it: "
            "conv1's weight flattens as (C, p, p), so a token holds channel 0's p·p pixels first",
        ),
        Mistake(
            "no_permute",
            lambda t, p, H, W: t.reshape(t.shape[0], -1, H, W),
            "{symptom}. A reshape without the permute: it lays each token's C·p·p numbers out as consecutive "
            "pixels of image rows, not as a p × p square. Split a token into (C, p, p) and the token axis into "
            "the (H/p, W/p) grid, then permute to (N, C, H/p, p, W/p, p) before the final reshape",
        ),
        Mistake(
            "grid_swapped",
            lambda t, p, H, W: (
                t.reshape(t.shape[0], W // p, H // p, -1, p, p).permute(0, 3, 1, 4, 2, 5).reshape(t.shape[0], -1, H, W)
            ),
            "{symptom}. Your grid has W/p rows of H/p patches: an image H pixels tall and W wide has H/p rows "
            "of patches, each of W/p, so the token axis splits as (H/p, W/p)",
        ),
        Mistake(
            "patch_transposed",
            lambda t, p, H, W: _grid(t, p, H, W).permute(0, 3, 1, 5, 2, 4).reshape(t.shape[0], -1, H, W),
            "{symptom}. Each patch is transposed: a token holds its pixels row by row, (C, p rows, p "
            "columns), and your permute put its columns where its rows go",
        ),
        Mistake(
            "strided",
            lambda t, p, H, W: _grid(t, p, H, W).permute(0, 3, 4, 1, 5, 2).reshape(t.shape[0], -1, H, W),
            "{symptom}. Your pixels are interleaved: the permute put each patch's pixel index outside the "
            "grid's, (N, C, p, H/p, p, W/p), so a patch lands on every (H/p)-th pixel. A patch is p × p "
            "neighbouring pixels: (N, C, H/p, p, W/p, p), the grid row before the row inside the patch",
        ),
    ),
    symptom=_patch_symptom,
    solution="""def my_patches_to_images(tokens, p, H, W):
    N, P, D = tokens.shape
    C = D // (p * p)
    # token r·(W/p) + c is the patch at row r, column c; inside it, (C, p, p)
    grid = tokens.reshape(N, H // p, W // p, C, p, p)
    # (N, C, H/p, p, W/p, p): a pixel's row is r·p + i, its column c·p + j
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(N, C, H, W)""",
    explanation="Undo the cut in two steps. The reshapes only name what is there: the token axis is the "
    "(H/p, W/p) grid, row-major, and each token is (C, p, p), the way conv1's weight flattens. Then the "
    "permute puts each pixel where it belongs: its row in the image is r·p + i (patch row r, row i inside "
    "the patch), so the axes H/p and p must sit side by side, in that order, and likewise W/p and p; the "
    "channels go in front. Only then does a reshape to (N, C, H, W) merge them. With H ≠ W, W/p patches "
    "make a row: the grid is (H/p, W/p), not the square root of P.",
)

EXERCISES = (_POST_LN, _WHICH_TOKENS, _PATCHES)
