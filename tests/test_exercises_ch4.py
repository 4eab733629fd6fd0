"""Chapter 4's transfer exercises (``ch4_transfer``): post_ln_block, which_tokens_move, patches_to_images.

Each reference is checked against the computation it stands for: the post-LN block against PyTorch's own
``nn.TransformerEncoderLayer``, the prediction's rule against CLIP's block (with and without its attention,
with the text mask, as class attention) run on a changed token, and the images against ``conv1``'s patch
order. Right answers written another way pass; wrong ones written as a reader writes them are named; a stub
is neutral and a crash is explained. (Every registered mistake's pinned message is in test_exercises.py.)
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnlab
from attnlab import exercises as ex
from attnlab.models.clip import ResidualAttentionBlock, VisionTransformer

# ---- post_ln_block ------------------------------------------------------------------------------


def _encoder_layer(norm_first: bool) -> tuple[nn.TransformerEncoderLayer, tuple]:
    """PyTorch's Transformer encoder layer (no dropout, float64), and its parts as the exercise passes them."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, norm_first=norm_first, dtype=torch.float64).eval()
    for ln in (layer.norm1, layer.norm2):  # LayerNorms that differ from each other and from the identity
        nn.init.normal_(ln.weight, 1.0, 0.3)
        nn.init.normal_(ln.bias, 0.0, 0.3)
    mlp = nn.Sequential(layer.linear1, nn.ReLU(), layer.linear2)
    return layer, (layer.norm1, layer.self_attn, layer.norm2, mlp)


@pytest.mark.parametrize("norm_first", [False, True])
def test_the_post_ln_reference_is_pytorchs_post_ln_layer_and_pre_ln_is_the_page_s_block(norm_first):
    """norm_first=False is the original Transformer's order, the exercise's answer; norm_first=True is
    pre-LN, CLIP's block on the page, which the checker names as a mistake."""
    layer, parts = _encoder_layer(norm_first)
    x = torch.randn(5, 3, 8, dtype=torch.float64)  # (L, N, D): batch_first=False
    exercise = ex.get("post_ln_block")
    pre_ln = next(m for m in exercise.mistakes if m.name == "pre_ln").solution
    with torch.no_grad():
        expected = layer(x)
        torch.testing.assert_close((pre_ln if norm_first else exercise.reference)(x, *parts), expected)
        assert not torch.allclose((exercise.reference if norm_first else pre_ln)(x, *parts), expected)


def test_post_ln_leaves_every_token_normalised_and_pre_ln_does_not():
    case = ex.get("post_ln_block").cases()[0]
    x, _, attn, _, mlp = case.args
    identity = nn.LayerNorm(8, elementwise_affine=False, dtype=torch.float64)
    with torch.no_grad():
        out = ex.get("post_ln_block").reference(x, identity, attn, identity, mlp)
        torch.testing.assert_close(out.mean(-1), torch.zeros(out.shape[:-1], dtype=torch.float64))
        pre = ex.get("residual_block").reference(x, identity, attn, identity, mlp)
        assert pre.mean(-1).abs().max() > 0.05


@pytest.mark.parametrize(
    "solution",
    [
        lambda x, ln_1, attn, ln_2, mlp: ln_2(
            (h := ln_1(x + attn(x, x, x)[0])) + mlp(h)  # need_weights left at True: [0] is the output
        ),
        lambda x, ln_1, attn, ln_2, mlp: ln_2(
            ln_1(x + attn(x, x, x, need_weights=False)[0]) + mlp(ln_1(x + attn(x, x, x, need_weights=False)[0]))
        ),
    ],
    ids=["walrus", "recomputed"],
)
def test_post_ln_answers_written_another_way_pass(solution):
    result = ex.check("post_ln_block", solution)
    assert result.passed, result.message


