"""The claims the chapters assert about their trained models, one module per chapter.

Each module here names its claims (:class:`Claim`) and has a ``measure(seed)`` that trains that chapter's
models from ``seed`` through the same ``attnlab.tasks`` code the chapter uses and returns one number per
claim. ``benchmarks/seeds.py`` runs every module for seeds 0–4 and reports, per claim, how many seeds
it holds for and the spread of the measured number. A claim the chapter asserts must hold for all of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["CHAPTERS", "Claim", "load"]

# The modules of this package, in book order; each has CLAIMS and measure(seed) -> {claim id: value}.
CHAPTERS = ("intro", "ch1", "ch1b", "ch2", "ch3", "ch4", "ch4b", "ch5")


@dataclass(frozen=True)
class Claim:
    """One asserted claim: the measured number ``id`` must lie in [low, high] (either bound optional).

    ``text`` says what the chapter asserts, in its words; a yes/no claim is measured as 1.0 or 0.0 with
    ``low=1``.
    """

    id: str
    text: str
    low: float | None = None
    high: float | None = None

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def margin(self, value: float) -> float:
        """How far ``value`` is inside its bounds (negative: outside), in the measured number's units."""
        sides = [value - self.low] if self.low is not None else []
        sides += [self.high - value] if self.high is not None else []
        return min(sides) if sides else float("inf")

    def bound(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g} ≤ x ≤ {self.high:g}"
        return f"≥ {self.low:g}" if self.low is not None else f"≤ {self.high:g}"


def load(chapter: str):
    """The claims module of ``chapter`` (one of :data:`CHAPTERS`)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; expected one of {', '.join(CHAPTERS)}")
    return importlib.import_module(f"benchmarks.claims.{chapter}")
