"""The intro's claim: its trained head (300 steps) looks hardest at the right word."""

from __future__ import annotations

from attnlab.tasks import grammar
from benchmarks.claims import Claim

CLAIMS = (
    Claim(
        "reader_found",
        "the trained head (300 steps) looks hardest at the right word in ≥ 95 % of rows",
        low=0.95,
    ),
)


def measure(seed: int) -> dict[str, float]:
    return {"reader_found": grammar.found(grammar.train(300, seed=seed))}
