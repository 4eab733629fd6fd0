"""Chapter 1's claims: the lookup layer answers the digits, attends where the task says, and sharpens its
softmax far past where the 1/√d scaling started it."""

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
    return {
        "lookup_accuracy": scores.accuracy,
        "lookup_questions_found": scores.found_questions,
        "lookup_cards_found": scores.found_cards,
        "lookup_example_questions": float(found),
        "lookup_init_entropy_ratio": start_scaled / start_unscaled,
        "lookup_trained_entropy": trained if trained < start_unscaled else float("inf"),
    }
