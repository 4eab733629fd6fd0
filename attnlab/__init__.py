"""attnlab: attention, from words to frames — the package behind the book.

Three kinds of code, for three kinds of reader:

- the attention core, flat and small: :mod:`.functional` and :mod:`.tiled` (scaled dot-product attention
  three ways), :mod:`.heads`, :mod:`.masks`, :mod:`.mha` (a drop-in multi-head attention),
  :mod:`.capture` (reading attention maps), :mod:`.positions` (sinusoidal and rotary positions),
  :mod:`.errors`, :mod:`.device`, and :mod:`.cost` and :mod:`.measure` (what attention costs, counted and
  measured);
- the paper models, grouped by paper: :mod:`.models` (CLIP, the Residual Attention Network, X-CLIP,
  divided space-time attention, loading their checkpoints, and the fixed-mixing baseline);
- book support: :mod:`.data`, :mod:`.training`, :mod:`.tasks` (the book's small trained models),
  :mod:`.decoding` (greedy generation with a key/value cache), :mod:`.plotting`, :mod:`.widgets` and
  :mod:`.exercises`.
"""

from . import data, decoding, exercises, models, tasks, training
from .capture import capture_attention
from .cost import attention_flops, attention_traffic, count_flops, scores_bytes, xclip_macs
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
from .models import (
    CLIP,
    XCLIP,
    CLIPConfig,
    CrossFrameAttentionBlock,
    CrossFrameCommunicationTransformer,
    DividedSpaceTimeBlock,
    DropPath,
    FixedMixing,
    LayerNorm,
    MultiframeIntegrationTransformer,
    QuickGELU,
    ResidualAttentionBlock,
    ResidualAttentionModule,
    ResidualUnit,
    Transformer,
    VideoSpecificPrompt,
    VisionTransformer,
    XCLIPConfig,
    load_clip,
    load_xclip,
)
from .positions import apply_rope, rope_frequencies, rotate_half, sinusoidal_positions
from .rollout import attention_rollout

__version__ = "0.1.0"

__all__ = [
    "CLIP",
    "IMPLS",
    "XCLIP",
    "AttnLabError",
    "CLIPConfig",
    "CrossFrameAttentionBlock",
    "CrossFrameCommunicationTransformer",
    "DividedSpaceTimeBlock",
    "DropPath",
    "FixedMixing",
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
    "XCLIPConfig",
    "__version__",
    "additive_to_bool",
    "apply_rope",
    "attention_flops",
    "attention_logits",
    "attention_rollout",
    "attention_traffic",
    "attention_weights",
    "available_devices",
    "bool_to_additive",
    "capture_attention",
    "causal_mask",
    "combine_masks",
    "count_flops",
    "data",
    "decoding",
    "default_device",
    "exercises",
    "from_mha_mask",
    "key_padding_to_mask",
    "load_clip",
    "load_xclip",
    "matmul_gflops",
    "merge_heads",
    "models",
    "padding_mask",
    "peak_memory",
    "project_heads",
    "rope_frequencies",
    "rotate_half",
    "scaled_dot_product_attention",
    "scores_bytes",
    "sinusoidal_positions",
    "split_heads",
    "tasks",
    "time_interleaved",
    "to_mha_mask",
    "training",
    "xclip_macs",
]
