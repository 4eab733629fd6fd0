"""Build attnlab's CLIP and X-CLIP models from a checkpoint on the reader's disk. Nothing is downloaded.

    clip = load_clip("ViT-B-32.pt")        # a state dict, or CLIP's TorchScript archive
    clip.visual(images)                     # (N, 512)
    with capture_attention(clip.visual) as maps: ...

    xclip = load_xclip("k400_32_8.pth")     # X-CLIP's training checkpoint, or its bare state dict
    video_features, frame_patches = xclip.encode_video(videos)  # videos (B, T, 3, 224, 224)

Sizes (widths, layers, patch size, context length) are read off the tensors' shapes, as CLIP's own
``build_model`` does. A checkpoint does not record its head count: every released model has
width / 64 heads, which is the default, and ``heads=`` gives another count.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping

import torch

from ..errors import AttnLabError, _require
from .clip import CLIP, CLIPConfig
from .xclip import XCLIP, XCLIPConfig

__all__ = ["clip_config", "load_clip", "load_xclip", "read_state_dict"]

_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")  # integers beside the tensors


def read_state_dict(path: str | os.PathLike, *, trusted: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: a saved state dict, a training checkpoint holding one under
    ``"model"`` or ``"state_dict"`` (keys' ``module.`` prefixes removed), or CLIP's TorchScript archive.

    Files are unpickled with ``weights_only=True``. Training checkpoints that also pickle other objects
    (X-CLIP's saves its config) need ``trusted=True``, which runs the file's pickle code: only for files
    you trust.
    """
    path = os.fspath(path)
    _require(os.path.isfile(path), f"no checkpoint file at {path!r}")
    if _is_torchscript(path):  # OpenAI's released CLIP files are TorchScript archives
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load's; the files are what they are
            return dict(torch.jit.load(path, map_location="cpu").state_dict())
    try:
        state = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0]
        raise AttnLabError(
            f"{path!r} pickles more than tensors ({first_line}); if you trust the file, pass trusted=True"
        ) from None
    for wrapper in ("state_dict", "model"):  # X-CLIP saves {"model": state dict, "optimizer": …, "epoch": …}
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    _require(isinstance(state, Mapping), f"{path!r} holds a {type(state).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}  # saved from DistributedDataParallel


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive is a zip holding compiled code beside the tensors; torch.save's is not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def _count_layers(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"resblocks\.(\d+)\.")
    return len({m.group(1) for k in state if (m := pattern.match(k))})


def _heads(widths: dict[str, int], heads: int | None) -> int | None:
    """Check ``heads`` (or CLIP's width / 64 when None) against every tower's width."""
    if heads is None:
        odd = {name: w for name, w in widths.items() if w % 64}
        _require(
            not odd,
            "the checkpoint does not record its head count and CLIP's rule, width / 64, does not fit: "
            + ", ".join(f"{name} width {w}" for name, w in odd.items())
            + "; pass heads=",
        )
        return None
    bad = {name: w for name, w in widths.items() if heads <= 0 or w % heads}
    _require(not bad, f"heads={heads} must divide every width: " + ", ".join(f"{n} {w}" for n, w in bad.items()))
    return heads


def clip_config(state: Mapping[str, torch.Tensor], heads: int | None = None) -> CLIPConfig:
    """CLIP's sizes, read off the shapes of a CLIP or X-CLIP state dict's tensors, as CLIP's ``build_model``
    does; ``heads`` as given, or CLIP's width / 64 (which a checkpoint cannot confirm)."""
    vision_width, _, patch, _ = state["visual.conv1.weight"].shape
    grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    width = state["ln_final.weight"].shape[0]
    heads = _heads({"vision": vision_width, "text": width}, heads)
    return CLIPConfig(
        embed_dim=state["text_projection"].shape[1],
        image_resolution=patch * grid,
        vision_layers=_count_layers(state, "visual.transformer."),
        vision_width=vision_width,
        vision_patch_size=patch,
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
        transformer_width=width,
        transformer_heads=width // 64 if heads is None else heads,
        transformer_layers=_count_layers(state, "transformer."),
        vision_heads=vision_width // 64 if heads is None else heads,
    )


def _checked_state(
    path: str | os.PathLike, needed: tuple[str, ...], what: str, trusted: bool, hint: str = ""
) -> dict[str, torch.Tensor]:
    state = {k: v for k, v in read_state_dict(path, trusted=trusted).items() if k not in _EXTRA_KEYS}
    missing = [k for k in needed if k not in state]
    if missing:
        raise AttnLabError(f"{os.fspath(path)!r} is not {what}: no {missing[0]}{hint}")
    return state


_CLIP_KEYS = ("visual.conv1.weight", "visual.positional_embedding", "visual.proj", "token_embedding.weight")


def load_clip(
    path: str | os.PathLike, dtype: torch.dtype = torch.float32, *, heads: int | None = None, trusted: bool = False
) -> CLIP:
    """Build a :class:`CLIP` from a checkpoint file and load its weights (``strict=True``), in eval mode.

    ``heads``: the head count of both towers, for a checkpoint that does not follow CLIP's width / 64 (the
    file cannot tell; a wrong count loads without error and computes something else).
    """
    hint = " (attnlab builds the ViT image encoders, not CLIP's ResNets)"
    state = _checked_state(path, _CLIP_KEYS, "a CLIP ViT checkpoint", trusted, hint)
    model = CLIP(clip_config(state, heads))
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()


_XCLIP_KEYS = (*_CLIP_KEYS, "mit.positional_embedding", "prompts_visual_proj", "prompts_generator.alpha")


def load_xclip(
    path: str | os.PathLike, dtype: torch.dtype = torch.float32, *, heads: int | None = None, trusted: bool = False
) -> XCLIP:
    """Build an :class:`XCLIP` from an X-CLIP checkpoint file (``strict=True``), in eval mode.

    Sizes come from the tensors: frames T from ``mit.positional_embedding``, layers by counting blocks.
    ``heads`` sets the head count of the video and text encoders, as in :func:`load_clip`; frame
    integration and the prompts keep X-CLIP's embed_dim / 64.
    X-CLIP's released files pickle their training config beside the weights: pass ``trusted=True`` for
    those (see :func:`read_state_dict`).
    """
    state = _checked_state(path, _XCLIP_KEYS, "an X-CLIP checkpoint", trusted)
    config = XCLIPConfig(
        clip_config(state, heads),
        T=state["mit.positional_embedding"].shape[1],
        mit_layers=_count_layers(state, "mit."),
        prompts_layers=len({k.split(".")[2] for k in state if k.startswith("prompts_generator.decoder.")}),
    )
    model = XCLIP(config)
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()
