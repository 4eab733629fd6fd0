"""Chapter 1's claims: the lookup layer answers the digits and attends where the task says."""

from __future__ import annotations

import torch

from attnlab.tasks import lookup
from benchmarks.claims import Claim

CLAIMS = (
    Claim("lookup_accuracy", "the trained lookup layer gets ≥ 99 % of digits right", low=0.99),
    Claim(
        "lookup_queries_found",
        "query rows look hardest at the key with their letter in ≥ 98 % of rows",
        low=0.98,
    ),
    Claim("lookup_keys_found", "key rows look hardest at themselves in ≥ 90 % of rows", low=0.9),
    Claim(
        "lookup_example_queries",
        "on the example sequence, every query's largest weight is on its key",
        low=1,
    ),
)


def measure(seed: int) -> dict[str, float]:
    model = lookup.train(steps=600, seed=seed)
    scores = lookup.evaluate(model)
    example, _, right = lookup.lookup_batch(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        learned = model(example)[1][0]  # (12, 12)
    queries = slice(lookup.N_PAIRS, None)
    found = torch.equal(learned.argmax(-1)[queries], right[0, queries])
    return {
        "lookup_accuracy": scores.accuracy,
        "lookup_queries_found": scores.found_queries,
        "lookup_keys_found": scores.found_keys,
        "lookup_example_queries": float(found),
    }
