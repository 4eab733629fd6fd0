"""Chapter 5's claims about its trained models: the order task's MIT and X-CLIP, their prompts, and the
vote model (CFA + mean, E = 2) the chapter trains for its explorer.

``measure(seed)`` trains them as the chapter does (``attnlab.tasks.video_models``: the same data, sizes,
steps and learning rates), with ``seed`` setting every model's initialisation and batch order. The data
sets stay fixed, as in the chapter. The task × architecture matrix is not measured here: it is itself a
five-seed measurement (``benchmarks/video_matrix.py``), stored in the package and asserted on in the
chapter as stored.
"""

from __future__ import annotations

import copy

import torch

from attnlab.capture import capture_attention
from attnlab.tasks.video_models import ORDER, accuracy_of, order_data, train, train_prompts, vote_data, vote_setup
from benchmarks.claims import Claim

CLAIMS = (
    Claim("order_mit", "order task: MIT's test accuracy >= 95 %", low=0.95),
    Claim("order_xclip", "order task: X-CLIP's test accuracy >= 95 %", low=0.95),
    Claim("order_blind", "the trained encoders with a mean over frames: accuracy <= 60 % (both)", high=0.6),
    Claim(
        "square_ratio",
        "X-CLIP's class token: weight on the square's patch / an average background patch's < 1",
        high=1.0,
    ),
    Claim("prompted", "X-CLIP with video-specific prompts: test accuracy >= 95 %", low=0.95),
    Claim("blind_xclip", "X-CLIP with MIT's positions zeroed: accuracy <= 60 %", high=0.6),
    Claim("vote_cfa", "the vote, E = 2: the CFA + mean model the chapter trains, accuracy >= 35 %", low=0.35),
    Claim(
        "vote_frame0_moves",
        "its frame 0's feature moves (> 1e-4) when the other frames are swapped, in > 90 % of videos",
        low=0.9,
    ),
)


def _order_claims(seed: int) -> dict[str, float]:
    train_set, test_x, test_y, test_cells = order_data()
    models = {name: train(name, ORDER, train_set, seed=seed) for name in ("MIT", "X-CLIP")}
    out = {
        "order_mit": accuracy_of(models["MIT"], test_x, test_y),
        "order_xclip": accuracy_of(models["X-CLIP"], test_x, test_y),
    }
    blind_accuracy = []
    for name in ("MIT", "X-CLIP"):
        mean_model = copy.deepcopy(models[name])
        mean_model.mit = None  # CLIP-mean and CFA + mean, with the trained encoders
        blind_accuracy.append(accuracy_of(mean_model, test_x, test_y))
    out["order_blind"] = max(blind_accuracy)
    xclip = models["X-CLIP"]
    with torch.no_grad(), capture_attention(xclip) as maps:
        xclip(test_x)
    ifa = maps["visual.transformer.resblocks.0.attn"]  # (b·T, H, l + 1, l + 1)
    P = (ORDER.size // 4) ** 2
    heads_avg = ifa[:, :, 0, 1:-1].reshape(len(test_x), ORDER.frames, 2, P).mean(dim=2)  # (b, T, P)
    on_square = heads_avg.gather(-1, test_cells[..., None])[..., 0]  # (b, T)
    background = (heads_avg.sum(-1) - on_square) / (P - 1)
    out["square_ratio"] = on_square.mean().item() / background.mean().item()
    prompted = {over: train_prompts(xclip, train_set, over_frames=over, seed=seed) for over in (False, True)}
    out["prompted"] = accuracy_of(prompted[False], test_x, test_y)
    blind = copy.deepcopy(xclip)
    with torch.no_grad():
        blind.mit.positional_embedding.zero_()
    out["blind_xclip"] = accuracy_of(blind, test_x, test_y)
    return out


def _vote_claims(seed: int) -> dict[str, float]:
    vote_train, vote_test = vote_data()
    model = train("CFA + mean", vote_setup(2), vote_train, seed=seed)
    videos = vote_test.videos[:200]
    swapped = torch.cat([videos[:, :1], videos.roll(1, dims=0)[:, 1:]], dim=1)  # frame 0 kept
    with torch.no_grad():
        moved = model.frame_features(swapped)[:, 0] - model.frame_features(videos)[:, 0]
    return {
        "vote_cfa": accuracy_of(model, vote_test.videos, vote_test.labels),
        "vote_frame0_moves": (moved.norm(dim=-1) > 1e-4).float().mean().item(),
    }


def measure(seed: int) -> dict[str, float]:
    return _order_claims(seed) | _vote_claims(seed)
