"""The package's public surface and the repository's promises about it."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from pathlib import Path

import torch

import attnlab

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_is_importable_and_documented():
    for name in attnlab.__all__:
        obj = getattr(attnlab, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_functions_that_take_tensors_document_shapes():
    for name in attnlab.__all__:
        obj = getattr(attnlab, name)
        if inspect.isfunction(obj) and "Tensor" in str(inspect.signature(obj)):
            assert "Shapes:" in inspect.getdoc(obj), f"{name} needs a Shapes: section"


def test_installed_with_type_information():
    assert importlib.metadata.version("attnlab") == attnlab.__version__
    assert (Path(attnlab.__file__).parent / "py.typed").is_file()


def test_error_is_a_value_error():
    assert issubclass(attnlab.AttnLabError, ValueError)


def test_requirements_are_pinned_exactly():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert lines, "requirements.txt is empty"
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line), f"not pinned with ==: {line}"
    pins = dict(line.split("==") for line in lines)
    assert pins["torch"] == "2.13.0" and pins["jupyter-book"].startswith("1.")
    assert torch.__version__.split("+")[0] == pins["torch"]
