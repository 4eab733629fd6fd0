"""The paper models, grouped by the paper they reproduce, each tested equal to the original's semantics.

- :mod:`.clip`: CLIP (Radford et al., 2021): its blocks, image encoder, text tower and model.
- :mod:`.vit`: the Vision Transformer stem CLIP's image encoder and X-CLIP's video encoder share.
- :mod:`.ran`: the Residual Attention Network's attention module (Wang et al., 2017).
- :mod:`.xclip` and :mod:`.xclip_prompt`: X-CLIP (Ni et al., 2022): cross-frame blocks, the video
  encoder, frame integration, video-specific prompts and the model.
- :mod:`.timesformer`: divided space-time attention (Bertasius et al., 2021).
- :mod:`.pretrained`: building these from a checkpoint on disk (``load_clip``, ``load_xclip``).
- :mod:`.mixing`: the fixed-mixing baseline (a learned L×L matrix, no queries or keys).
"""

from .clip import (
    CLIP,
    IMAGE_MEAN,
    IMAGE_STD,
    CLIPConfig,
    LayerNorm,
    QuickGELU,
    ResidualAttentionBlock,
    TextTower,
    Transformer,
    VisionTransformer,
    normalize_images,
)
from .mixing import FixedMixing
from .pretrained import clip_config, load_clip, load_xclip, read_state_dict
from .ran import ResidualAttentionModule, ResidualUnit
from .timesformer import DividedSpaceTimeBlock
from .vit import ViTStem
from .xclip import (
    XCLIP,
    CrossFrameAttentionBlock,
    CrossFrameCommunicationTransformer,
    DropPath,
    MultiframeIntegrationTransformer,
    XCLIPConfig,
)
from .xclip_prompt import VideoSpecificPrompt

__all__ = [
    "CLIP",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "XCLIP",
    "CLIPConfig",
    "CrossFrameAttentionBlock",
    "CrossFrameCommunicationTransformer",
    "DividedSpaceTimeBlock",
    "DropPath",
    "FixedMixing",
    "LayerNorm",
    "MultiframeIntegrationTransformer",
    "QuickGELU",
    "ResidualAttentionBlock",
    "ResidualAttentionModule",
    "ResidualUnit",
    "TextTower",
    "Transformer",
    "ViTStem",
    "VideoSpecificPrompt",
    "VisionTransformer",
    "XCLIPConfig",
    "clip_config",
    "load_clip",
    "load_xclip",
    "normalize_images",
    "read_state_dict",
]
