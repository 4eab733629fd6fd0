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
import torch.nn.functional as F
from torch import nn

from .clip import LayerNorm, Transformer, VisionTransformer
from .errors import AttnLabError, _require, _shape
from .masks import bool_to_additive, causal_mask
from .prompt import VideoSpecificPrompt
from .video import CrossFrameCommunicationTransformer, MultiframeIntegrationTransformer

__all__ = ["CLIP", "XCLIP", "load_clip", "load_xclip", "read_state_dict"]

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
        vision_heads: int | None = None,
    ) -> None:
        super().__init__()
        self.context_length = context_length
        vision_heads = vision_width // 64 if vision_heads is None else vision_heads  # CLIP's rule by default
        self.visual = VisionTransformer(
            image_resolution, vision_patch_size, vision_width, vision_layers, vision_heads, embed_dim
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


def _clip_sizes(state: Mapping[str, torch.Tensor], heads: int | None = None) -> dict[str, int]:
    """CLIP's constructor arguments, read off the shapes of its tensors (heads as given, or width / 64)."""
    vision_width, _, patch, _ = state["visual.conv1.weight"].shape
    grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    width = state["ln_final.weight"].shape[0]
    heads = _heads({"vision": vision_width, "text": width}, heads)
    return dict(
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
    model = CLIP(**_clip_sizes(state, heads))
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()


class XCLIP(CLIP):
    """X-CLIP: CLIP's text tower, a cross-frame video encoder, frame integration and video-specific prompts,
    under X-CLIP's parameter names (``visual.*``, ``mit.*``, ``prompts_generator.*``, ``prompts_visual_*``).

    Shapes:
        encode_video: (B, T, 3, R, R) → video features (B, E) and patch features (B, T, P, E);
        forward(videos, tokens (K, context_length)) → logits (B, K); classify(videos, text (K, E)) → (B, K).
    """

    def __init__(
        self, *, T: int, mit_layers: int = 1, prompts_layers: int = 2, prompts_alpha: float = 0.1, **clip_sizes: int
    ) -> None:
        super().__init__(**clip_sizes)
        E, W = clip_sizes["embed_dim"], clip_sizes["vision_width"]
        self.T = T
        heads = clip_sizes.get("vision_heads") or W // 64
        self.visual = CrossFrameCommunicationTransformer(
            clip_sizes["image_resolution"], clip_sizes["vision_patch_size"], W, clip_sizes["vision_layers"],
            heads, E, T=T,
        )  # fmt: skip
        self.prompts_visual_ln = LayerNorm(W)
        self.prompts_visual_proj = nn.Parameter(torch.randn(W, E))
        self.mit = MultiframeIntegrationTransformer(T, E, mit_layers)
        self.prompts_generator = VideoSpecificPrompt(prompts_layers, E, prompts_alpha)

    def encode_video(self, videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _require(
            videos.dim() == 5 and videos.shape[1] == self.T,
            f"videos must be (B, {self.T}, 3, R, R), got {_shape(videos)}",
        )
        b, t = videos.shape[:2]
        frames, patches = self.visual(videos.flatten(0, 1))  # (B·T, E), (B·T, P, W): frames video-major
        patches = self.prompts_visual_ln(patches) @ self.prompts_visual_proj  # (B·T, P, E)
        frames = frames.view(b, t, -1)  # (B, T, E)
        return self.mit(frames), patches.view(b, t, -1, frames.shape[-1])  # (B, E), (B, T, P, E)

    def classify(self, videos: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """X-CLIP's logits against given text features: prompts from the frame-averaged patches, cosine, scale."""
        video, patches = self.encode_video(videos)
        text = text.unsqueeze(0).expand(video.shape[0], -1, -1)  # (B, K, E)
        text = text + self.prompts_generator(text, patches.mean(dim=1))  # video tokens: patches averaged over T
        video, text = F.normalize(video, dim=-1), F.normalize(text, dim=-1)
        return torch.einsum("bd,bkd->bk", video, self.logit_scale.exp() * text)  # (B, K)

    def forward(self, videos: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.classify(videos, self.encode_text(tokens))


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
    model = XCLIP(
        T=state["mit.positional_embedding"].shape[1],
        mit_layers=_count_layers(state, "mit."),
        prompts_layers=len({k.split(".")[2] for k in state if k.startswith("prompts_generator.decoder.")}),
        **_clip_sizes(state, heads),
    )
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()
