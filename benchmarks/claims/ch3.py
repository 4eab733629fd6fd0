"""Chapter 3's claims: one head learns to copy under the causal mask, cheats without it, and the masks
take the cheat away."""

from __future__ import annotations

from attnlab.tasks import copying
from benchmarks.claims import Claim

CLAIMS = (
    Claim("causal_zero", "both causal models put exactly zero weight on every later key", low=1),
    Claim("acc_copy", "causal, copy two back: accuracy ≥ 95 %", low=0.95),
    Claim("align_copy", "causal, copy two back: largest weight on key t-2 in ≥ 95 % of rows", low=0.95),
    Claim("acc_cheat", "no mask, next token: accuracy ≥ 95 %", low=0.95),
    Claim("align_cheat", "no mask, next token: largest weight on key t+1 in ≥ 95 % of rows", low=0.95),
    Claim("acc_honest", "causal, next token: accuracy ≤ 20 % (chance 12.5 %)", high=0.2),
    Claim("curve_open", "the cheater without a mask: p(true next token) > 0.9 at every position", low=0.9),
    Claim("curve_causal", "the cheater under the causal mask: p(true next token) < 0.3 everywhere", high=0.3),
    Claim(
        "curve_causal_padding",
        "the cheater under causal + padding (8 real): p(true next token) < 0.3 everywhere",
        high=0.3,
    ),
    Claim(
        "curve_padding_real",
        "the cheater under padding (8 real): p > 0.9 at positions 0-6, whose next token is real",
        low=0.9,
    ),
    Claim(
        "curve_padding_pad",
        "the cheater under padding (8 real): p < 0.3 from position 7 on, whose next token is a pad",
        high=0.3,
    ),
)


def measure(seed: int) -> dict[str, float]:
    test = copying.held_out()
    copier = copying.train(copying.copy_two_back, causal=True, seed=seed)
    cheater = copying.train(copying.next_token, causal=False, seed=seed)
    honest = copying.train(copying.next_token, causal=True, seed=seed)
    acc_copy, maps_copy = copying.evaluate(copier, copying.copy_two_back, test)
    acc_cheat, maps_cheat = copying.evaluate(cheater, copying.next_token, test)
    acc_honest, maps_honest = copying.evaluate(honest, copying.next_token, test)
    curves = {
        kind: copying.target_probability(cheater, copying.next_token, test, copying.mask_kind(kind, 8))[:-1]
        for kind in copying.MASK_KINDS
    }
    zero = all((maps.triu(1) == 0).all() for maps in (maps_copy, maps_honest))
    return {
        "causal_zero": float(zero),
        "acc_copy": acc_copy,
        "align_copy": copying.alignment(maps_copy, -2),
        "acc_cheat": acc_cheat,
        "align_cheat": copying.alignment(maps_cheat, +1),
        "acc_honest": acc_honest,
        "curve_open": curves["no mask"].min().item(),
        "curve_causal": curves["causal"].max().item(),
        "curve_causal_padding": curves["causal + padding"].max().item(),
        "curve_padding_real": curves["padding"][:7].min().item(),
        "curve_padding_pad": curves["padding"][7:].max().item(),
    }
