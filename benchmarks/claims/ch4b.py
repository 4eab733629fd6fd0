"""Chapter 4b's claims about its trained model: the two-block ViT on real handwritten digits.

``measure(seed)`` trains it as the page does (``attnlab.tasks.digits.train_digit_vit``: the same 1,500
training digits, sizes, phases of steps and learning rates), with ``seed`` setting the model's
initialisation and the order of the training batches; the 297 test digits stay fixed. The page's figures
are seed 0's; ``measure`` computes each asserted number the way the page's cells do.
"""

from __future__ import annotations

import torch

from attnlab.data import split_digits
from attnlab.tasks import digits
from attnlab.tasks.plus_images import accuracy
from benchmarks.claims import Claim

CLAIMS = (
    Claim("digits_accuracy", "real digits: the two-block ViT's test accuracy >= 90 %", low=0.9),
    Claim("digits_ink_agreement", "real digits: occlusion's patch order follows the ink (Spearman >= 0.4)", low=0.4),
    Claim(
        "digits_maps_gap",
        "real digits: the ink agrees with occlusion by >= 0.1 more than the raw map and rollout do",
        low=0.1,
    ),
    Claim("digits_raw_agreement", "real digits: the last block's raw map against occlusion (Spearman)", high=0.4),
    Claim("digits_rollout_agreement", "real digits: rollout against occlusion (Spearman)", high=0.4),
    Claim(
        "digits_smudge_ink",
        "real digits, occlusion with the mean digit as the blank (exercise 1): the ink's agreement <= 0.2",
        high=0.2,
    ),
    Claim(
        "digits_smudge_rollout_best",
        "the same: rollout agrees with it more than the ink and the raw map do (rollout minus the larger)",
        low=0.0,
    ),
)


def measure(seed: int) -> dict[str, float]:
    return _digit_claims(digits.train_digit_vit(seed=seed))


def _digit_claims(vit: torch.nn.Module) -> dict[str, float]:
    """The page's claims, computed as its cells compute them."""
    train, test = split_digits()
    x = digits.as_rgb(test.images)
    with torch.no_grad():
        acc = accuracy(vit(x), test.labels)
    maps = digits.class_token_maps(vit, x)
    scores = {"ink": digits.patch_ink(test.images), "raw": maps["raw"], "rollout": maps["rollout"]}
    worth = digits.occlusion(vit, x, test.labels)
    agree = {name: digits.rank_agreement(score, worth).nanmean().item() for name, score in scores.items()}
    # exercise 1's answer: the blank is the training digits' mean, not paper
    smudge = digits.as_rgb(train.images).mean(dim=0, keepdim=True)
    worth_smudge = digits.occlusion(vit, x, test.labels, blank=smudge)
    smudged = {name: digits.rank_agreement(score, worth_smudge).nanmean().item() for name, score in scores.items()}
    return {
        "digits_accuracy": acc,
        "digits_ink_agreement": agree["ink"],
        "digits_maps_gap": agree["ink"] - max(agree["raw"], agree["rollout"]),
        "digits_raw_agreement": agree["raw"],
        "digits_rollout_agreement": agree["rollout"],
        "digits_smudge_ink": smudged["ink"],
        "digits_smudge_rollout_best": smudged["rollout"] - max(smudged["ink"], smudged["raw"]),
    }
