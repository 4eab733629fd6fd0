"""Chapter 2's claims: the translator's cross-attention follows the Japanese particles and a fixed-mixing
baseline cannot; heads divide the neighbour task, which is positional, so its baseline solves it too.

``measure(seed)`` trains the chapter's models from ``seed`` with the chapter's own calls: the translator
(200 steps), the two-head neighbour model (200 steps), the one-head model of exercise 3 (200 steps) and
the fixed-mixing baselines of both tasks (200 steps each), and evaluates them on the chapter's test sets.
"""

from __future__ import annotations

import torch

from attnlab.tasks import neighbours, translation
from benchmarks.claims import Claim

CLAIMS = (
    Claim("translator_words", "the translator fills the English slots right (share of slots)", low=0.98),
    Claim("translator_sentences", "the translator gets whole sentences right", low=0.98),
    Claim("translator_roles", "subject and object right, subject first and object first (the lower)", low=0.98),
    Claim("translator_on_word", "a slot's mean weight on the source word it translates", low=0.7),
    Claim("translator_other_words", "the most weight any slot puts on other words (max over slots)", high=0.15),
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
    Claim("translator_mixing_roles", "fixed mixing: subject and object right, near guessing's ½", high=0.6),
    Claim("translator_mixing_sentences", "fixed mixing: whole sentences right", high=0.2),
    Claim("translator_mixing_words", "fixed mixing: English slots right", high=0.8),
    Claim("translator_mixing_verb_place", "fixed mixing: verb and place slots right (the lower)", low=0.95),
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

    translator = translation.train_translator(200, seed=seed)
    test_src, test_tgt = translation.sentence_pairs(1000, torch.Generator().manual_seed(1))
    score = translation.scores(translator, test_src, test_tgt)
    values["translator_words"], values["translator_sentences"] = score["words"], score["sentences"]
    first = translation.subject_first(test_src)  # (1000,)
    values["translator_roles"] = min(
        translation.scores(translator, test_src[order], test_tgt[order])["roles"] for order in (first, ~first)
    )
    shares = translation.weight_shares(translator, test_src)
    values["translator_on_word"] = shares["word"].mean().item()
    values["translator_other_words"] = shares["other words"].max().item()

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

    fixed_translator = translation.train_translator(200, seed=seed, mixing=True)
    fixed_score = translation.scores(fixed_translator, test_src, test_tgt)
    for k in ("roles", "sentences", "words"):
        values[f"translator_mixing_{k}"] = fixed_score[k]
    with torch.no_grad():
        fixed_right = fixed_translator(test_src).argmax(-1) == test_tgt  # (1000, L)
    has_place = test_tgt[:, 3] >= 0
    verb_place = [fixed_right[:, 1].float().mean(), fixed_right[has_place, 3].float().mean()]
    values["translator_mixing_verb_place"] = min(verb_place).item()
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
