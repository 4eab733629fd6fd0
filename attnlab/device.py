"""Where to run: CUDA when there is a GPU, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

__all__ = ["available_devices", "default_device"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def default_device() -> torch.device:
    """The fastest device present: ``cuda``, else ``mps``, else ``cpu``.

    Everything in attnlab also runs on the CPU; the chapters are sized for it.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    """Every kind of device present, the CPU first (the test suite runs on each)."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if _mps_available():
        devices.append(torch.device("mps"))
    return devices
