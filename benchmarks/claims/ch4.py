"""Chapter 4's claims about its trained models: the Residual Attention Network classifier and the ViT on
the pluses (the two-block ViT on real handwriting is chapter 4b's, in ``ch4b``).

``measure(seed)`` trains both models as the chapter does (``attnlab.tasks.plus_images``: the same data,
sizes, phases of steps and learning rates), with ``seed`` setting the model's initialisation
(``torch.manual_seed``) and the order of the training batches (``fit``'s generator). The data sets stay
fixed, as in the chapter: training images drawn with seed 0, test images with seed 1. The chapter's
figures are seed 0's; ``measure`` computes each asserted number the way the chapter's cell does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from attnlab.capture import capture_attention
from attnlab.tasks.plus_images import (
    accuracy,
    accuracy_with,
    cell_region,
    make_images,
    plus_and_distractors,
    train_ran,
    train_vit,
)
from benchmarks.claims import Claim

CLAIMS = (
    Claim("ran_accuracy", "the Residual Attention Network classifier: test accuracy >= 90 %", low=0.9),
    Claim("mask_contrast", "mean of M over channels: higher at the plus than at the distractors (ratio > 1)", low=1.0),
    Claim("mt_over_t", "contrast plus : distractors of ‖M·T‖ > 1.1x the trunk's contrast", low=1.1),
    Claim("fused_over_t", "contrast of ‖(1 + M)·T‖ > the trunk's contrast", low=1.0),
    Claim("rises", "channels per image whose mask rises > 0.1 at the plus: >= 1", low=1.0),
    Claim("falls", "channels per image whose mask falls > 0.1 at the plus: >= 1", low=1.0),
    Claim("departure_ratio", "departure of M from its usual value: >= 1.5x larger at the plus", low=1.5),
    Claim("departure_wins", "departure larger at the plus than at the distractors in >= 60 % of images", low=0.6),
    Claim("zeros_drop", "mask set to zeros: accuracy more than 10 points below the trained mask's", low=0.1),
    Claim("spatial_drop", "spatial-only mask (mean over channels): accuracy below the trained mask's", low=0.0),
    Claim("channel_above_zeros", "channel-only mask: accuracy above the zero mask's", low=0.0),
    Claim("channel_below_mixed", "channel-only mask: accuracy not above the trained mask's", low=0.0),
    Claim("vit_accuracy", "the one-block ViT: test accuracy >= 98 %", low=0.98),
    Claim("on_plus_patch", "share of images whose plus patch gets >= 8/64 of the class token's weight", low=0.95),
    Claim("top_is_plus", "share of images where the plus's patch is the class token's top patch", low=0.95),
    Claim(
        "similarity_other_label",
        "class tokens' mean cosine similarity across labels < 1/2 of that within a label (so same > 2x other)",
        high=0.5,
    ),
)


def _ran_claims(ran, test) -> dict[str, float]:
    with torch.no_grad():
        logits, masks = ran(test.images)  # masks (N, C, 16, 16)
        module = ran.attention
        trunks = module.trunk(module.pre(ran.stem(test.images)))
    maps = {
        "T": trunks.norm(dim=1),
        "M": masks.mean(dim=1),
        "MT": (masks * trunks).norm(dim=1),
        "fused": ((1 + masks) * trunks).norm(dim=1),
    }
    contrast = {}
    for name, m in maps.items():
        at_plus, at_distractors = plus_and_distractors(m, test)
        contrast[name] = (at_plus.mean() / at_distractors.mean()).item()
    plus = test.has_plus
    usual = masks.flatten(2).median(dim=-1).values  # (N, C)
    at_plus = (masks * cell_region(test.cells[:, 0], 16)[:, None]).sum(dim=(2, 3)) / 4  # (N, C)
    rises = (at_plus > usual + 0.1)[plus].float().sum(dim=1).mean().item()
    falls = (at_plus < usual - 0.1)[plus].float().sum(dim=1).mean().item()
    departure = (masks - usual[..., None, None]).abs().mean(dim=1)  # (N, 16, 16)
    at_plus_d, at_distractors_d = plus_and_distractors(departure, test)
    acc = {
        "mixed": accuracy_with(ran, test, lambda m: m),
        "spatial": accuracy_with(ran, test, lambda m: m.mean(dim=1, keepdim=True).expand_as(m)),
        "channel": accuracy_with(ran, test, lambda m: m.mean(dim=(2, 3), keepdim=True).expand_as(m)),
        "zeros": accuracy_with(ran, test, torch.zeros_like),
    }
    return {
        "ran_accuracy": accuracy(logits, test.labels),
        "mask_contrast": contrast["M"],
        "mt_over_t": contrast["MT"] / contrast["T"],
        "fused_over_t": contrast["fused"] / contrast["T"],
        "rises": rises,
        "falls": falls,
        "departure_ratio": (at_plus_d.mean() / at_distractors_d.mean()).item(),
        "departure_wins": (at_plus_d > at_distractors_d).float().mean().item(),
        "zeros_drop": acc["mixed"] - acc["zeros"],
        "spatial_drop": acc["mixed"] - acc["spatial"],
        "channel_above_zeros": acc["channel"] - acc["zeros"],
        "channel_below_mixed": acc["mixed"] - acc["channel"],
    }


def _vit_claims(vit, test) -> dict[str, float]:
    with torch.no_grad(), capture_attention(vit) as maps:
        logits = vit(test.images)
    plus = test.has_plus
    cls_maps = maps["transformer.resblocks.0.attn"][:, :, 0, 1:]  # (N, H, P)
    mean_heads = cls_maps.mean(dim=1)  # (N, P)
    on_plus_patch = mean_heads.gather(1, test.cells[:, :1])[:, 0][plus]
    top_is_plus = (mean_heads.argmax(dim=-1) == test.cells[:, 0])[plus].float().mean().item()
    order = torch.cat([torch.nonzero(test.labels == label)[:2, 0] for label in range(4)])
    with torch.no_grad():
        cls_tokens = F.normalize(vit.ln_post(vit.tokens(test.images[order])[:, 0]), dim=-1)  # (8, width)
    similarity = (cls_tokens @ cls_tokens.T).clamp_min(0)
    same_label = test.labels[order][:, None] == test.labels[order][None, :]
    return {
        "vit_accuracy": accuracy(logits, test.labels),
        "on_plus_patch": (on_plus_patch >= 8 / 64).float().mean().item(),
        "top_is_plus": top_is_plus,
        "similarity_other_label": (similarity[~same_label].mean() / similarity[same_label].mean()).item(),
    }


def measure(seed: int) -> dict[str, float]:
    train = make_images(4000, seed=0)  # as the chapter: fixed data, whatever the seed
    test = make_images(500, seed=1)
    return _ran_claims(train_ran(train, seed=seed), test) | _vit_claims(train_vit(train, seed=seed), test)
