"""Chapter 1's claims: the lookup layer answers the digits, attends where the task says, and sharpens its
softmax far past where the 1/√d scaling started it; a fixed-mixing baseline answers the cards but not the
questions; linear probes find the letter in the keys and the digit in the values."""

from __future__ import annotations

import torch

from attnlab.tasks import lookup
from benchmarks.claims import Claim

CLAIMS = (
    Claim("lookup_accuracy", "the trained lookup layer gets ≥ 99 % of digits right", low=0.99),
    Claim(
        "lookup_questions_found",
        "question rows look hardest at the card with their letter in ≥ 98 % of rows",
        low=0.98,
    ),
    Claim("lookup_cards_found", "card rows look hardest at themselves in ≥ 90 % of rows", low=0.9),
    Claim(
        "lookup_example_questions",
        "on the example sequence, every question's largest weight is on the card with its letter",
        low=1,
    ),
    Claim(
        "lookup_init_entropy_ratio",
        "at initialisation, the rows' mean entropy with the 1/√d scaling is ≥ 1.5 times that without it",
        low=1.5,
    ),
    Claim(
        "lookup_trained_entropy",
        "the trained rows' mean entropy is ≤ 0.25 nats (near one-hot), below the unscaled start",
        high=0.25,
    ),
    Claim("lookup_questions_accuracy", "the attention layer gets ≥ 99 % of the question rows' digits", low=0.99),
    Claim("lookup_mixing_cards", "the fixed-mixing baseline gets ≥ 95 % of the card rows' digits", low=0.95),
    Claim(
        "lookup_mixing_questions",
        "the fixed-mixing baseline gets 20 % to 50 % of the questions' digits (chance: 10 %)",
        low=0.2,
        high=0.5,
    ),
    Claim("lookup_mixing_cards_self", "every card row of the baseline's map looks hardest at itself", low=1),
    Claim("lookup_mixing_spread", "the baseline's question rows put at most 0.25 on any token", high=0.25),
    Claim("lookup_probe_K_letter", "the letter explains ≥ 55 % of the trained keys' variance", low=0.55),
    Claim("lookup_probe_K_digit", "the digit explains ≤ 45 % of the trained keys' variance", high=0.45),
    Claim("lookup_probe_V_digit", "the digit explains ≥ 80 % of the trained values' variance", low=0.8),
    Claim("lookup_probe_V_letter", "the letter explains ≤ 20 % of the trained values' variance", high=0.2),
    Claim(
        "lookup_probe_K_letter_grew",
        "training raised the letter's share of the keys by ≥ 0.1 over the untrained layer",
        low=0.1,
    ),
    Claim(
        "lookup_probe_V_digit_grew",
        "training raised the digit's share of the values by ≥ 0.2 over the untrained layer",
        low=0.2,
    ),
    Claim(
        "lookup_probe_decoded",
        "a least-squares classifier reads letter and digit back from both K and V (the lowest of four)",
        low=0.95,
    ),
)


def _entropy(w: torch.Tensor) -> float:
    return -(w * w.clamp_min(1e-30).log()).sum(-1).mean().item()


def measure(seed: int) -> dict[str, float]:
    tokens, _, _ = lookup.lookup_batch(1000, torch.Generator().manual_seed(1))
    torch.manual_seed(seed)
    untrained = lookup.Lookup().eval()
    model = lookup.train(steps=600, seed=seed)
    scores = lookup.evaluate(model)
    example, _, right = lookup.lookup_batch(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        learned = model(example)[1][0]  # (12, 12)
        start_scaled = _entropy(untrained(tokens)[1])
        start_unscaled = _entropy(untrained(tokens, scale=1.0)[1])
        trained = _entropy(model(tokens)[1])
    questions = slice(lookup.N_PAIRS, None)
    found = torch.equal(learned.argmax(-1)[questions], right[0, questions])
    baseline = lookup.train(steps=600, seed=seed, mixing=True)
    questions_right = lookup.accuracy_by_role(model)[1]
    cards_mix, questions_mix = lookup.accuracy_by_role(baseline)
    mixing = baseline.mix.weights(lookup.L_TASK).detach()  # (12, 12)
    pairs = torch.arange(lookup.N_PAIRS)
    probes, start = lookup.probe(model), lookup.probe(untrained)
    return {
        "lookup_questions_accuracy": questions_right,
        "lookup_mixing_cards": cards_mix,
        "lookup_mixing_questions": questions_mix,
        "lookup_mixing_cards_self": float(torch.equal(mixing.argmax(-1)[: lookup.N_PAIRS], pairs)),
        "lookup_mixing_spread": mixing[lookup.N_PAIRS :].max().item(),
        "lookup_probe_K_letter": probes["K"]["letter"].share,
        "lookup_probe_K_digit": probes["K"]["digit"].share,
        "lookup_probe_V_digit": probes["V"]["digit"].share,
        "lookup_probe_V_letter": probes["V"]["letter"].share,
        "lookup_probe_K_letter_grew": probes["K"]["letter"].share - start["K"]["letter"].share,
        "lookup_probe_V_digit_grew": probes["V"]["digit"].share - start["V"]["digit"].share,
        "lookup_probe_decoded": min(p.decoded for d in probes.values() for p in d.values()),
        "lookup_accuracy": scores.accuracy,
        "lookup_questions_found": scores.found_questions,
        "lookup_cards_found": scores.found_cards,
        "lookup_example_questions": float(found),
        "lookup_init_entropy_ratio": start_scaled / start_unscaled,
        "lookup_trained_entropy": trained if trained < start_unscaled else float("inf"),
    }
