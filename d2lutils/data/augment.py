"""Data augmentation on batches of images (B, C, H, W), on whatever device they are."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def random_crop(x: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Crop every image of a batch (B, C, H, W) at its own random offset after padding."""
    B, C, H, W = x.shape
    padded = F.pad(x, (padding,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * padding + 1, (B, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (B, 1), device=x.device)
    rows = (dy + torch.arange(H, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(W, device=x.device))[:, None, None, :]
    batch = torch.arange(B, device=x.device)[:, None, None, None]
    chans = torch.arange(C, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror each image of a batch left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)
