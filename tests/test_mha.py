"""attnlab.MultiHeadAttention against torch.nn.MultiheadAttention, with the same weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnlab import IMPLS, AttnLabError, MultiHeadAttention, attention_weights, project_heads

from .conftest import ATOL, randn, random_bool

D, H, N, L, S = 16, 4, 3, 5, 7

OPTIONS = {
    "default": {},
    "no-bias": {"bias": False},
    "cross-kdim-vdim": {"kdim": 6, "vdim": 10},
    "bias-kv": {"add_bias_kv": True},
    "zero-attn": {"add_zero_attn": True},
    "bias-kv-zero-attn-cross": {"add_bias_kv": True, "add_zero_attn": True, "kdim": 6},
}
LAYOUTS = ["seq-first", "batch-first", "unbatched"]


def pair(options, layout, dtype, device, seed=0, **ours):
    """torch's module with random weights, and ours loaded from its state_dict."""
    torch.manual_seed(seed)
    kwargs = dict(options, batch_first=layout == "batch-first", dtype=dtype, device=device)
    theirs = nn.MultiheadAttention(D, H, **kwargs)
    with torch.no_grad():  # biases start at zero in both: make them count
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    mine = MultiHeadAttention(D, H, **kwargs, **ours)
    mine.load_state_dict(theirs.state_dict())
    return theirs, mine


def inputs(options, layout, dtype, device):
    kdim, vdim = options.get("kdim", D), options.get("vdim", D)
    shapes = {
        "seq-first": lambda n, d: (n, N, d),
        "batch-first": lambda n, d: (N, n, d),
        "unbatched": lambda n, d: (n, d),
    }
    shape = shapes[layout]
    return (
        randn(*shape(L, D), seed=1, dtype=dtype, device=device),
        randn(*shape(S, kdim), seed=2, dtype=dtype, device=device),
        randn(*shape(S, vdim), seed=3, dtype=dtype, device=device),
    )


def every_row_sees_a_key(mask_allowed):
    mask_allowed[..., 0] = True
    return mask_allowed


def mask_cases(layout, dtype, device):
    """Masks in nn.MultiheadAttention's convention (bool True = may NOT attend), no query left blind."""
    batch = () if layout == "unbatched" else (N,)
    blocked = ~every_row_sees_a_key(random_bool(L, S, seed=4, device=device))
    per_head = ~every_row_sees_a_key(random_bool((N if batch else 1) * H, L, S, seed=5, device=device))
    ignore = ~every_row_sees_a_key(random_bool(*batch, S, seed=6, p=0.7, device=device))
    additive = randn(L, S, seed=7, dtype=dtype, device=device)
    return {
        "none": {},
        "attn-bool": {"attn_mask": blocked},
        "attn-float": {"attn_mask": additive},
        "attn-bool-per-head": {"attn_mask": per_head},
        "padding-bool": {"key_padding_mask": ignore},
        "padding-float": {
            "key_padding_mask": torch.zeros(ignore.shape, dtype=dtype, device=device).masked_fill(ignore, -1e4)
        },
        "both-bool": {"attn_mask": blocked, "key_padding_mask": ignore},
        "mixed": {"attn_mask": additive, "key_padding_mask": ignore},
    }


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask:UserWarning")  # torch's
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("option", OPTIONS)
def test_outputs_and_weights_equal_torch(option, layout, impl, dtype, device):
    theirs, mine = pair(OPTIONS[option], layout, dtype, device, impl=impl)
    q, k, v = inputs(OPTIONS[option], layout, dtype, device)
    for name, masks in mask_cases(layout, dtype, device).items():
        for average in (True, False):
            want = theirs(q, k, v, average_attn_weights=average, **masks)
            got = mine(q, k, v, average_attn_weights=average, **masks)
            for g, w in zip(got, want, strict=True):
                assert g.shape == w.shape, (name, average)
                torch.testing.assert_close(g, w, atol=ATOL[dtype], rtol=0, msg=lambda m, n=name: f"{n}: {m}")
        out, weights = mine(q, k, v, need_weights=False, **masks)
        assert weights is None
        torch.testing.assert_close(out, theirs(q, k, v, need_weights=False, **masks)[0], atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("layout", ["seq-first", "batch-first"])
def test_self_attention_with_is_causal_equals_torch(layout, device):
    theirs, mine = pair({}, layout, torch.float32, device)
    x = inputs({}, layout, torch.float32, device)[0]
    blocked = torch.ones(L, L, dtype=torch.bool, device=device).triu(1)
    for need_weights in (True, False):
        want = theirs(x, x, x, attn_mask=blocked, is_causal=True, need_weights=need_weights)
        got = mine(x, x, x, attn_mask=blocked, is_causal=True, need_weights=need_weights)
        torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=0)
        # PyTorch needs the mask as a hint; attnlab builds it when it is missing.
        torch.testing.assert_close(
            mine(x, x, x, is_causal=True, need_weights=need_weights)[0], want[0], atol=1e-5, rtol=0
        )


def test_gradients_equal_torch(device):
    theirs, mine = pair(OPTIONS["bias-kv-zero-attn-cross"], "batch-first", torch.float64, device)
    q, k, v = inputs(OPTIONS["bias-kv-zero-attn-cross"], "batch-first", torch.float64, device)
    masks = mask_cases("batch-first", torch.float64, device)["both-bool"]
    theirs(q, k, v, **masks)[0].square().sum().backward()
    mine(q, k, v, **masks)[0].square().sum().backward()
    theirs_grads = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        torch.testing.assert_close(
            p.grad, theirs_grads[name].grad, atol=1e-10, rtol=0, msg=lambda m, n=name: f"{n}: {m}"
        )