def _normed_input(x, ln_1, attn, ln_2, mlp):
    h = ln_1(x)
    x = h + attn(h, h, h)[0]
    h = ln_2(x)
    return h + mlp(h)


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (
            lambda x, ln_1, attn, ln_2, mlp: (
                (h := x + attn(ln_1(x), ln_1(x), ln_1(x), need_weights=False)[0]) + mlp(ln_2(h))
            ),
            "that is the page's pre-LN block",
        ),
        (
            lambda x, ln_1, attn, ln_2, mlp: ln_2((h := ln_1(attn(x, x, x)[0])) + mlp(h)),
            "the attention's residual add is missing",
        ),
        (
            lambda x, ln_1, attn, ln_2, mlp: ln_2(mlp(ln_1(x + attn(x, x, x)[0]))),
            "the MLP's residual add is missing",
        ),
        (
            lambda x, ln_1, attn, ln_2, mlp: (h := x + ln_1(attn(x, x, x)[0])) + ln_2(mlp(h)),
            "res-post-norm",
        ),
        (_normed_input, "you applied each LayerNorm before the add"),
        (
            lambda x, ln_1, attn, ln_2, mlp: ln_1((h := ln_2(x + attn(x, x, x)[0])) + mlp(h)),
            "the LayerNorms are swapped",
        ),
    ],
    ids=["pre_ln", "no_attention_add", "no_mlp_add", "normed_branch", "normed_input", "norms_swapped"],
)
def test_post_ln_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = ex.check("post_ln_block", solution)
    assert not result.passed and phrase in result.message, result.message


def test_post_ln_forgetting_the_tuple_is_explained():
    result = ex.check("post_ln_block", lambda x, ln_1, attn, ln_2, mlp: ln_1(x + attn(x, x, x)))
    assert "raised TypeError" in result.message and "take [0]" in result.message


# ---- which_tokens_move --------------------------------------------------------------------------


def _moved_tokens(L: int, j: int, block: str, seed: int = 0) -> set[int]:
    """The output tokens that change when token j's input changes, measured on CLIP's block (random
    weights, float64, two sequences)."""
    torch.manual_seed(seed)
    d = 16
    mask = attnlab.bool_to_additive(attnlab.causal_mask(L)) if block == "causal" else None
    b = ResidualAttentionBlock(d, 2, mask).double().eval()

    def run(x: torch.Tensor) -> torch.Tensor:  # (L, N, d)
        if block == "no_attention":
            return x + b.mlp(b.ln_2(x))
        if block == "class_attention":  # CaiT: the class token alone is a query
            h = b.ln_1(x)
            cls = x[:1] + b.attn(h[:1], h, h, need_weights=False)[0]
            return torch.cat([cls + b.mlp(b.ln_2(cls)), x[1:]])
        return b(x)

    x = torch.randn(L, 2, d, dtype=torch.float64)
    y = x.clone()
    # Not a shift of every feature: LayerNorm would remove it from what the sublayers read.
    y[j, 1] += torch.randn(d, dtype=torch.float64)
    with torch.no_grad():
        moved = (run(y) - run(x)).abs().amax(dim=-1) > 1e-9  # (L, N)
    assert not moved[:, 0].any()  # the other sequence never moves
    return {i for i in range(L) if moved[i, 1]}


@pytest.mark.parametrize("block", ["clip", "no_attention", "causal", "class_attention"])
def test_the_rule_of_which_tokens_move_is_what_the_blocks_do(block):
    rule = ex.get("which_tokens_move").reference
    for L, j, seed in ((5, 2, 0), (7, 0, 1), (4, 3, 2), (2, 1, 3), (6, 5, 4)):
        assert rule(L, j, block) == _moved_tokens(L, j, block, seed), (L, j, block)
    for case in ex.get("which_tokens_move").cases():
        assert rule(*case.args) == _moved_tokens(*case.args), case.label


def test_which_tokens_move_accepts_any_collection_of_ints_and_names_what_is_off():
    rule = ex.get("which_tokens_move").reference
    assert ex.check("which_tokens_move", lambda *a: sorted(rule(*a))).passed  # a list
    assert ex.check("which_tokens_move", lambda *a: torch.tensor(sorted(rule(*a)))).passed
    result = ex.check("which_tokens_move", lambda L, j, block: {j, L})
    assert result.message.startswith("missing tokens 0, 1, 3, 4 and 5; token 6 should not be there on L=6, j=2")


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (lambda L, j, block: {j}, "attention carries it to all the others"),
        (lambda L, j, block: set(range(L)), "Without attention nothing carries a change"),
        (
            lambda L, j, block: {j} if block == "no_attention" else set(range(L)),
            "The text mask hides token j from every token before it",
        ),
        (
            lambda L, j, block: (
                {j} if block == "no_attention" else set(range(j + 1)) if block == "causal" else set(range(L))
            ),
            "a change at token j is read by j itself and by the tokens after it",
        ),
        (
            lambda L, j, block: (
                {j} if block == "no_attention" else set(range(j, L)) if block == "causal" else set(range(L))
            ),
            "only the class token is a query",
        ),
    ],
    ids=["own_only", "everything", "mask_ignored", "causal_backwards", "class_attention_mixes"],
)
def test_which_tokens_move_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = ex.check("which_tokens_move", solution)
    assert not result.passed and phrase in result.message, result.message


