"""Exercises that check themselves: write a function, ``check`` it, read what is wrong in your terms.

::

    from attnlab.exercises import check, describe, ids, reveal
    print(describe("causal_mask"))          # the task, its signature and shapes
    check("causal_mask", my_causal_mask)    # ✓ passed, or ✗ and why
    reveal("causal_mask")                   # the worked solution, when you choose to see it

``check`` runs your function on seeded cases (float64, batch dimensions, L ≠ S, small sizes) and
compares it with a reference solution. When it differs, it compares it with the classic wrong answers
on the same inputs (no scaling, a softmax over the wrong dimension, an inverted or shifted mask, a
reshape without the transpose, …) and names the one you made. A wrong answer never raises: a function
that crashes gets its exception explained. Only an unknown exercise id raises :class:`AttnLabError`,
since that is a typo in the call, not an answer. A stub nobody has answered yet (a ``def`` whose body
is ``pass``) is neither right nor wrong: it shows a neutral "your answer goes here".

``reveal`` shows the worked solution (source and a short explanation); in a notebook it is a collapsed
toggle, so the answer stays hidden until the reader opens it.

One module per chapter holds that chapter's exercises as a tuple ``EXERCISES`` (``ch1_attention``,
``ch1b_positions`` … ``ch6_cost``); chapters 1 to 6 have a second, ``ch1_transfer``, ``ch2_transfer``,
``ch3_transfer``, ``ch4_transfer``, ``ch5_transfer`` and ``ch6_transfer``, of transfer tasks that nothing
on the page answers by copying (a merge, a design, a prediction checked as a set, a count). Listing a
module in ``_MODULES`` below registers them. ``_core`` holds the machinery they share.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from ..errors import AttnLabError
from . import (
    ch1_attention,
    ch1_transfer,
    ch1b_positions,
    ch2_heads,
    ch2_transfer,
    ch3_masks,
    ch3_transfer,
    ch4_residual,
    ch4_transfer,
    ch5_transfer,
    ch5_video,
    ch6_cost,
    ch6_transfer,
)
from ._core import Case, Exercise, Mistake, Result, run_check
from ._reveal import Solution, worked_solution
from ._solutions import OPEN

__all__ = ["Case", "Exercise", "Mistake", "Result", "Solution", "check", "describe", "get", "ids", "reveal"]

_MODULES = (
    ch1_attention,
    ch1_transfer,
    ch1b_positions,
    ch2_heads,
    ch2_transfer,
    ch3_masks,
    ch3_transfer,
    ch4_residual,
    ch4_transfer,
    ch5_video,
    ch5_transfer,
    ch6_cost,
    ch6_transfer,
)
_EXERCISES: dict[str, Exercise] = {ex.id: ex for module in _MODULES for ex in module.EXERCISES}


def ids(chapter: int | None = None) -> tuple[str, ...]:
    """Every exercise id in the book's order, or only those of one chapter."""
    return tuple(i for i, ex in _EXERCISES.items() if chapter is None or ex.chapter == chapter)


def get(exercise_id: str) -> Exercise:
    """The exercise itself: its ``chapter``, ``signature``, ``reference`` solution and classic ``mistakes``.

    Raises :class:`AttnLabError` for an unknown id, listing the known ones.
    """
    if exercise_id in _EXERCISES:
        return _EXERCISES[exercise_id]
    close = difflib.get_close_matches(str(exercise_id), _EXERCISES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise AttnLabError(f"unknown exercise {exercise_id!r}; {hint}known exercises: {', '.join(_EXERCISES)}")


def describe(exercise_id: str) -> str:
    """The task as text: title, chapter, the signature your function must have, its shapes, what to do."""
    return get(exercise_id).describe()


def check(exercise_id: str, solution: Callable[..., Any]) -> Result:
    """Run ``solution`` on the exercise's seeded cases and say whether, and how, it is wrong.

    Returns a :class:`Result` with ``.passed`` and ``.message``; it displays itself in a notebook and is
    true when the solution passed. Never raises for a wrong or crashing solution; raises
    :class:`AttnLabError` only for an unknown ``exercise_id``. The global random state is left as it was.
    """
    return run_check(get(exercise_id), solution)


def reveal(exercise_id: str) -> Solution:
    """The worked solution of an exercise: its source and a short explanation.

    Returns a :class:`Solution`; in a notebook it displays as a collapsed toggle, so that the answer
    is seen only by a reader who opens it, and as text it prints the source and the explanation. Open
    exercises, which no function can check (predict, then measure), have an answer here too.
    Raises :class:`AttnLabError` for an unknown ``exercise_id``.
    """
    if exercise_id in OPEN:  # an open exercise: no function to check, an answer to show
        title, source, explanation = OPEN[exercise_id]
        return Solution(exercise_id, title, source, explanation)
    return worked_solution(get(exercise_id))
