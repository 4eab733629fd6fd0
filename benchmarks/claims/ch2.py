"""Chapter 2's claims: the translator's cross-attention aligns, heads divide the neighbour task, and both
tasks are positional: fixed-mixing baselines, with no queries or keys, solve them too.

``measure(seed)`` trains the chapter's models from ``seed`` with the chapter's own calls: the translator
(150 steps), the two-head neighbour model (200 steps), the one-head model of exercise 3 (200 steps) and
the fixed-mixing baselines of both tasks (150 and 200 steps), and evaluates them on the chapter's test sets.
"""

from __future__ import annotations

import torch

from attnlab.tasks import neighbours, translation
from benchmarks.claims import Claim

CLAIMS = (
    Claim("translator_aligned", "the translator's French words look hardest at the word they translate", low=0.9),
    Claim("translator_translated", "the translator translates the words right", low=0.95),
    Claim("neighbours_accuracy", "two heads report both neighbours (the lower accuracy)", low=0.95),
    Claim("neighbours_heads_split", "the two relations go to different heads (1 = yes)", low=1),
    Claim("neighbours_head_looks", "each relation's head looks hardest at its position (the lower)", low=0.95),
    Claim("neighbours_ablated_own", "ablating a relation's head leaves it near chance (the higher)", high=0.2),
    Claim("neighbours_ablated_other", "ablating a relation's head leaves the other intact (the lower)", low=0.9),
    Claim("neighbours_one_head_worse", "one head: the worse-served relation stays below 50 %", high=0.5),
    Claim("neighbours_one_head_total", "one head: its two accuracies add up to at most 1.4 (two heads: 2)", high=1.4),
    Claim(
        "neighbours_one_head_one_average",
        "one head: both relations' logits average per-token answers with the head's one row (largest error)",
        high=1e-4,
    ),
    Claim("translator_mixing_translated", "the fixed-mixing translator translates the words right", low=0.99),
    Claim("translator_mixing_aligned", "the fixed translator map's rows look hardest at the right word", low=0.99),
    Claim("neighbours_mixing_accuracy", "two fixed mixings report both neighbours (the lower accuracy)", low=0.95),
    Claim("neighbours_mixing_split", "the two relations go to different fixed matrices (1 = yes)", low=1),
    Claim(
        "neighbours_mixing_looks", "each relation's fixed matrix looks hardest at its position (the lower)", low=0.95
    ),
    Claim("neighbours_averaged_half", "averaged map: rows with 0.4-0.6 on each neighbour (the lower share)", low=0.95),
)


def measure(seed: int) -> dict[str, float]:
    """Train chapter 2's models from ``seed`` and measure every claim, as the chapter does."""
    values: dict[str, float] = {}

    translator = translation.train_translator(150, seed=seed)
    test_src, test_tgt = translation.sentence_pairs(1000, torch.Generator().manual_seed(1))
    values |= {f"translator_{k}": v for k, v in translation.scores(translator, test_src, test_tgt).items()}

    model = neighbours.train_neighbours(200, seed=seed)
    test = neighbours.letter_sequences(2000, torch.Generator().manual_seed(1))
    acc = neighbours.accuracy(model, test)
    values["neighbours_accuracy"] = min(acc.values())
    looks = neighbours.head_alignment(model, test)
    head_of = neighbours.serving_heads(looks)
    values["neighbours_heads_split"] = float(set(head_of.values()) == {0, 1})
    values["neighbours_head_looks"] = min(looks[r][i] for r, i in head_of.items())
    table = neighbours.ablation_table(model, test)
    other = {"left": "right", "right": "left"}
    values["neighbours_ablated_own"] = max(table[f"head {i}"][r] for r, i in head_of.items())
    values["neighbours_ablated_other"] = min(table[f"head {i}"][other[r]] for r, i in head_of.items())

    one_head = neighbours.train_neighbours(200, seed=seed, heads=1)
    acc_one = neighbours.accuracy(one_head, test)
    values["neighbours_one_head_worse"] = min(acc_one.values())
    values["neighbours_one_head_total"] = sum(acc_one.values())
    with torch.no_grad():
        h = one_head.embed(test)  # (B, L, d)
        w_one = one_head.attn(h, h, h)[1]  # (B, L, L)
        _, _, w_v = one_head.attn.in_proj_weight.chunk(3)
        _, _, b_v = one_head.attn.in_proj_bias.chunk(3)
        answers = one_head.attn.out_proj(h @ w_v.T + b_v)  # (B, L, d): one per token
        logits_one = one_head(test)
        errors = [(logits_one[r] - w_one @ read(answers)).abs().max().item() for r, read in one_head.read.items()]
    values["neighbours_one_head_one_average"] = max(errors)

    fixed_translator = translation.train_translator(150, seed=seed, mixing=True)
    fixed_score = translation.scores(fixed_translator, test_src, test_tgt)
    values["translator_mixing_translated"] = fixed_score["translated"]
    values["translator_mixing_aligned"] = fixed_score["aligned"]
    fixed = neighbours.train_neighbours(200, seed=seed, mixing=True)
    values["neighbours_mixing_accuracy"] = min(neighbours.accuracy(fixed, test).values())
    fixed_looks = neighbours.head_alignment(fixed, test)
    fixed_head_of = neighbours.serving_heads(fixed_looks)
    values["neighbours_mixing_split"] = float(set(fixed_head_of.values()) == {0, 1})
    values["neighbours_mixing_looks"] = min(fixed_looks[r][i] for r, i in fixed_head_of.items())

    mean_w = neighbours.head_maps(model, test).mean(dim=1)  # (B, L, L): averaged over the heads
    at = torch.arange(neighbours.N_POS)
    halves = [((mean_w[:, at, pos] - 0.5).abs() < 0.1).float().mean().item() for pos in neighbours.RELATIONS.values()]
    values["neighbours_averaged_half"] = min(halves)
    return values
