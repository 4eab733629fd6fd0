"""Build attnlab's CLIP towers from a checkpoint on the reader's disk. Nothing is downloaded.

    clip = load_clip("ViT-B-32.pt")        # a state dict, or CLIP's TorchScript archive
    clip.visual(images)                     # (N, 512)
    with capture_attention(clip.visual) as maps: ...

Sizes (widths, layers, patch size, context length) are read off the tensors' shapes, as CLIP's own
``build_model`` does; heads are width / 64 as in every released model.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .clip import LayerNorm, Transformer, VisionTransformer
from .errors import AttnLabError, _require
from .masks import bool_to_additive, causal_mask

__all__ = ["CLIP", "load_clip", "read_state_dict"]

_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")  # integers beside the tensors


class CLIP(nn.Module):
    """CLIP's two towers under CLIP's own parameter names, so a checkpoint loads with ``strict=True``.

    Shapes:
        encode_image: (N, 3, R, R) → (N, E); encode_text: token ids (N, context_length) → (N, E);
        forward(images, tokens) → logits (N_images, N_texts) and their transpose.
    """

    def __init__(
        self,
        embed_dim: int,
        image_resolution: int,
        vision_layers: int,
        vision_width: int,
        vision_patch_size: int,
        context_length: int,
        vocab_size: int,
        transformer_width: int,
        transformer_heads: int,
        transformer_layers: int,
    ) -> None:
        super().__init__()
        self.context_length = context_length
        self.visual = VisionTransformer(
            image_resolution, vision_patch_size, vision_width, vision_layers, vision_width // 64, embed_dim
        )
        text_mask = bool_to_additive(causal_mask(context_length))  # CLIP's (77, 77): -inf above the diagonal
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads, text_mask)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(0.0))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.positional_embedding  # (N, L, D)
        x = self.ln_final(self.transformer(x.transpose(0, 1)).transpose(0, 1))
        end = tokens.argmax(dim=-1)  # CLIP reads the features at the end-of-text token (the largest id)
        return x[torch.arange(x.shape[0]), end] @ self.text_projection  # (N, E)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CLIP's logits: scaled cosine similarities, (N_images, N_texts) and its transpose."""
        image = F.normalize(self.encode_image(images), dim=-1)
        text = F.normalize(self.encode_text(tokens), dim=-1)
        logits = self.logit_scale.exp() * image @ text.T
        return logits, logits.T


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: a saved state dict, or CLIP's TorchScript archive."""
    path = os.fspath(path)
    _require(os.path.isfile(path), f"no checkpoint file at {path!r}")
    if _is_torchscript(path):  # OpenAI's released CLIP files are TorchScript archives
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load's; the files are what they are
            return dict(torch.jit.load(path, map_location="cpu").state_dict())
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    _require(isinstance(state, Mapping), f"{path!r} holds a {type(state).__name__}, not a state dict")
    return dict(state)


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive is a zip holding compiled code beside the tensors; torch.save's is not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def _count_layers(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"resblocks\.(\d+)\.")
    return len({m.group(1) for k in state if (m := pattern.match(k))})


def load_clip(path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> CLIP:
    """Build a :class:`CLIP` from a checkpoint file and load its weights (``strict=True``), in eval mode."""
    state = {k: v for k, v in read_state_dict(path).items() if k not in _EXTRA_KEYS}
    needed = ("visual.conv1.weight", "visual.positional_embedding", "visual.proj", "token_embedding.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        raise AttnLabError(
            f"{os.fspath(path)!r} is not a CLIP ViT checkpoint: no {missing[0]} "
            "(attnlab builds the ViT image encoders, not CLIP's ResNets)"
        )
    vision_width, _, patch, _ = state["visual.conv1.weight"].shape
    grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    width = state["ln_final.weight"].shape[0]
    model = CLIP(
        embed_dim=state["text_projection"].shape[1],
        image_resolution=patch * grid,
        vision_layers=_count_layers(state, "visual.transformer."),
        vision_width=vision_width,
        vision_patch_size=patch,
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
        transformer_width=width,
        transformer_heads=width // 64,
        transformer_layers=_count_layers(state, "transformer."),
    )
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()
