"""Linear random sketches of weight displacements: S x with E ||S x||^2 = ||x||^2.

CountSketch (Charikar et al. 2002): parameter i goes to bucket h(i) in [0, k) with sign s(i) = +-1, and
(S x)_b = sum over h(i) = b of s(i) x_i. S is linear, so S(w(t) - w(t')) = S(w(t) - w(0)) - S(w(t') - w(0)):
every distance between recorded steps is an unbiased estimate of the true squared distance, with
relative variance about 2 / k. Applied on the device with one index_add, never a k x N matrix.
"""
from __future__ import annotations

import torch


class CountSketch:
    kind = "countsketch"

    def __init__(self, num_params: int, dim: int, *, seed: int = 0, device="cpu"):
        g = torch.Generator().manual_seed(seed)
        self.dim, self.seed = dim, seed
        self.bucket = torch.randint(0, dim, (num_params,), generator=g).to(device)
        self.sign = (torch.randint(0, 2, (num_params,), generator=g) * 2 - 1).to(torch.float32).to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., N) -> (..., k)."""
        out = torch.zeros(*x.shape[:-1], self.dim, dtype=x.dtype, device=x.device)
        return out.index_add_(-1, self.bucket, x * self.sign.to(x.dtype))


class ExactSketch:
    """The identity: stores the full displacement (k = N); for small models."""
    kind = "exact"

    def __init__(self, num_params: int, dim: int = 0, *, seed: int = 0, device="cpu"):
        self.dim, self.seed = num_params, seed

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def make_sketch(kind: str, num_params: int, dim: int, *, seed: int = 0, device="cpu"):
    cls = {"countsketch": CountSketch, "exact": ExactSketch}.get(kind)
    if cls is None:
        raise ValueError(f"sketch_kind: {kind!r} is not allowed; use countsketch or exact")
    return cls(num_params, dim, seed=seed, device=device)


def sample_coordinates(num_params: int, m: int, *, seed: int = 0) -> torch.Tensor:
    """m distinct parameter indices (sorted), fixed by the seed; all of them when m >= N."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(num_params, generator=g)[:min(m, num_params)].sort().values