# ---- patches_to_images --------------------------------------------------------------------------


def test_the_reference_undoes_conv1s_patch_order_on_rectangular_images():
    """Tokens cut in conv1's order (one matrix per flattened patch gives conv1's output, row-major) come
    back as the images they were cut from."""
    reference = ex.get("patches_to_images").reference
    g = torch.Generator().manual_seed(0)
    p, images = 4, torch.randn(2, 3, 12, 20, generator=g, dtype=torch.float64)
    conv1 = nn.Conv2d(3, 5, p, stride=p, bias=False, dtype=torch.float64)
    for case in ex.get("patches_to_images").cases():  # every case's tokens are in that order too
        tokens, p_case, H, W = case.args
        images_case = reference(tokens, p_case, H, W)
        C = images_case.shape[1]
        conv = nn.Conv2d(C, 5, p_case, stride=p_case, bias=False, dtype=torch.float64)
        with torch.no_grad():
            by_conv = conv(images_case).flatten(2).transpose(1, 2)  # (N, P, 5)
            torch.testing.assert_close(tokens @ conv.weight.flatten(1).T, by_conv)
    tokens = F.unfold(images, p, stride=p).transpose(1, 2)  # (N, P, C·p·p), a second cutter
    with torch.no_grad():
        torch.testing.assert_close(tokens @ conv1.weight.flatten(1).T, conv1(images).flatten(2).transpose(1, 2))
    torch.testing.assert_close(reference(tokens, p, 12, 20), images)


def test_the_pages_photograph_recipe_gives_tokens_the_reference_puts_back():
    """The chapter cuts one square image with unfold and a permute; the answer puts its tokens back."""
    photo = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))
    p, grid = 8, 3
    tokens = photo.unfold(1, p, p).unfold(2, p, p).permute(1, 2, 0, 3, 4).reshape(grid * grid, 3 * p * p)
    torch.testing.assert_close(ex.get("patches_to_images").reference(tokens[None], p, 24, 24), photo[None])
    vit = VisionTransformer(input_resolution=24, patch_size=p, width=4, layers=1, heads=2, output_dim=2)
    with torch.no_grad():
        torch.testing.assert_close(vit.conv1(photo[None]).flatten(2)[0].T, tokens @ vit.conv1.weight.flatten(1).T)


@pytest.mark.parametrize(
    "solution",
    [
        lambda t, p, H, W: F.fold(t.transpose(1, 2), (H, W), p, stride=p),
        lambda t, p, H, W: (
            t.unflatten(1, (H // p, W // p)).unflatten(-1, (-1, p, p)).permute(0, 3, 1, 4, 2, 5).reshape(-1, 1, H, W)
        ).view(t.shape[0], -1, H, W),
    ],
    ids=["fold", "unflatten"],
)
def test_patches_answers_written_another_way_pass(solution):
    result = ex.check("patches_to_images", solution)
    assert result.passed, result.message


def _square_grid(t, p, H, W):
    N, P, _ = t.shape
    side = int(P**0.5)
    return t.reshape(N, side, side, -1, p, p).permute(0, 3, 1, 4, 2, 5).reshape(N, -1, H, W)


@pytest.mark.parametrize(
    ("solution", "phrase"),
    [
        (
            lambda t, p, H, W: F.fold(t.transpose(1, 2), (W, H), p, stride=p).transpose(-2, -1),
            "holds token 0's numbers, in the wrong places",
        ),
        (
            lambda t, p, H, W: (
                t.unflatten(-1, (p, p, -1))
                .unflatten(1, (H // p, W // p))
                .permute(0, 5, 1, 3, 2, 4)
                .reshape(t.shape[0], -1, H, W)
            ),
            "channels last",
        ),
        (lambda t, p, H, W: t.view(t.shape[0], -1, H, W), "A reshape without the permute"),
        (lambda t, p, H, W: t.transpose(1, 2).reshape(t.shape[0], -1, H, W), "does not hold token 0's numbers"),
    ],
    ids=["fold_transposed", "channels_last", "view", "transposed_then_reshaped"],
)
def test_patches_mistakes_written_by_a_reader_are_named(solution, phrase):
    result = ex.check("patches_to_images", solution)
    assert not result.passed and phrase in result.message, result.message


def test_a_square_grid_on_rectangular_images_crashes_and_is_explained():
    result = ex.check("patches_to_images", _square_grid)
    assert not result.passed and result.message.startswith("your function raised RuntimeError on tokens of shape")
    assert "invalid for input of size" in result.message
