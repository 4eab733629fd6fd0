from __future__ import annotations

import torch

from attnlab import available_devices, default_device, scaled_dot_product_attention


def test_default_device_is_the_fastest_present():
    devices = available_devices()
    assert devices[0] == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if len(devices) > 1 else "cpu")
    assert default_device().type == expected
    assert default_device() in devices


def test_attention_runs_on_every_device(device):
    q = torch.randn(1, 2, 3, 4, device=device)
    assert scaled_dot_product_attention(q, q, q).device.type == device.type
