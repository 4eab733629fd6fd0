"""The machinery behind :mod:`attnlab.exercises`: exercises as data, and a checker that explains.

An exercise is a reference solution, a few seeded cases, and the classic wrong answers ("mistakes"),
each written as a reader would write it and paired with what to say when an answer matches it. The
checker runs the reader's function on every case, and when an output is wrong it compares it with the
output of each mistake on the same inputs: a match names the mistake in the reader's terms.

Two kinds of task need more than equality with the reference. A *prediction* returns a set (which
outputs move, which frames change): ``output="set"`` compares it as a set and names what is missing and
what is extra. A *design* task has many right answers (weights that make attention do something):
``verify(got, case)`` decides instead of the reference, and a mistake carries ``detect(got, case)``, a
property of the output that names it, since no wrong design equals another exactly.
"""

from __future__ import annotations

import copy
import dis
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import _shape
from ._compare import _close, _problem

_HINTS = {  # words in an exception's text → what usually causes it
    "view size is not compatible": "after a transpose the tensor is not contiguous: use .reshape(...), "
    "or .contiguous().view(...)",
    "cannot be multiplied": "the shapes of a matrix product disagree: print the shape of each intermediate tensor",
    "must match the size of tensor": "two shapes do not broadcast: print the shape of each intermediate tensor",
    "invalid for input of size": "the sizes in a view or reshape do not multiply to the tensor's size",
    "'tuple'": "a module like nn.MultiheadAttention returns a tuple (output, weights): take [0]",
}


