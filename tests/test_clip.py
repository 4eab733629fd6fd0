"""CLIP's blocks against a reference built from torch's own modules, following CLIP's semantics."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnlab import (
    AttnLabError,
    QuickGELU,
    ResidualAttentionBlock,
    Transformer,
    VisionTransformer,
    bool_to_additive,
    capture_attention,
    causal_mask,
)
from attnlab.models.clip import LayerNorm

REFERENCE = Path(__file__).resolve().parent / "data" / "checkpoint-keys.json"  # names and shapes of released models
CHECKPOINTS = json.loads(REFERENCE.read_text())
VIT_B32 = next(k for k in CHECKPOINTS if k.startswith("CLIP ViT-B/32"))


class RefLayerNorm(nn.LayerNorm):
    def forward(self, x):
        w, b = self.weight.float(), self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class RefBlock(nn.Module):
    """CLIP's ResidualAttentionBlock written with torch.nn.MultiheadAttention, per the reference notes."""

    def __init__(self, d, h, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, h)
        self.ln_1 = RefLayerNorm(d)
        self.mlp = nn.Sequential(
            OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", nn.Identity()), ("c_proj", nn.Linear(4 * d, d))])
        )
        self.ln_2 = RefLayerNorm(d)
        self.attn_mask = attn_mask

    def forward(self, x):
        mask = None if self.attn_mask is None else self.attn_mask.to(dtype=x.dtype, device=x.device)
        x = x + self.attn(*(self.ln_1(x),) * 3, need_weights=False, attn_mask=mask)[0]
        h = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(h * torch.sigmoid(1.702 * h))


def randomize(module, seed=0):
    """Random weights everywhere; LayerNorm gains near 1 so the test exercises them too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) * 0.2
            p.copy_(noise + (1.0 if name.endswith("weight") and "ln" in name else 0.0))
    return module


def text_mask(L):
    return torch.full((L, L), float("-inf")).triu(1)  # CLIP's build_attention_mask


def test_quick_gelu_and_float32_layer_norm():
    x = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(QuickGELU()(x), x * torch.sigmoid(1.702 * x))
    assert (QuickGELU()(x) - F.gelu(x)).abs().max() < 0.03
    ln = LayerNorm(8)
    half = torch.randn(3, 8).half()
    assert ln(half).dtype == torch.float16
    torch.testing.assert_close(ln(half).float(), F.layer_norm(half.float(), (8,)), atol=1e-3, rtol=0)


@pytest.mark.parametrize("mask", [None, "text"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_block_equals_clip_semantics(mask, dtype):
    L, N, D, H = 10, 3, 32, 4
    attn_mask = text_mask(L) if mask else None
    ours = randomize(ResidualAttentionBlock(D, H, attn_mask)).to(dtype)
    ref = RefBlock(D, H, attn_mask).to(dtype)
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(L, N, D, dtype=dtype)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5 if dtype == torch.float32 else 1e-6, rtol=1e-5)
    assert "attn_mask" not in str(list(ours.state_dict()))
    if mask:  # an earlier output never depends on a later token
        y = x.clone()
        y[-1] += 1.0
        torch.testing.assert_close(ours(y)[:-1], ours(x)[:-1])


def test_bool_mask_keeps_its_meaning():
    L, D = 6, 16
    additive = ResidualAttentionBlock(D, 2, text_mask(L))
    blocked = ResidualAttentionBlock(D, 2, ~causal_mask(L))  # nn.MultiheadAttention's convention
    blocked.load_state_dict(additive.state_dict())
    x = torch.randn(L, 2, D)
    torch.testing.assert_close(blocked(x), additive(x))


def test_transformer_and_text_mask_and_capture():
    L, D = 12, 64
    model = Transformer(D, 3, 2, bool_to_additive(causal_mask(L)))
    ref = nn.Sequential(*[RefBlock(D, 2, text_mask(L)) for _ in range(3)])
    randomize(model, seed=1)
    ref.load_state_dict({k.removeprefix("resblocks."): v for k, v in model.state_dict().items()})
    x = torch.randn(L, 2, D, generator=torch.Generator().manual_seed(3))
    with capture_attention(model) as maps:
        out = model(x)
    # Three float32 blocks: compare at float32's resolution of the output's scale (seeded, so it never flakes).
    torch.testing.assert_close(out, ref(x), atol=1e-4, rtol=1e-4)
    model64, ref64 = model.double(), ref.double()
    torch.testing.assert_close(model64(x.double()), ref64(x.double()), atol=1e-10, rtol=1e-10)
    assert sorted(maps) == [f"resblocks.{i}.attn" for i in range(3)]
    assert all(w.shape == (2, 2, L, L) and (w.triu(1) == 0).all() for w in maps.values())


def test_vision_transformer_equals_clip_semantics():
    vit = randomize(VisionTransformer(32, 8, 64, 2, 2, 16), seed=2)
    images = torch.randn(3, 3, 32, 32)
    blocks = nn.Sequential(*[RefBlock(64, 2) for _ in range(2)])
    blocks.load_state_dict(
        {k.removeprefix("transformer.resblocks."): v for k, v in vit.state_dict().items() if "resblocks" in k}
    )
    x = F.conv2d(images, vit.conv1.weight, stride=8).flatten(2).transpose(1, 2)  # (N, 16, 64)
    x = torch.cat([vit.class_embedding.expand(3, 1, 64), x], 1) + vit.positional_embedding
    x = blocks(F.layer_norm(x, (64,), vit.ln_pre.weight, vit.ln_pre.bias).transpose(0, 1)).transpose(0, 1)
    want = F.layer_norm(x[:, 0], (64,), vit.ln_post.weight, vit.ln_post.bias) @ vit.proj
    torch.testing.assert_close(vit(images), want, atol=1e-5, rtol=1e-5)
    assert vit.tokens(images).shape == (3, 17, 64)
    with pytest.raises(AttnLabError, match=r"images must be \(N, 3, 32, 32\), got \(3, 3, 28, 28\)"):
        vit(torch.randn(3, 3, 28, 28))
    with pytest.raises(AttnLabError, match=r"input_resolution 30 is not a multiple of patch_size 8"):
        VisionTransformer(30, 8, 64, 1, 1, 8)


def test_real_clip_vit_b32_keys_and_shapes_load_strictly():
    keys = CHECKPOINTS[VIT_B32]
    visual = {k.removeprefix("visual."): tuple(s) for k, s in keys.items() if k.startswith("visual.")}
    text = {k.removeprefix("transformer."): tuple(s) for k, s in keys.items() if k.startswith("transformer.")}
    vit = VisionTransformer(224, 32, 768, 12, 12, 512)
    assert {k: tuple(v.shape) for k, v in vit.state_dict().items()} == visual
    vit.load_state_dict({k: torch.zeros(s) for k, s in visual.items()}, strict=True)
    tower = Transformer(512, 12, 8, bool_to_additive(causal_mask(77)))
    assert {k: tuple(v.shape) for k, v in tower.state_dict().items()} == text


def test_normalize_images_uses_clips_constants():
    from attnlab.models.clip import IMAGE_MEAN, IMAGE_STD, normalize_images

    images = torch.rand(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))  # (B, T, 3, R, R)
    out = normalize_images(images)
    for c in range(3):
        torch.testing.assert_close(out[..., c, :, :], (images[..., c, :, :] - IMAGE_MEAN[c]) / IMAGE_STD[c])
    with pytest.raises(AttnLabError, match=r"images must be \(\.\.\., 3, R, R\), got \(2, 4, 8\)"):
        normalize_images(torch.zeros(2, 4, 8))
