"""What attention costs, counted: FLOPs and bytes. (Time and memory are measured in :mod:`attnlab.measure`.)

Counts are exact and deterministic: :func:`attention_flops`, :func:`scores_bytes` and
:func:`attention_traffic` are formulas; :func:`count_flops` asks PyTorch's ``FlopCounterMode``, which also
works on ``torch.device("meta")`` tensors, so a full-size model is counted in milliseconds without memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from .errors import _require

__all__ = [
    "attention_flops",
    "attention_traffic",
    "count_flops",
    "scores_bytes",
    "xclip_macs",
]

_FUSED = ("sdpa", "tiled", "fused")


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        _require(isinstance(value, int) and value >= 1, f"{name} must be a positive int, got {value!r}")


def attention_flops(B: int, H: int, L: int, S: int, E: int, Ev: int | None = None) -> int:
    """FLOPs of the two matrix products of attention, ``Q Kᵀ`` and ``A V``, two per multiply-accumulate.

    The softmax's B·H·L·S exponentials are not counted (nor are they by ``FlopCounterMode``).

    Shapes:
        q (B, H, L, E), k (B, H, S, E), v (B, H, S, Ev) → a number; Ev defaults to E.
    """
    Ev = E if Ev is None else Ev
    _check_sizes(B=B, H=H, L=L, S=S, E=E, Ev=Ev)
    return 2 * B * H * L * S * (E + Ev)


def scores_bytes(B: int, H: int, L: int, S: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of one (B, H, L, S) matrix of scores (or of weights) in ``dtype``.

    Shapes:
        (B, H, L, S) → a number of bytes
    """
    _check_sizes(B=B, H=H, L=L, S=S)
    return B * H * L * S * torch.empty((), dtype=dtype).element_size()


def attention_traffic(
    B: int,
    H: int,
    L: int,
    S: int,
    E: int,
    *,
    impl: str,
    dtype: torch.dtype = torch.float32,
    query_block: int = 256,
) -> int:
    """Bytes moved between memory and the processor by one attention call, in a simple model.

    ``impl="manual"``: q, k, v read and the output written once, plus four passes over the (L, S) matrix:
    ``Q Kᵀ`` writes the scores, the softmax reads them and writes the weights, ``A V`` reads the weights.
    ``impl="sdpa"``, ``"tiled"`` or ``"fused"``: no (L, S) matrix leaves the cache; q is read and the output
    written once, k and v are read once per block of ``query_block`` queries.

    Shapes:
        q (B, H, L, E), k and v (B, H, S, E) → a number of bytes
    """
    _check_sizes(B=B, H=H, L=L, S=S, E=E, query_block=query_block)
    _require(impl == "manual" or impl in _FUSED, f"unknown impl {impl!r}; expected 'manual' or one of {_FUSED}")
    item = torch.empty((), dtype=dtype).element_size()
    if impl == "manual":
        elements = 2 * L * E + 2 * S * E + 4 * L * S  # q and out; k and v; scores out, in, weights out, in
    else:
        elements = 2 * L * E + 2 * S * E * math.ceil(L / query_block)
    return B * H * elements * item


def count_flops(fn: Callable[..., object], *args: object, **kwargs: object) -> dict[str, int]:
    """FLOPs of ``fn(*args, **kwargs)`` as ``FlopCounterMode`` counts them: per operator, and ``"total"``.

    Operators are named as PyTorch names them, e.g. ``"aten.bmm"`` (attention's ``Q Kᵀ`` and ``A V`` on
    attnlab's explicit path), ``"aten.addmm"`` (linear layers), ``"aten.convolution"``. Works on meta tensors.

    Shapes:
        whatever ``fn`` takes → {operator: FLOPs}
    """
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    counts = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {**counts, "total": int(counter.get_total_flops())}


def xclip_macs(
    patch: int,
    frames: int = 8,
    classes: int = 400,
    resolution: int = 224,
) -> dict[str, float]:
    """G multiply-accumulates of X-CLIP ViT-B/``patch`` classifying one video.

    Counted as X-CLIP's table counts: its "GFLOPs" are multiply-accumulates
    (1 MAC = 2 FLOPs). The video side of :class:`~attnlab.models.xclip.XCLIP`, built
    on ``torch.device("meta")``, attnlab's explicit attention included, with the text
    features of ``classes`` class names given (Kinetics-400 has 400). In G MACs:

    - ``"encoder"``: the cross-frame encoder and the one-layer MIT;
    - ``"core"``: their ``Q Kᵀ`` and ``A V`` products (``aten.bmm``);
    - ``"whole"``: all of ``XCLIP.classify``, which adds the projection of the
      patch tokens and the video-specific prompt generator.

    Shapes:
        a video (1, frames, 3, resolution, resolution), text (classes, 512) → G MACs
    """
    from .models.clip import CLIPConfig  # here: the models import attnlab's modules
    from .models.xclip import XCLIP, XCLIPConfig

    _check_sizes(patch=patch, frames=frames, classes=classes, resolution=resolution)
    _require(
        resolution % patch == 0,
        f"resolution {resolution} is not a multiple of the patch size {patch}",
    )
    with torch.device("meta"):
        clip = CLIPConfig(  # CLIP ViT-B's sizes, which X-CLIP B/16 and B/32 keep
            embed_dim=512, image_resolution=resolution, vision_layers=12,
            vision_width=768, vision_patch_size=patch, context_length=77,
            vocab_size=49408, transformer_width=512, transformer_heads=8,
            transformer_layers=12,
        )  # fmt: skip
        model = XCLIP(XCLIPConfig(clip, T=frames))
        video = torch.empty(1, frames, 3, resolution, resolution)  # (B, T, 3, R, R)
        text = torch.empty(classes, clip.embed_dim)  # (K, E)

        def encode() -> torch.Tensor:  # the encoder and MIT alone
            features = model.visual(video.flatten(0, 1))[0]  # (T, E)
            return model.mit(features.view(1, frames, -1))  # (1, E)

        encoder = count_flops(encode)
        whole = count_flops(model.classify, video, text)["total"]
    flops = {"encoder": encoder["total"], "core": encoder.get("aten.bmm", 0)}
    return {**{k: n / 2e9 for k, n in flops.items()}, "whole": whole / 2e9}