@dataclass(frozen=True)
class Case:
    """One seeded input: the arguments the solution is called with, and how messages name them."""

    args: tuple[Any, ...]
    label: str


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer and what the checker says when an answer matches it.

    ``{symptom}`` in ``message`` is replaced by the exercise's description of what the answer got wrong.
    ``detect(got, case)``, when given, recognises the mistake from a property of the output instead of
    equality with ``solution``'s output (for design tasks, whose wrong answers differ in detail);
    ``solution`` is then one example of it.
    """

    name: str
    solution: Callable[..., Any]
    message: str
    detect: Callable[[Any, Case], bool] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Exercise:
    """A self-checking exercise: signature, task, reference solution, cases and classic mistakes.

    ``output`` is ``"tensor"``, ``"tensors"`` (a tuple, parts named in ``parts``), ``"number"`` or
    ``"set"`` (a set of integers, each called ``element`` in messages: "missing frame 2");
    ``dtype`` is ``"input"`` (the inputs' float dtype), ``"float"`` (any float) or ``"bool"``.
    ``symptom(got, expected, case)`` words what is wrong with an output of the right shape, or None.
    ``verify(got, case)``, when given, judges an output of the right type and shape instead of equality
    with the reference's output: it returns what is wrong, or None when the output is right (a task with
    many right answers; the reference is one of them).
    ``solution`` is the worked solution as a reader would write it (source text) and ``explanation``
    says in a few sentences why it is right; both are optional (``_reveal.worked_solution`` falls back
    on ``_solutions`` and then on the reference's own source and the task).
    """

    id: str
    chapter: int
    title: str
    signature: str
    shapes: str
    task: str
    reference: Callable[..., Any]
    cases: Callable[[], list[Case]]
    mistakes: tuple[Mistake, ...] = ()
    output: str = "tensor"
    dtype: str = "input"
    parts: tuple[str, ...] = ()
    symptom: Callable[[Any, Any, Case], str | None] | None = field(default=None, repr=False)
    verify: Callable[[Any, Case], str | None] | None = field(default=None, repr=False)
    element: str = "element"
    solution: str = field(default="", repr=False)
    explanation: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"<exercise {self.id!r}, chapter {self.chapter}: {self.signature}>"

    def describe(self) -> str:
        """The exercise as text: id, chapter, title, signature, shapes and task."""
        return (
            f"{self.id} (chapter {self.chapter}): {self.title}\n"
            f"    {self.signature}\n"
            f"Shapes: {self.shapes}\n"
            f"{self.task}"
        )


@dataclass(frozen=True)
class Result:
    """What :func:`attnlab.exercises.check` found: ``passed``, and a ``message`` in the reader's terms.

    ``pending`` is True for a stub nobody has answered yet (a body of ``pass``): neither right nor
    wrong, it shows a neutral "your answer goes here". ``bool(result)`` is ``result.passed``. Its
    displays (plain text, HTML, Markdown) are deterministic, so a notebook that shows one can be
    compared cell by cell.
    """

    exercise: str
    passed: bool
    message: str
    pending: bool = False

    def __bool__(self) -> bool:
        return self.passed

    def _headline(self) -> str:
        if self.pending:
            return f"… {self.exercise}: your answer goes here"
        return f"✓ {self.exercise}: passed" if self.passed else f"✗ {self.exercise}: not yet"

    def __repr__(self) -> str:
        return f"{self._headline()}\n{self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{self._headline()}**\n\n{self.message}"

    def _repr_html_(self) -> str:
        # green / red / grey, with the ✓ / ✗ / … for grey readers
        colour = "#868e96" if self.pending else "#2b8a3e" if self.passed else "#c92a2a"
        return (
            f'<div class="attnlab-check" style="border-left: 4px solid {colour}; padding: 0.3em 0.8em; '
            f'margin: 0.3em 0; background: rgba(127, 127, 127, 0.08)">'
            f'<strong style="color: {colour}">{html.escape(self._headline())}</strong><br>'
            f"{html.escape(self.message)}</div>"
        )


def is_stub(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is an unanswered stub: a ``def`` whose body is only ``pass``, ``...``, a docstring
    or comments. A lambda is an answer, even ``lambda x: None``."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__name__", "") == "<lambda>":
        return False
    ops = [i for i in dis.get_instructions(code) if i.opname not in ("RESUME", "NOP", "CACHE")]
    if len(ops) == 1:
        return ops[0].opname == "RETURN_CONST" and ops[0].argval is None
    return len(ops) == 2 and ops[0].opname == "LOAD_CONST" and ops[0].argval is None and ops[1].opname == "RETURN_VALUE"


def describe_args(names: Sequence[str], args: Sequence[Any]) -> str:
    """``q of shape (2, 5, 8), T=3, lengths=[3, 1]``: a case as the messages name it."""
    parts = []
    for name, value in zip(names, args, strict=True):
        if isinstance(value, torch.Tensor) and value.dtype != torch.bool and not value.is_floating_point():
            parts.append(f"{name}={value.tolist()}")
        elif isinstance(value, torch.Tensor):
            parts.append(f"{name} of shape {_shape(value)}")
        elif isinstance(value, torch.nn.Module):
            parts.append(f"{name}={type(value).__name__}")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def seeded_cases(names: Sequence[str], entries: Sequence[tuple[Any, ...]], seed: int) -> list[Case]:
    """One case per entry: a tuple in an entry becomes a float64 tensor of that shape, anything else stays."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for entry in entries:
        args = tuple(torch.randn(*a, generator=g, dtype=torch.float64) if isinstance(a, tuple) else a for a in entry)
        cases.append(Case(args, describe_args(names, args)))
    return cases


def _fresh(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Copies of a case's arguments, so that no solution sees what another one did to them in place."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else copy.deepcopy(a) for a in args)


def _crash(err: Exception, case: Case) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    message = f"your function raised {type(err).__name__} on {case.label}" + (f": {text}" if text else "")
    hint = next((h for words, h in _HINTS.items() if words in str(err)), None)
    return f"{message} ({hint})" if hint else message


def _run(solution: Callable[..., Any], case: Case) -> Any:
    return solution(*_fresh(case.args))


def _explains(mistake: Mistake, got: Any, case: Case) -> bool:
    """Whether ``mistake`` gives ``got`` on ``case`` (or, with ``detect``, recognises it); a mistake that
    cannot run on the case does not."""
    try:
        if mistake.detect is not None:
            return bool(mistake.detect(got, case))
        return _close(got, _run(mistake.solution, case))
    except Exception:
        return False


def _mistakes_matching(ex: Exercise, got: Any, case: Case, expected: Any) -> list[Mistake]:
    """The mistakes whose output on ``case`` is ``got`` (and not also the right answer)."""
    return [m for m in ex.mistakes if _explains(m, got, case) and not _explains(m, expected, case)]


def _narrow(ex: Exercise, solution: Callable[..., Any], mistakes: list[Mistake], later: list[Case]) -> Mistake:
    """Of mistakes that all explain one case, the first that also explains the later cases.

    Two mistakes can agree on a case (dividing by √S or √L when S = L); the later cases tell them apart.
    """
    for case in later:
        if len(mistakes) == 1:
            break
        try:
            got = _run(solution, case)
        except Exception:
            break
        still = [m for m in mistakes if _explains(m, got, case)]
        if not still:
            break
        mistakes = still
    return mistakes[0]


def run_check(ex: Exercise, solution: Any) -> Result:
    """Run ``solution`` on every case of ``ex``; explain the first thing that is wrong."""
    if not callable(solution):
        return Result(
            ex.id,
            False,
            f"check needs your function itself, not what it returned ({type(solution).__name__}): pass "
            "my_function, not my_function(...)",
        )
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # the reader's global RNG is left as it was
        cases = ex.cases()
        if is_stub(solution):  # not an answer yet: neither right nor wrong
            return Result(
                ex.id,
                False,
                f"the function is still a stub: write its body and run the cell again, and check tries "
                f"it on {len(cases)} test cases. A worked solution: reveal({ex.id!r})",
                pending=True,
            )
        for index, case in enumerate(cases):
            expected = _run(ex.reference, case)
            try:
                got = _run(solution, case)
            except Exception as err:  # a crashing solution is a wrong answer: explain it, never raise
                return Result(ex.id, False, _crash(err, case))
            problem = _problem(ex, got, expected, case)
            if problem is None:
                continue
            mistakes = _mistakes_matching(ex, got, case, expected)
            if not mistakes:
                return Result(ex.id, False, problem)
            mistake = _narrow(ex, solution, mistakes, cases[index + 1 :])
            symptom = ex.symptom(got, expected, case) if ex.symptom else None
            if symptom is None:  # a prediction or a design says what is wrong in its own words
                symptom = problem if ex.verify is not None or ex.output == "set" else "wrong answer"
            return Result(ex.id, False, mistake.message.replace("{symptom}", symptom))
    return Result(ex.id, True, f"right on all {len(cases)} test cases.")
