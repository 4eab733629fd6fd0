"""X-CLIP's video modules against references written frame by frame with torch's own modules."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import attnlab
from attnlab import (
    AttnLabError,
    CrossFrameAttentionBlock,
    CrossFrameCommunicationTransformer,
    DropPath,
    MultiframeIntegrationTransformer,
    QuickGELU,
    VideoSpecificPrompt,
    capture_attention,
)

REFERENCE = Path(__file__).resolve().parent / "data" / "checkpoint-keys.json"
CHECKPOINTS = json.loads(REFERENCE.read_text())


def spec(prefix: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in CHECKPOINTS[next(k for k in CHECKPOINTS if k.startswith(prefix))].items()}


def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights everywhere, LayerNorm gains near 1, so every parameter matters to the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) * 0.2
            is_gain = name.endswith("weight") and any(n in name for n in ("ln", "norm"))
            p.copy_(noise + (1.0 if is_gain else 0.0))
    return module.eval()


def noise(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def mlp(d: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4 * d, d))])
    )


class RefBlock(nn.Module):
    """X-CLIP's block written one video and one frame at a time, with nn.MultiheadAttention."""

    def __init__(self, d: int, h: int, T: int) -> None:
        super().__init__()
        self.T = T
        self.message_fc, self.message_ln = nn.Linear(d, d), nn.LayerNorm(d)
        self.message_attn, self.attn = nn.MultiheadAttention(d, h), nn.MultiheadAttention(d, h)
        self.ln_1, self.mlp, self.ln_2 = nn.LayerNorm(d), mlp(d), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = []
        for v in range(x.shape[1] // self.T):
            rows = range(v * self.T, (v + 1) * self.T)  # this video's frames
            msg = self.message_fc(torch.stack([x[0, r] for r in rows]))  # (T, d)
            m = self.message_ln(msg)[:, None]  # (T, 1, d): one video, frames as the sequence
            msg = msg + self.message_attn(m, m, m)[0][:, 0]
            for f, r in enumerate(rows):
                tokens = torch.cat([x[:, r], msg[f : f + 1]])[:, None]  # (l + 1, 1, d), message last
                y = self.ln_1(tokens)
                tokens = (tokens + self.attn(y, y, y)[0])[:-1]
                frames.append((tokens + self.mlp(self.ln_2(tokens)))[:, 0])
        return torch.stack(frames, dim=1)  # (l, b·T, d)


@pytest.mark.parametrize(("b", "T", "n", "d", "h"), [(1, 1, 3, 8, 1), (2, 4, 5, 16, 2), (3, 8, 10, 32, 4)])
def test_block_equals_frame_by_frame_reference(b, T, n, d, h):
    block = randomize(CrossFrameAttentionBlock(d, h, T=T).double(), seed=b)
    ref = RefBlock(d, h, T).double().eval()
    ref.load_state_dict(block.state_dict())
    x = noise(n, b * T, d)  # n = l tokens per frame
    torch.testing.assert_close(block(x), ref(x), atol=1e-10, rtol=1e-10)
    assert list(block.state_dict()) == list(ref.state_dict())  # X-CLIP's names, in X-CLIP's order


def test_ifa_mask_reaches_the_frame_attention():
    n, T, d = 4, 2, 8  # n = l tokens per frame
    banned = torch.zeros(n + 1, n + 1, dtype=torch.bool)
    banned[0, 1:] = True  # the class token may look only at itself, not at patches or the message
    block = randomize(CrossFrameAttentionBlock(d, 2, attn_mask=banned, T=T).double())
    with capture_attention(block) as maps:
        block(noise(n, 2 * T, d))
    assert maps["attn"].shape == (2 * T, 2, n + 1, n + 1)
    assert (maps["attn"][:, :, 0, 1:] == 0).all() and torch.allclose(maps["attn"][:, :, 0, 0], torch.ones(1).double())


def test_capture_records_cfa_and_ifa_maps_of_the_documented_shapes():
    b, T, n, d, h = 2, 4, 5, 16, 2
    block = randomize(CrossFrameAttentionBlock(d, h, T=T).double())
    x = noise(n, b * T, d)
    with capture_attention(block) as maps:
        block(x)
    assert maps["message_attn"].shape == (b, h, T, T) and maps["attn"].shape == (b * T, h, n + 1, n + 1)
    for w in maps.values():
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1], dtype=w.dtype))
    # CFA's map for video 1 is its own frames' message tokens attending to each other: recompute it by hand.
    msg = block.message_ln(block.message_fc(x[0, T : 2 * T]))  # (T, d)
    q, k, _ = (msg @ block.message_attn.in_proj_weight.T + block.message_attn.in_proj_bias).chunk(3, dim=-1)
    q0, k0 = q[:, : d // h], k[:, : d // h]  # head 0
    torch.testing.assert_close(maps["message_attn"][1, 0], torch.softmax(q0 @ k0.T / (d // h) ** 0.5, dim=-1))


def test_locality_patch_tokens_stay_in_their_frame_class_tokens_in_their_video():
    b, T, n, d = 2, 3, 4, 8
    block = randomize(CrossFrameAttentionBlock(d, 2, T=T).double())
    x = noise(n, b * T, d)
    base = block(x)

    def changed_frames(token: int, frame_row: int) -> list[int]:
        y = x.clone()
        y[token, frame_row] += 1.0
        moved = (block(y) - base).abs().amax(dim=(0, 2))  # (b·T,)
        return torch.nonzero(moved > 1e-12).flatten().tolist()

    assert changed_frames(token=2, frame_row=4) == [4]  # a patch token: its own frame only
    assert changed_frames(token=0, frame_row=4) == [3, 4, 5]  # a class token: every frame of video 1
    assert changed_frames(token=0, frame_row=0) == [0, 1, 2]  # …and nothing in the other video


def test_cross_frame_attention_is_permutation_equivariant_over_frames():
    b, T, n, d = 2, 5, 4, 8
    block = randomize(CrossFrameAttentionBlock(d, 2, T=T).double())
    x = noise(n, b * T, d)
    perm = torch.tensor([3, 0, 4, 1, 2])
    rows = torch.cat([v * T + perm for v in range(b)])  # the same reordering of frames in every video
    torch.testing.assert_close(block(x[:, rows]), block(x)[:, rows], atol=1e-12, rtol=1e-12)


def reference_encoder(enc: CrossFrameCommunicationTransformer, blocks: nn.Module, frames: torch.Tensor):
    x = enc.conv1(frames).flatten(2).transpose(1, 2)
    cls = enc.class_embedding.expand(x.shape[0], 1, -1)
    x = enc.ln_pre(torch.cat([cls, x], dim=1) + enc.positional_embedding)
    x = blocks(x.permute(1, 0, 2)).permute(1, 0, 2)
    return enc.ln_post(x[:, 0, :]) @ enc.proj, x[:, 1:, :]


def test_encoder_keys_and_outputs_match_xclip():
    enc = CrossFrameCommunicationTransformer(32, 16, 64, 2, 2, 32, T=4)
    assert shapes(enc) == spec("X-CLIP CrossFrameCommunicationTransformer")
    enc = randomize(enc.double(), seed=3)
    blocks = nn.Sequential(*[RefBlock(64, 2, 4) for _ in range(2)]).double().eval()
    blocks.load_state_dict(
        {k.removeprefix("transformer.resblocks."): v for k, v in enc.state_dict().items() if "resblocks" in k}
    )
    frames = noise(8, 3, 32, 32)
    for got, want in zip(enc(frames), reference_encoder(enc, blocks, frames), strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)
    with capture_attention(enc) as maps:
        enc(frames)
    assert maps["transformer.resblocks.1.message_attn"].shape == (2, 2, 4, 4)
    assert maps["transformer.resblocks.1.attn"].shape == (8, 2, 6, 6)


def test_mit_keys_and_output_match_xclip():
    mit = MultiframeIntegrationTransformer(T=4, embed_dim=64, layers=1)
    assert shapes(mit) == spec("X-CLIP MultiframeIntegrationTransformer")
    mit = randomize(mit.double(), seed=4)
    attn, ln_1, mlp_, ln_2 = nn.MultiheadAttention(64, 1), nn.LayerNorm(64), mlp(64), nn.LayerNorm(64)
    ref = nn.ModuleDict({"attn": attn, "ln_1": ln_1, "mlp": mlp_, "ln_2": ln_2}).double()
    ref.load_state_dict({k.removeprefix("resblocks.0."): v for k, v in mit.state_dict().items() if "resblocks" in k})
    x = noise(3, 4, 64)
    y = (x + mit.positional_embedding).transpose(0, 1)
    y = y + attn(ln_1(y), ln_1(y), ln_1(y))[0]
    y = (y + mlp_(ln_2(y))).transpose(0, 1)
    torch.testing.assert_close(mit(x), (y + x).mean(dim=1), atol=1e-10, rtol=1e-10)


def test_mit_sees_frame_order_through_its_positions():
    mit = randomize(MultiframeIntegrationTransformer(T=4, embed_dim=8, heads=2).double(), seed=5)
    x = noise(2, 4, 8)
    assert not torch.allclose(mit(x), mit(x[:, [3, 2, 1, 0]]))
    with torch.no_grad():
        mit.positional_embedding.zero_()
    torch.testing.assert_close(mit(x), mit(x[:, [3, 2, 1, 0]]))  # without positions: order-blind


def test_prompt_keys_and_output_match_xclip():
    prompt = VideoSpecificPrompt(layers=2, embed_dim=64, alpha=0.1)
    assert shapes(prompt) == spec("X-CLIP VideoSpecificPrompt")
    assert torch.equal(prompt.alpha, torch.full((64,), 0.1))
    prompt = randomize(prompt.double(), seed=6)
    text, video = noise(2, 5, 64, seed=7), noise(2, 9, 64, seed=8)
    z = prompt.norm(video)
    c = text
    for layer in prompt.decoder:
        a = layer.cross_attn
        q = layer.norm1(c) @ a.q_proj.weight.T
        k, v = z @ a.k_proj.weight.T, z @ a.v_proj.weight.T
        heads = []
        for h in range(1):  # 64 / 64 heads, each 64 wide
            w = torch.softmax(q[..., h * 64 : (h + 1) * 64] @ k[..., h * 64 : (h + 1) * 64].transpose(1, 2) / 8.0, -1)
            heads.append(w @ v[..., h * 64 : (h + 1) * 64])
        c = c + a.proj(torch.cat(heads, dim=-1))
        c = c + layer.mlp(layer.norm3(c))
    with capture_attention(prompt) as maps:
        torch.testing.assert_close(prompt(text, video), prompt.alpha * c, atol=1e-10, rtol=1e-10)
    assert maps["decoder.1.cross_attn"].shape == (2, 1, 5, 9)


def test_droppath_is_xclips():
    assert isinstance(CrossFrameAttentionBlock(8, 2, T=2).drop_path, nn.Identity)
    enc = CrossFrameCommunicationTransformer(16, 8, 8, 3, 2, 4, droppath=0.2, T=2)
    assert [blk.drop_path.p for blk in enc.transformer.resblocks[1:]] == pytest.approx([0.1, 0.2])
    drop = DropPath(0.5)
    x = torch.ones(400, 3, 2)
    assert torch.equal(drop.eval()(x), x)
    y = drop.train()(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert (y == y[:, :1, :1]).all()  # one draw per index of the first dimension (token position)
    assert 0.4 < (y[:, 0, 0] > 0).float().mean() < 0.6


def test_bad_input_says_what_was_expected():
    with pytest.raises(AttnLabError, match=r"T \(frames per video\) must be at least 1, got 0"):
        CrossFrameAttentionBlock(8, 2)
    with pytest.raises(AttnLabError, match=r"B·T a multiple of T = 4, got \(5, 6, 8\)"):
        CrossFrameAttentionBlock(8, 2, T=4)(torch.zeros(5, 6, 8))
    with pytest.raises(AttnLabError, match=r"embed_dim 48 gives 0 heads at 64 features per head: pass heads="):
        MultiframeIntegrationTransformer(T=8, embed_dim=48)
    with pytest.raises(AttnLabError, match=r"frame features must be \(B, 8, 48\), got \(2, 4, 48\)"):
        MultiframeIntegrationTransformer(T=8, embed_dim=48, heads=2)(torch.zeros(2, 4, 48))
    with pytest.raises(AttnLabError, match=r"frames must be \(B·T, 3, 32, 32\) with B·T a multiple of T = 4"):
        CrossFrameCommunicationTransformer(32, 16, 64, 1, 2, 32, T=4)(torch.zeros(6, 3, 32, 32))
    with pytest.raises(
        AttnLabError, match=r"expected text \(B, K, 64\) and visual \(B, N, 64\), got text \(2, 3, 32\)"
    ):
        VideoSpecificPrompt(embed_dim=64)(torch.zeros(2, 3, 32), torch.zeros(2, 4, 64))
    with pytest.raises(AttnLabError, match=r"drop-path probability must be in \[0, 1\), got 1.0"):
        DropPath(1.0)


@pytest.mark.parametrize(
    ("patch", "encoder", "core", "whole", "paper"), [(32, 35.82, 0.38, 38.2, 39), (16, 141.10, 5.78, 144.2, 145)]
)
def test_multiply_accumulates_match_xclips_table(patch, encoder, core, whole, paper):
    """X-CLIP's table (39 / 145 "GFLOPs", multiply-accumulates) counts the encoder, MIT and the prompt
    generator over Kinetics-400's 400 class names, Q·Kᵀ and A·V included: X-CLIP ran torch 1.11, whose
    nn.MultiheadAttention computed them with bmm. attnlab's explicit path shows them as bmm too."""
    macs = attnlab.xclip_macs(patch)
    assert round(macs["encoder"], 2) == encoder
    assert round(macs["core"], 2) == core
    assert round(macs["whole"], 1) == whole
    assert 0 < paper - macs["whole"] < 1  # the paper's table rounds up
    with torch.device("meta"):  # the same count, by hand: the encoder and MIT alone
        enc = CrossFrameCommunicationTransformer(224, patch, 768, 12, 12, 512, T=8)
        mit = MultiframeIntegrationTransformer(T=8, embed_dim=512, layers=1)
        with FlopCounterMode(display=False) as counter:
            mit(enc(torch.empty(8, 3, 224, 224))[0].view(1, 8, 512))
    assert counter.get_total_flops() / 2e9 == pytest.approx(macs["encoder"], abs=1e-9)
    assert counter.get_flop_counts()["Global"][torch.ops.aten.bmm] / 2e9 == pytest.approx(macs["core"], abs=1e-9)


def test_xclip_macs_rejects_bad_sizes():
    with pytest.raises(AttnLabError, match="resolution 200 is not a multiple of the patch size 16"):
        attnlab.xclip_macs(16, resolution=200)
    with pytest.raises(AttnLabError, match="frames must be a positive int, got 0"):
        attnlab.xclip_macs(16, frames=0)
