"""attnlab.exercises.ch1b_positions: right answers written another way pass, nothing wrong raises. (The
references, every classic mistake's message and unknown ids are tested in test_exercises.py, with every
other chapter's.)"""

from __future__ import annotations

import math

import torch

from attnlab.exercises import check


def right_table(length, dim):
    """Written another way: a loop over the pairs."""
    pe = torch.zeros(length, dim, dtype=torch.float64)
    p = torch.arange(length, dtype=torch.float64)
    for i in range(dim // 2):
        pe[:, 2 * i] = torch.sin(p / 10000 ** (2 * i / dim))
        pe[:, 2 * i + 1] = torch.cos(p / 10000 ** (2 * i / dim))
    return pe


def right_rope(x):
    """Written another way: complex numbers, pairing feature i with i + E/2."""
    L, E = x.shape[-2:]
    theta = 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (E/2,)
    turn = torch.polar(torch.ones(L, E // 2, dtype=torch.float64), torch.arange(L)[:, None] * theta)
    z = torch.complex(x[..., : E // 2], x[..., E // 2 :]) * turn  # (..., L, E/2)
    return torch.cat([z.real, z.imag], dim=-1)


def test_right_answers_written_another_way_pass():
    assert check("sinusoidal_positions", right_table).passed
    assert check("apply_rope", right_rope).passed


def test_a_float32_table_is_told_to_use_float64():
    def float32_table(length, dim):
        p = torch.arange(length)[:, None]
        angles = p / 10000 ** (torch.arange(0, dim, 2) / dim)
        return torch.stack([angles.sin(), angles.cos()], -1).flatten(-2)

    result = check("sinusoidal_positions", float32_table)
    assert not result.passed and "compute in float64" in result.message, result.message


def test_wrong_answers_never_raise_and_say_why():
    assert "did you forget to return" in check("apply_rope", lambda x: None).message
    crash = check("apply_rope", lambda x: x @ torch.ones(3, 3, dtype=x.dtype))
    assert not crash.passed and "raised RuntimeError" in crash.message
    shape = check("sinusoidal_positions", lambda length, dim: torch.zeros(dim, length, dtype=torch.float64))
    assert "wrong shape" in shape.message
    assert not check("apply_rope", lambda x: x * math.cos(1.0)).passed