@pytest.mark.parametrize("option", OPTIONS)
def test_state_dict_keys_and_shapes_match_and_load_both_ways(option):
    theirs = nn.MultiheadAttention(D, H, **OPTIONS[option])
    mine = MultiHeadAttention(D, H, **OPTIONS[option])
    assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    mine.load_state_dict(theirs.state_dict(), strict=True)
    fresh = nn.MultiheadAttention(D, H, **OPTIONS[option])
    fresh.load_state_dict(mine.state_dict(), strict=True)
    for key, value in theirs.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_initialisation_follows_torch():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(D, H, add_bias_kv=True)
    torch.manual_seed(0)
    mine = MultiHeadAttention(D, H, add_bias_kv=True)
    for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_query_with_nothing_to_attend_to_gets_zeros_where_torch_gives_nan(device):
    theirs, mine = pair({}, "batch-first", torch.float32, device)
    x = inputs({}, "batch-first", torch.float32, device)[0]
    ignore = torch.zeros(N, L, dtype=torch.bool, device=device)
    ignore[1] = True  # sequence 1 has no key left
    out, weights = mine(x, x, x, key_padding_mask=ignore)
    assert torch.isfinite(out).all() and torch.equal(weights[1], torch.zeros_like(weights[1]))
    assert theirs(x, x, x, key_padding_mask=ignore)[1][1].isnan().all()  # what attnlab avoids
    # Through its fused path PyTorch gives zeros before the output projection, as attnlab does.
    torch.testing.assert_close(out, theirs(x, x, x, key_padding_mask=ignore, need_weights=False)[0], atol=1e-5, rtol=0)
    if device.type != "cpu":
        return  # the rest pins what the docstring says of PyTorch's CPU fast path
    # ... but its eval fast path (eval mode, no autograd) gives NaN even with need_weights=False.
    theirs.eval()
    mine.eval()
    with torch.no_grad():
        fast = theirs(x, x, x, key_padding_mask=ignore, need_weights=False)[0]
        ours = mine(x, x, x, key_padding_mask=ignore, need_weights=False)[0]
    assert fast[1].isnan().all() and torch.isfinite(ours).all()
    torch.testing.assert_close(ours[0], fast[0], atol=1e-5, rtol=0)


def test_dropout_only_in_training():
    theirs, mine = pair({"dropout": 0.5}, "batch-first", torch.float32, "cpu")
    x = inputs({}, "batch-first", torch.float32, "cpu")[0]
    mine.eval()
    theirs.eval()
    torch.testing.assert_close(mine(x, x, x)[0], theirs(x, x, x)[0], atol=1e-5, rtol=0)
    mine.train()
    torch.manual_seed(0)
    a = mine(x, x, x)[0]
    torch.manual_seed(0)
    assert torch.equal(a, mine(x, x, x)[0]) and not torch.allclose(a, mine.eval()(x, x, x)[0])


# ---- errors ----


def test_embed_dim_not_divisible_names_both_numbers():
    with pytest.raises(AttnLabError, match=r"embed_dim 10 is not divisible by num_heads 3"):
        MultiHeadAttention(10, 3)


def test_key_padding_mask_of_the_wrong_length():
    mha = MultiHeadAttention(D, H, batch_first=True)
    x = torch.zeros(2, 5, D)
    with pytest.raises(
        AttnLabError, match=r"key_padding_mask of shape \(2, 4\) does not match the keys: expected \(2, 5\)"
    ):
        mha(x, x, x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(
        AttnLabError, match=r"key_padding_mask of shape \(4,\) does not match the keys: expected \(5,\)"
    ):
        mha(x[0], x[0], x[0], key_padding_mask=torch.zeros(4, dtype=torch.bool))


def test_other_bad_input():
    mha = MultiHeadAttention(D, H, batch_first=True)
    x = torch.zeros(2, 5, D)
    with pytest.raises(AttnLabError, match=r"query width 8 != expected 16 \(query: \(2, 5, 8\)\)"):
        mha(torch.zeros(2, 5, 8), x, x)
    with pytest.raises(AttnLabError, match=r"attn_mask of shape \(5, 4\) must be \(5, 5\) or \(8, 5, 5\)"):
        mha(x, x, x, attn_mask=torch.zeros(5, 4, dtype=torch.bool))
    with pytest.raises(AttnLabError, match=r"query, key and value must all be batched \(3-D\) or all unbatched"):
        mha(x, x[0], x)
    with pytest.raises(AttnLabError, match=r"disagree on batch size or key/value length"):
        mha(x, x, x[:, :4])
    with pytest.raises(AttnLabError, match=r"unknown impl 'flash'"):
        MultiHeadAttention(D, H, impl="flash")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_project_heads_gives_each_modules_own_heads(layout):
    theirs, mine = pair(OPTIONS["bias-kv"], layout, torch.float64, "cpu")
    q, k, v = inputs({}, layout, torch.float64, "cpu")
    masks = mask_cases(layout, torch.float64, "cpu")["both-bool"]
    for module in (theirs, mine):
        hq, hk, hv, mask = project_heads(module, q, k, v, **masks)
        batch = 1 if layout == "unbatched" else N
        assert hq.shape == (batch, H, L, D // H) and hk.shape == hv.shape == (batch, H, S + 1, D // H)  # + bias_k
        want = module(q, k, v, average_attn_weights=False, **masks)[1].reshape(batch, H, L, S + 1)
        torch.testing.assert_close(attention_weights(hq, hk, mask), want)
    x = q
    torch.testing.assert_close(project_heads(mine, x)[0], project_heads(mine, x, x, x)[0])
