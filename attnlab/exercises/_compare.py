"""What is wrong with an output, before any mistake is consulted: its type, shape, dtype, NaN, values.

The checker in :mod:`._core` asks :func:`_problem` about every output; a tensor is compared with the
reference's up to float64 rounding, a number likewise, a set as a set (what is missing, what is extra),
and an exercise with ``verify`` has its values judged by that instead. :func:`_close` is also how an
output is matched with a classic mistake's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..errors import _shape

if TYPE_CHECKING:
    from ._core import Case, Exercise

_RTOL, _ATOL = 1e-6, 1e-9  # float64 cases: a right answer is this close, a classic mistake far from it


def _kind(t: torch.Tensor) -> str:
    return "bool" if t.dtype == torch.bool else "float" if t.is_floating_point() else "integer"


def _as_set(x: Any) -> frozenset[int] | None:
    """A set, list, tuple, range or integer tensor of integers as a frozenset; None if it is not one."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_floating_point() or x.dim() > 1:
            return None
        x = x.flatten().tolist()
    if not isinstance(x, set | frozenset | list | tuple | range):
        return None
    items = [int(i) if isinstance(i, torch.Tensor) and i.dim() == 0 and not i.is_floating_point() else i for i in x]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        return None
    return frozenset(items)


def _close(a: Any, b: Any) -> bool:
    """Same kind, same shape, and the same values up to float64 rounding (sets: the same elements)."""
    if isinstance(a, set | frozenset) or isinstance(b, set | frozenset):
        return _as_set(a) is not None and _as_set(a) == _as_set(b)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or _kind(a) != _kind(b):
            return False
        if a.dtype == torch.bool:
            return torch.equal(a, b)
        return torch.allclose(a.double(), b.double(), rtol=_RTOL, atol=_ATOL, equal_nan=True)
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return False


def _is_number(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return x.dim() == 0 and x.dtype != torch.bool
    return isinstance(x, int | float) and not isinstance(x, bool)


def _number(x: Any) -> str:
    return f"{float(x):,.6g}" if isinstance(x, float | torch.Tensor) else f"{x:,}"


def _tensor_problem(ex: Exercise, got: Any, expected: torch.Tensor, case: Case, name: str) -> str | None:
    """Why a tensor output is wrong (shape, dtype, NaN, values), or None when it is right.

    With ``ex.verify`` only the type, shape, dtype and NaN are compared here: the values are verify's."""
    what = f"{name} " if name else ""
    if got is None:
        return f"your function returned None{' for ' + name if name else ''}: did you forget to return it?"
    if not isinstance(got, torch.Tensor):
        role = f"as {name} " if name else ""
        return f"your function returned a {type(got).__name__} {role}on {case.label}; expected a tensor"
    if got.shape != expected.shape:
        return f"wrong shape: {what}{_shape(got)}, expected {_shape(expected)} on {case.label} ({ex.shapes})"
    if _kind(got) != _kind(expected):
        want = "bool (True/False)" if expected.dtype == torch.bool else "float"
        return f"{what}dtype is {got.dtype}, expected a {want} tensor on {case.label}"
    if ex.dtype == "input" and got.dtype != expected.dtype:
        return (
            f"{what}dtype is {got.dtype} for {expected.dtype} inputs: compute from the inputs, or create new "
            f"tensors with dtype=<input>.dtype"
        )
    if expected.dtype != torch.bool and bool((torch.isnan(got) & ~torch.isnan(expected)).any()):
        where = tuple(torch.nonzero(torch.isnan(got))[0].tolist())
        return f"{what}has NaN at {int(torch.isnan(got).sum())} entries (the first at index {where}) on {case.label}"
    if ex.verify is not None or _close(got, expected):
        return None
    symptom = ex.symptom(got, expected, case) if ex.symptom else None
    if symptom:
        return f"{symptom} (on {case.label})"
    if expected.dtype == torch.bool:
        where = tuple(torch.nonzero(got != expected)[0].tolist())
        return f"{what}is {got[where].item()} at index {where}, expected {expected[where].item()} on {case.label}"
    diff = (got.double() - expected.double()).abs().nan_to_num(nan=math.inf)
    where = tuple(torch.nonzero(diff == diff.max())[0].tolist())
    return (
        f"wrong values{' in ' + name if name else ''} on {case.label}: at index {where} yours is "
        f"{got[where].item():.4g}, expected {expected[where].item():.4g}"
    )


def _listed(element: str, items: Sequence[int]) -> str:
    """``frame 2`` or ``frames 0, 3 and 5``."""
    items = sorted(items)
    if len(items) == 1:
        return f"{element} {items[0]}"
    return f"{element}s {', '.join(map(str, items[:-1]))} and {items[-1]}"


def _set_problem(ex: Exercise, got: Any, expected: Any, case: Case) -> str | None:
    """Why a set output is wrong: not a set of integers, or what is missing and what is extra."""
    if got is None:
        return "your function returned None: did you forget to return the set?"
    elements = _as_set(got)
    if elements is None:
        return (
            f"your function returned {type(got).__name__} {str(got)[:60]} on {case.label}; expected a set of "
            f"integers such as {{0, 2}} (set() when there are none)"
        )
    want = _as_set(expected)
    if elements == want:
        return None
    missing, extra = sorted(want - elements), sorted(elements - want)
    parts = [f"missing {_listed(ex.element, missing)}"] if missing else []
    parts += [f"{_listed(ex.element, extra)} should not be there"] if extra else []
    return f"{'; '.join(parts)} on {case.label}"


def _problem(ex: Exercise, got: Any, expected: Any, case: Case) -> str | None:
    """Why an output is wrong, without looking at the mistakes; None when it is right."""
    problem = _structure_problem(ex, got, expected, case)
    if problem is None and ex.verify is not None:
        return ex.verify(got, case)
    return problem


def _structure_problem(ex: Exercise, got: Any, expected: Any, case: Case) -> str | None:
    """Why an output is wrong: its type, shape and (without ``verify``) its values; None when right."""
    if ex.output == "set":
        return _set_problem(ex, got, expected, case)
    if ex.output == "number":
        if got is None:
            return "your function returned None: did you forget to return the number?"
        if not _is_number(got):
            return f"your function returned a {type(got).__name__} on {case.label}; expected a number"
        if ex.verify is not None or _close(got, expected):
            return None
        if float(expected) == 0:
            return f"{_number(got)} is not right for {case.label}"
        return f"{_number(got)} is not right for {case.label}: it is {float(got) / float(expected):.4g}× the answer"
    if ex.output == "tensors":
        if got is None:
            return f"your function returned None: did you forget to return ({', '.join(ex.parts)})?"
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"return a tuple ({', '.join(ex.parts)}); your function returned a {type(got).__name__}"
        for part, g, e in zip(ex.parts, got, expected, strict=True):
            problem = _tensor_problem(ex, g, e, case, part)
            if problem:
                return problem
        return None
    return _tensor_problem(ex, got, expected, case, "")
