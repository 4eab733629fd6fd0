"""The intro's claims: one attention head reads sentences whose structure varies; a fixed mixing cannot.

Both models are :class:`attnlab.tasks.grammar.Reader` trained for 400 steps, one with an attention head, one
with :class:`~attnlab.models.mixing.FixedMixing` (a learned L×L matrix, no queries or keys), and scored by
:func:`attnlab.tasks.grammar.evaluate` on 1000 new sentences.
"""

from __future__ import annotations

from attnlab.tasks import grammar
from benchmarks.claims import Claim

STEPS = 400  # the intro's "trained" stage, for both models

CLAIMS = (
    Claim("head_sentences", "the trained head reads ≥ 95 % of new sentences right (every word)", low=0.95),
    Claim("head_found", "the trained head looks hardest at the right word in ≥ 85 % of words", low=0.85),
    Claim("mixing_sentences", "the fixed mixing reads ≤ 50 % of new sentences right", high=0.5),
    Claim("mixing_found", "the fixed mixing looks hardest at the right word in ≤ 40 % of words", high=0.4),
    Claim("mixing_words", "the fixed mixing still reports ≥ 85 % of single words right", low=0.85),
)


def measure(seed: int) -> dict[str, float]:
    head = grammar.evaluate(grammar.train(STEPS, seed=seed))
    mixing = grammar.evaluate(grammar.train(STEPS, seed=seed, mixing=True))
    return {
        "head_sentences": head.sentences,
        "head_found": head.found,
        "mixing_sentences": mixing.sentences,
        "mixing_found": mixing.found,
        "mixing_words": mixing.words,
    }
