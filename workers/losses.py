"""Training losses: cross-entropy, and KL(target || softmax) with label-smoothed targets.

With smoothing 0 the target is one-hot, target * log(target) vanishes, and KL equals cross-entropy
exactly (values and gradients); KL is a distinct experiment only with soft targets.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def smoothed_targets(y: torch.Tensor, num_classes: int, smoothing: float, dtype=torch.float32) -> torch.Tensor:
    """(b,) labels -> (b, classes) targets (1 - s) one_hot + s / classes."""
    return F.one_hot(y, num_classes).to(dtype) * (1.0 - smoothing) + smoothing / num_classes


def kl_loss(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Mean over the batch of KL(target || softmax(logits)) = sum_c t_c (log t_c - log p_c)."""
    t = smoothed_targets(y, logits.shape[1], smoothing, logits.dtype)
    return (torch.special.xlogy(t, t) - t * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def make_loss(name: str, *, smoothing: float = 0.0):
    """-> loss(logits, y) averaged over the batch; name "ce" or "kl"."""
    if name == "ce":
        return F.cross_entropy
    if name == "kl":
        return lambda logits, y: kl_loss(logits, y, smoothing)
    raise ValueError(f"loss: {name!r} is not allowed; use ce or kl")
