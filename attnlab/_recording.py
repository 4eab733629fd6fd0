"""Where :func:`attnlab.capture_attention` leaves its callbacks for attnlab's attention modules.

A module looks itself up here during ``forward``; nothing is ever stored on the module itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Recorder = Callable[[torch.Tensor], None]

_RECORDERS: dict[int, list[Recorder]] = {}


def recorders_for(module: nn.Module) -> list[Recorder]:
    """The callbacks waiting for ``module``'s per-head weights (N, H, L, S); usually none."""
    return _RECORDERS.get(id(module), [])


def _add(module: nn.Module, recorder: Recorder) -> None:
    _RECORDERS.setdefault(id(module), []).append(recorder)


def _remove(module: nn.Module, recorder: Recorder) -> None:
    waiting = _RECORDERS.get(id(module), [])
    if recorder in waiting:
        waiting.remove(recorder)
    if not waiting:
        _RECORDERS.pop(id(module), None)
