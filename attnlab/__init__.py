"""attnlab: attention, from words to frames — the package behind the book.

The core every chapter uses: scaled dot-product attention three ways (teaching, fused, tiled),
a drop-in multi-head attention, masks and their conventions, and a way to read attention maps.
"""

from . import data, exercises
from .capture import capture_attention
from .clip import LayerNorm, QuickGELU, ResidualAttentionBlock, Transformer, VisionTransformer
from .cost import attention_flops, attention_traffic, count_flops, scores_bytes
from .device import available_devices, default_device
from .errors import AttnLabError
from .functional import IMPLS, attention_logits, attention_weights, scaled_dot_product_attention
from .heads import merge_heads, split_heads
from .masks import (
    additive_to_bool,
    bool_to_additive,
    causal_mask,
    combine_masks,
    from_mha_mask,
    key_padding_to_mask,
    padding_mask,
    to_mha_mask,
)
from .measure import matmul_gflops, peak_memory, time_interleaved
from .mha import MultiHeadAttention, project_heads
from .prompt import VideoSpecificPrompt
from .ran import ResidualAttentionModule, ResidualUnit
from .timesformer import DividedSpaceTimeBlock
from .video import (
    CrossFrameAttentionBlock,
    CrossFrameCommunicationTransformer,
    DropPath,
    MultiframeIntegrationTransformer,
)

__version__ = "0.1.0"

__all__ = [
    "IMPLS",
    "AttnLabError",
    "CrossFrameAttentionBlock",
    "CrossFrameCommunicationTransformer",
    "DividedSpaceTimeBlock",
    "DropPath",
    "LayerNorm",
    "MultiHeadAttention",
    "MultiframeIntegrationTransformer",
    "QuickGELU",
    "ResidualAttentionBlock",
    "ResidualAttentionModule",
    "ResidualUnit",
    "Transformer",
    "VideoSpecificPrompt",
    "VisionTransformer",
    "__version__",
    "additive_to_bool",
    "attention_flops",
    "attention_logits",
    "attention_traffic",
    "attention_weights",
    "available_devices",
    "bool_to_additive",
    "capture_attention",
    "causal_mask",
    "combine_masks",
    "count_flops",
    "data",
    "default_device",
    "exercises",
    "from_mha_mask",
    "key_padding_to_mask",
    "matmul_gflops",
    "merge_heads",
    "padding_mask",
    "peak_memory",
    "project_heads",
    "scaled_dot_product_attention",
    "scores_bytes",
    "split_heads",
    "time_interleaved",
    "to_mha_mask",
]
