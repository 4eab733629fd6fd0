"""The package's public surface and the repository's promises about it."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
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


# The public names attnlab had before its subpackages: they must stay importable from attnlab itself.
NAMES_BEFORE_SUBPACKAGES = {
    "IMPLS", "AttnLabError", "CrossFrameAttentionBlock", "CrossFrameCommunicationTransformer", "DividedSpaceTimeBlock",
    "DropPath", "LayerNorm", "MultiHeadAttention", "MultiframeIntegrationTransformer", "QuickGELU",
    "ResidualAttentionBlock", "ResidualAttentionModule", "ResidualUnit", "Transformer", "VideoSpecificPrompt",
    "VisionTransformer", "additive_to_bool", "attention_flops", "attention_logits", "attention_traffic",
    "attention_weights", "available_devices", "bool_to_additive", "capture_attention", "causal_mask", "combine_masks",
    "count_flops", "data", "default_device", "exercises", "from_mha_mask", "key_padding_to_mask", "matmul_gflops",
    "merge_heads", "padding_mask", "peak_memory", "project_heads", "scaled_dot_product_attention", "scores_bytes",
    "split_heads", "time_interleaved", "to_mha_mask",
}  # fmt: skip

SUBPACKAGES = ("attnlab.models", "attnlab.exercises", "attnlab.widgets", "attnlab.tasks")


def test_the_names_attnlab_had_are_still_there():
    assert set(attnlab.__all__) >= NAMES_BEFORE_SUBPACKAGES
    assert all(hasattr(attnlab, name) for name in NAMES_BEFORE_SUBPACKAGES)


def test_every_subpackage_and_module_has_a_documented_public_surface():
    """Every module (subpackages' modules too) has a docstring and an __all__ whose names exist and are
    documented; private modules (``_name``) are for their package alone."""
    for info in pkgutil.walk_packages(attnlab.__path__, "attnlab."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        assert inspect.getdoc(module), f"{info.name} has no docstring"
        names = getattr(module, "__all__", None)
        if info.ispkg and info.name not in SUBPACKAGES:
            continue
        if names is None and info.name in ("attnlab.tasks",):
            continue  # a namespace of task modules, each with its own __all__
        assert names is not None, f"{info.name} has no __all__"
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert inspect.getdoc(obj), f"{info.name}.{name} has no docstring"


def test_private_helpers_stay_in_their_package():
    """No module imports a private name (``_x``) from outside its own (sub)package; the one exception is
    ``attnlab.errors``, whose wording helpers every module shares by design."""
    pattern = re.compile(r"^from (\.+)([\w.]*) import (.+)$", re.M)
    for path in (ROOT / "attnlab").rglob("*.py"):
        for dots, target, names in pattern.findall(path.read_text()):
            privates = [n.strip(" ()") for n in names.split(",") if n.strip(" ()").startswith("_")]
            if privates and not target.startswith("_") and target != "errors":
                assert len(dots) == 1, f"{path.relative_to(ROOT)} imports {privates} from {dots}{target}"
