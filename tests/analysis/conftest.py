"""Seeded synthetic trajectories with known answers, shared by the analysis tests.

Exposed as fixtures (``make_fbm``, ``make_brownian``) so that test modules need no package import
path; each returns a plain generator function.
"""

from __future__ import annotations

import numpy as np
import pytest


def fractional_gaussian_noise(n: int, k: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """Exact fGn with unit variance, shape (n, k), by Davies-Harte circulant embedding.

    Autocovariance gamma(j) = (|j+1|^2H - 2|j|^2H + |j-1|^2H) / 2; the circulant of size 2n has
    non-negative eigenvalues for every H in (0, 1), so the sample is exact.
    """
    j = np.arange(n + 1, dtype=np.float64)
    two_h = 2.0 * hurst
    gamma = 0.5 * (np.abs(j + 1) ** two_h - 2 * j**two_h + np.abs(j - 1) ** two_h)
    row = np.concatenate([gamma, gamma[-2:0:-1]])  # length 2n
    eig = np.fft.fft(row).real
    if eig.min() < -1e-9 * eig.max():
        raise AssertionError("circulant embedding is not positive semi-definite")
    eig = np.clip(eig, 0.0, None)
    m = row.size
    z = rng.standard_normal((m, k)) + 1j * rng.standard_normal((m, k))
    out = np.fft.fft(np.sqrt(eig / m)[:, None] * z, axis=0)
    return out.real[:n]


def fbm(n_steps: int, k: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """fBm positions, shape (n_steps, k), x[0] = 0, E||x[t+lag] - x[t]||^2 = k lag^(2H)."""
    incr = fractional_gaussian_noise(n_steps - 1, k, hurst, rng)
    return np.vstack([np.zeros((1, k)), np.cumsum(incr, axis=0)])


def brownian(n_steps: int, k: int, rng: np.random.Generator, *, diffusion: float = 0.5) -> np.ndarray:
    """Brownian positions, shape (n_steps, k), per-coordinate steps N(0, 2D): MSD = 2 D k lag."""
    steps = rng.normal(scale=np.sqrt(2 * diffusion), size=(n_steps - 1, k))
    return np.vstack([np.zeros((1, k)), np.cumsum(steps, axis=0)])


@pytest.fixture(scope="session")
def make_fbm():
    return fbm


@pytest.fixture(scope="session")
def make_brownian():
    return brownian
