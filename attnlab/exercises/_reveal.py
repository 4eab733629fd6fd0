"""Worked solutions, shown only when a reader asks (:func:`attnlab.exercises.reveal`).

An exercise's own ``solution`` and ``explanation`` come first, then the entry in ``_solutions``, then the
reference's source (a lambda is rewritten as ``def solution(...)``) with the task as the explanation, so
that an exercise module written without them still reveals something.
"""

from __future__ import annotations

import ast
import html
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._core import Exercise
from ._solutions import SOLUTIONS


@dataclass(frozen=True)
class Solution:
    """A worked solution, shown only when asked for (:func:`attnlab.exercises.reveal`).

    In a notebook it displays as a collapsed toggle (HTML ``<details>``) holding the source and a short
    explanation; as text it prints both. It has no Markdown display on purpose: a front end that
    prefers Markdown to HTML would show the solution unfolded.
    """

    exercise: str
    title: str
    source: str
    explanation: str

    def __repr__(self) -> str:
        return f"Worked solution of {self.exercise}: {self.title}\n\n{self.source}\n\n{self.explanation}"

    def _repr_html_(self) -> str:
        return (
            '<details class="attnlab-solution" style="border-left: 4px solid #868e96; '
            'padding: 0.3em 0.8em; margin: 0.3em 0; background: rgba(127, 127, 127, 0.08)">'
            f"<summary><strong>Worked solution of {html.escape(self.exercise)}</strong>: "
            f"{html.escape(self.title)} (click to open)</summary>"
            f"<pre><code>{html.escape(self.source)}</code></pre>"
            f"<p>{html.escape(self.explanation)}</p></details>"
        )


def _lambda_source(fn: Callable[..., Any]) -> str | None:
    """A lambda as ``def solution(args): return <body>``, read from its module's source; None if unread."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.getmodule(fn))))
    except (OSError, TypeError, SyntaxError):
        return None
    code = fn.__code__
    names = list(code.co_varnames[: code.co_argcount])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Lambda)
            and node.lineno == code.co_firstlineno
            and [a.arg for a in node.args.args] == names
        ):
            return f"def solution({ast.unparse(node.args)}):\n    return {ast.unparse(node.body)}"
    return None


def worked_solution(ex: Exercise) -> Solution:
    """The worked solution of ``ex``: its own ``solution`` text, else the one in ``_solutions``, else
    the reference's source (and the task as the explanation)."""
    stored_source, stored_explanation = SOLUTIONS.get(ex.id, ("", ""))
    source = ex.solution.strip() or stored_source.strip()
    if not source:
        fn = ex.reference
        if getattr(fn, "__name__", "") == "<lambda>":
            source = _lambda_source(fn) or ""
        if not source:
            try:
                source = textwrap.dedent(inspect.getsource(fn)).strip()
            except (OSError, TypeError):
                source = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
    explanation = ex.explanation.strip() or stored_explanation.strip() or f"The reference solves it: {ex.task}"
    return Solution(ex.id, ex.title, source, explanation)
