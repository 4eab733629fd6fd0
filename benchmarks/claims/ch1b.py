"""Chapter 1b's claims: copying the token two back needs positions; learned, sinusoidal and rotary
positions and the fixed-mixing baseline learn it; on longer sequences learned positions fail past the
trained length, rotary ones carry on, sinusoidal ones fall well short of their training accuracy."""

from __future__ import annotations

import torch

from attnlab.tasks import positions
from benchmarks.claims import Claim

LEARNERS = ("learned", "sinusoidal", "rotary", "mixing")

CLAIMS = (
    Claim(
        "positions_none_gap",
        "without positions, permuting the tokens permutes the trained layer's logits the same way "
        "(largest difference ≤ 1e-4)",
        high=1e-4,
    ),
    Claim(
        "positions_learned_gap",
        "with learned positions, permuting the tokens changes the logits by more than permuting them (≥ 1)",
        low=1,
    ),
    Claim("positions_none_accuracy", "without positions, the layer copies ≤ 15 % right (chance: 1/15)", high=0.15),
    *(
        Claim(f"positions_{name}_accuracy", f"with {name} positions it copies ≥ 97 % right on length 16", low=0.97)
        for name in LEARNERS[:3]
    ),
    Claim(
        "positions_mixing_accuracy",
        "the fixed-mixing baseline (no queries, no keys) copies ≥ 97 % right on length 16",
        low=0.97,
    ),
    *(
        Claim(
            f"positions_{name}_looks_back",
            f"with {name} positions ≥ 95 % of rows look hardest at position i − 2",
            low=0.95,
        )
        for name in LEARNERS[:3]
    ),
    Claim(
        "positions_mixing_looks_back",
        "the fixed-mixing baseline's rows look hardest at position i − 2 (≥ 95 % of rows)",
        low=0.95,
    ),
    Claim(
        "positions_learned_beyond",
        "on length 32, learned positions copy ≤ 10 % right at positions 16–31 (never trained)",
        high=0.1,
    ),
    Claim(
        "positions_sinusoidal_beyond",
        "on length 32, sinusoidal positions copy ≤ 50 % right at positions 16–31",
        high=0.5,
    ),
    Claim(
        "positions_rotary_beyond",
        "on length 32, rotary positions copy ≥ 90 % right at positions 16–31",
        low=0.9,
    ),
    Claim("positions_rotary_long", "on length 32, rotary positions copy ≥ 90 % right over all positions", low=0.9),
)


def measure(seed: int) -> dict[str, float]:
    perm = torch.randperm(positions.L_TRAIN, generator=torch.Generator().manual_seed(3))
    models = {name: positions.train(name, seed=seed) for name in positions.ENCODINGS}
    short = {name: positions.evaluate(m) for name, m in models.items()}
    long = {name: positions.evaluate(models[name], length=positions.L_TEST) for name in LEARNERS[:3]}
    values = {
        "positions_none_gap": positions.permutation_gap(models["none"], perm),
        "positions_learned_gap": positions.permutation_gap(models["learned"], perm),
        "positions_none_accuracy": short["none"].accuracy,
    }
    values |= {f"positions_{name}_accuracy": short[name].accuracy for name in LEARNERS}
    values |= {f"positions_{name}_looks_back": short[name].looks_back for name in LEARNERS}
    values |= {f"positions_{name}_beyond": long[name].beyond for name in LEARNERS[:3]}
    values["positions_rotary_long"] = long["rotary"].accuracy
    return values
