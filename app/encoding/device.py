"""The DEVICE setting resolved to a torch device: auto, cpu or cuda."""

from __future__ import annotations

import torch

from app.config import DEVICES


def resolve_device(device: str) -> str:
    """auto picks CUDA when available, else the CPU; asking for CUDA without one is an error."""
    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}': use one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA device is available")
    return device
