"""The one exception attnlab raises for bad input, and helpers that word it."""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["AttnLabError"]


class AttnLabError(ValueError):
    """Bad input to attnlab: the message names the values that disagree and what was expected.

    It subclasses :class:`ValueError`, so ``except ValueError`` catches it too.
    """


def _shape(t: torch.Tensor | Iterable[int]) -> str:
    """Write a shape as ``(2, 8, 10, 64)``, the way the error messages show it."""
    dims = tuple(t.shape) if isinstance(t, torch.Tensor) else tuple(t)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _require(condition: bool, message: str) -> None:
    """Raise :class:`AttnLabError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AttnLabError(message)
