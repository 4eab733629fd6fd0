"""load_clip on synthetic checkpoints: a state dict and a TorchScript archive, with CLIP's names."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from attnlab import AttnLabError, capture_attention
from attnlab.models import CLIP, XCLIP, CLIPConfig, XCLIPConfig, load_clip, load_xclip

REFERENCE = Path(__file__).resolve().parent / "data" / "checkpoint-keys.json"  # names and shapes of released models
SMALL = CLIPConfig(
    embed_dim=32,
    image_resolution=32,
    vision_layers=2,
    vision_width=64,
    vision_patch_size=8,
    context_length=12,
    vocab_size=100,
    transformer_width=64,
    transformer_heads=1,
    transformer_layers=3,
)
B32 = CLIPConfig(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12)


def small_clip(seed=0):
    torch.manual_seed(seed)
    model = CLIP(SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model.eval()


def inputs():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(1, 90, (2, 12), generator=g)
    tokens[:, 5] = 99  # the end-of-text token has the largest id
    return torch.randn(3, 3, 32, 32, generator=g), tokens


def test_names_and_shapes_are_clip_vit_b32s():
    keys = json.loads(REFERENCE.read_text())
    vit_b32 = {k: tuple(v) for k, v in keys[next(k for k in keys if k.startswith("CLIP ViT-B/32"))].items()}
    with torch.device("meta"):
        model = CLIP(B32)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == vit_b32


def test_state_dict_file_round_trip(tmp_path):
    original = small_clip()
    state = original.state_dict()
    state.update(input_resolution=torch.tensor(32), context_length=torch.tensor(12), vocab_size=torch.tensor(100))
    torch.save(state, tmp_path / "clip.pt")
    loaded = load_clip(tmp_path / "clip.pt")
    assert loaded.visual.input_resolution == 32 and loaded.visual.patch_size == 8
    assert len(loaded.visual.transformer.resblocks) == 2 and len(loaded.transformer.resblocks) == 3
    images, tokens = inputs()
    for got, want in zip(loaded(images, tokens), original(images, tokens), strict=True):
        torch.testing.assert_close(got, want)
    with capture_attention(loaded.visual) as maps:
        loaded.encode_image(images)
    assert maps["transformer.resblocks.1.attn"].shape == (3, 1, 17, 17)


def test_torchscript_archive(tmp_path):
    original = small_clip(seed=2)
    images, tokens = inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side checks
        torch.jit.trace(original, (images, tokens), check_trace=False).save(str(tmp_path / "clip.jit"))
    loaded = load_clip(tmp_path / "clip.jit")
    torch.testing.assert_close(loaded.encode_text(tokens), original.encode_text(tokens))
    torch.testing.assert_close(loaded.encode_image(images), original.encode_image(images))


def test_the_text_tower_is_causal():
    model = small_clip()
    _, tokens = inputs()
    x = model.token_embedding(tokens) + model.positional_embedding
    with capture_attention(model.transformer) as maps:
        model.transformer(x.transpose(0, 1))
    assert all((w.triu(1) == 0).all() for w in maps.values())


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(AttnLabError, match=r"no checkpoint file at"):
        load_clip(tmp_path / "missing.pt")
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(AttnLabError, match=r"is not a CLIP ViT checkpoint: no visual.conv1.weight"):
        load_clip(tmp_path / "other.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(AttnLabError, match=r"holds a list, not a state dict"):
        load_clip(tmp_path / "list.pt")


SMALL_XCLIP = XCLIPConfig(replace(SMALL, embed_dim=64, vision_patch_size=16), T=4, mit_layers=1, prompts_layers=2)


class TrainingConfig:
    """Stands for the config object X-CLIP pickles beside its weights."""

    epochs = 30


def small_xclip(seed=0):
    torch.manual_seed(seed)
    model = XCLIP(SMALL_XCLIP)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model.eval()


def test_xclip_names_are_clips_plus_xclips_video_modules():
    keys = json.loads(REFERENCE.read_text())
    clip_b32 = keys[next(k for k in keys if k.startswith("CLIP ViT-B/32"))]
    video = {f"visual.{k}" for k in keys[next(k for k in keys if k.startswith("X-CLIP CrossFrame"))]}
    with torch.device("meta"):
        model = XCLIP(SMALL_XCLIP)
        b32 = XCLIP(XCLIPConfig(B32, T=8))
    names = set(model.state_dict())
    assert video <= names  # the small encoder's keys, exactly as X-CLIP names them
    assert {f"mit.{k}" for k in keys[next(k for k in keys if k.startswith("X-CLIP Multiframe"))]} <= names
    assert {
        f"prompts_generator.{k}" for k in keys[next(k for k in keys if k.startswith("X-CLIP VideoSpecific"))]
    } <= names
    text = {k: tuple(v) for k, v in clip_b32.items() if not k.startswith("visual.")}
    assert {k: tuple(v.shape) for k, v in b32.state_dict().items() if k in text} == text
    assert tuple(b32.state_dict()["prompts_visual_proj"].shape) == (768, 512)


@pytest.mark.parametrize("wrapped", [False, True])
def test_xclip_checkpoint_round_trip(tmp_path, wrapped):
    original = small_xclip()
    state = original.state_dict()
    if wrapped:  # X-CLIP's training checkpoint: DDP's names, the optimizer's step, its config object
        state = {"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 3, "config": TrainingConfig()}
    torch.save(state, tmp_path / "xclip.pth")
    if wrapped:
        with pytest.raises(AttnLabError, match=r"pickles more than tensors .*pass trusted=True"):
            load_xclip(tmp_path / "xclip.pth")
    loaded = load_xclip(tmp_path / "xclip.pth", trusted=wrapped)
    assert loaded.T == 4 and len(loaded.visual.transformer.resblocks) == 2 and len(loaded.mit.resblocks) == 1
    g = torch.Generator().manual_seed(2)
    videos, text = torch.randn(2, 4, 3, 32, 32, generator=g), torch.randn(5, 64, generator=g)
    torch.testing.assert_close(loaded.classify(videos, text), original.classify(videos, text))
    _, tokens = inputs()
    assert loaded(videos, tokens).shape == (2, 2)
    with capture_attention(loaded) as maps:
        features, patches = loaded.encode_video(videos)
    assert features.shape == (2, 64) and patches.shape == (2, 4, 4, 64)
    assert maps["visual.transformer.resblocks.0.message_attn"].shape == (2, 1, 4, 4)  # (B, H, T, T)
    assert maps["visual.transformer.resblocks.1.attn"].shape == (8, 1, 6, 6)  # (B·T, H, l + 1, l + 1)
    assert maps["mit.resblocks.0.attn"].shape == (2, 1, 4, 4)


def test_a_clip_checkpoint_is_not_an_xclip_one(tmp_path):
    torch.save(small_clip().state_dict(), tmp_path / "clip.pt")
    with pytest.raises(AttnLabError, match=r"is not an X-CLIP checkpoint: no mit.positional_embedding"):
        load_xclip(tmp_path / "clip.pt")


def test_heads_that_do_not_follow_width_over_64_are_given(tmp_path):
    torch.manual_seed(0)
    original = CLIP(replace(SMALL, transformer_heads=4, vision_heads=4))
    with torch.no_grad():
        for p in original.parameters():
            p.normal_(0, 0.05)
    torch.save(original.eval().state_dict(), tmp_path / "clip.pt")
    images, tokens = inputs()
    loaded = load_clip(tmp_path / "clip.pt", heads=4)
    assert loaded.visual.transformer.resblocks[0].attn.num_heads == 4 == loaded.transformer.resblocks[0].attn.num_heads
    for got, want in zip(loaded(images, tokens), original(images, tokens), strict=True):
        torch.testing.assert_close(got, want)
    # The file cannot tell: CLIP's rule (64 / 64 = 1 head) loads without error and computes something else.
    assert not torch.allclose(load_clip(tmp_path / "clip.pt")(images, tokens)[0], original(images, tokens)[0])
    with pytest.raises(AttnLabError, match=r"heads=3 must divide every width: vision 64, text 64"):
        load_clip(tmp_path / "clip.pt", heads=3)


def test_a_width_that_is_not_a_multiple_of_64_asks_for_heads(tmp_path):
    torch.manual_seed(0)
    torch.save(CLIP(replace(SMALL, vision_width=96, vision_heads=2)).state_dict(), tmp_path / "clip.pt")
    with pytest.raises(AttnLabError, match=r"width / 64, does not fit: vision width 96; pass heads="):
        load_clip(tmp_path / "clip.pt")
    assert load_clip(tmp_path / "clip.pt", heads=2).visual.transformer.resblocks[0].attn.num_heads == 2


def test_xclip_takes_heads_too(tmp_path):
    torch.manual_seed(0)
    original = XCLIP(replace(SMALL_XCLIP, clip=replace(SMALL_XCLIP.clip, transformer_heads=2, vision_heads=2))).eval()
    torch.save(original.state_dict(), tmp_path / "xclip.pth")
    loaded = load_xclip(tmp_path / "xclip.pth", heads=2)
    assert loaded.visual.transformer.resblocks[0].attn.num_heads == 2
    g = torch.Generator().manual_seed(2)
    videos, text = torch.randn(2, 4, 3, 32, 32, generator=g), torch.randn(5, 64, generator=g)
    torch.testing.assert_close(loaded.classify(videos, text), original.classify(videos, text))
