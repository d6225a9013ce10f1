"""Seeded synthetic landscapes for the simple model (Sec. III.5, Eq. 10) and the box-counting tests.

Every generator returns heights ``z`` on a square grid of ``size = 2^n + 1`` points per side covering
the domain [-1, 1]^2, indexed ``z[i, j] = z(x_i, y_j)`` with ``x_i = y_i = -1 + 2 i / (size - 1)``
(first axis x, "ij" indexing). Heights are in arbitrary loss units; the simple model walks on
``U = 10 - z``, so a walker descends U by climbing z.

Fractal surfaces (Eq. 8: height differences at distance d have variance ~ d^(2H)):

- :func:`midpoint_displacement`: diamond-square, the displacement std multiplied by 2^-H per level
  (the authors' generator halves it: nominal H = 1; METHODS.md measured H about 0.8).
- :func:`spectral_synthesis`: Fourier filtering, power spectrum ~ f^-(2H+2), generated on a grid twice
  as wide and cropped (the periodic wrap-around of an FFT field is worst at half its period).

Controls: :func:`shuffled_smooth` (the same heights pixel-shuffled, then Gaussian-smoothed: no long-range
correlation), :func:`paraboloid` and :func:`cone` (convex bowls). Check a fractal generator's Hurst
exponent from its :func:`variogram` (slope 2H) before using it as truth: both generators are fBm only
approximately at the smallest and largest lags.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft
from scipy.ndimage import gaussian_filter

__all__ = [
    "ROUGHNESS", "grid_axis", "midpoint_displacement", "spectral_synthesis", "shuffled_smooth",
    "paraboloid", "cone", "variogram", "variogram_hurst",
]

ROUGHNESS = 3.0 / np.sqrt(12.0)  # authors: uniform displacement of width 3 (std 0.866) at the first level
SMOOTH_SIGMA_PX = 8.0  # authors' Gaussian kernel on the shuffled 1025 x 1025 landscape (pixels)


def grid_axis(size: int) -> np.ndarray:
    """Coordinates of the grid lines, shape (size,): ``linspace(-1, 1, size)`` (domain units)."""
    _check_size(size)
    return np.linspace(-1.0, 1.0, size)


def midpoint_displacement(size: int, *, hurst: float = 1.0, roughness: float = ROUGHNESS, seed: int = 0) -> np.ndarray:
    """Fractal surface by midpoint displacement (the diamond-square algorithm).

    Parameters
    ----------
    size : int
        Points per side, 2^n + 1 (the paper: 1025).
    hurst : float, keyword-only
        H in (0, 1]: the displacement std is multiplied by 2^-H per level (1 halves it, as the
        authors' generator did with its "roughness 3, halved per level").
    roughness : float, keyword-only
        Std of the first-level displacement (the centre point), height units. The default 0.866 is
        the std of the authors' uniform displacement of width 3.
    seed : int, keyword-only
        Seed of numpy's default generator; the same seed gives the same surface.

    Returns
    -------
    z : ndarray, shape (size, size)
        Heights; the four corners are 0.

    Notes
    -----
    Level k = 1..n works on squares of side ``step = (size - 1) / 2^(k-1)`` pixels: the diamond step
    sets each square's centre to the mean of its 4 corners plus N(0, s_k^2), ``s_k = roughness *
    2^(-H (k-1))``; the square step sets each edge midpoint to the mean of its 4 (3 on the border)
    neighbours plus N(0, (s_k 2^(-H/2))^2) (the half-level factor keeps the two sub-steps on one
    scaling law). Gaussian, not uniform, displacements. The variogram H over lags 2..32 of 257 x 257
    comes out below the nominal H: about 0.44, 0.67 and 0.79 for H = 0.5, 0.8 and 1 (mean of 3 seeds;
    the authors' halving, H = 1, measures about 0.8 as METHODS.md says).
    """
    levels = _check_size(size)
    _check_hurst(hurst)
    rng = np.random.default_rng(seed)
    z = np.zeros((size, size))
    step, std = size - 1, float(roughness)
    for _ in range(levels):
        half = step // 2
        corners = z[:-1:step, :-1:step] + z[step::step, :-1:step] + z[:-1:step, step::step] + z[step::step, step::step]
        z[half::step, half::step] = corners / 4.0 + rng.normal(0.0, std, corners.shape)
        _square_step(z, step, std * 2.0 ** (-hurst / 2.0), rng)
        step, std = half, std * 2.0**-hurst
    return z


def _square_step(z: np.ndarray, step: int, std: float, rng: np.random.Generator) -> None:
    """Set the edge midpoints of every square of side `step` in place (diamond centres already set)."""
    half, n = step // 2, z.shape[0]
    for i0, j0 in ((0, half), (half, 0)):
        ii, jj = np.arange(i0, n, step), np.arange(j0, n, step)
        total = np.zeros((ii.size, jj.size))
        count = np.zeros_like(total)
        for di, dj in ((-half, 0), (half, 0), (0, -half), (0, half)):
            vi, vj = (ii + di >= 0) & (ii + di < n), (jj + dj >= 0) & (jj + dj < n)
            total[np.ix_(vi, vj)] += z[np.ix_(ii[vi] + di, jj[vj] + dj)]
            count[np.ix_(vi, vj)] += 1.0
        z[np.ix_(ii, jj)] = total / count + rng.normal(0.0, std, total.shape)


def spectral_synthesis(size: int, *, hurst: float = 0.8, roughness: float = ROUGHNESS, seed: int = 0) -> np.ndarray:
    """Fractional Brownian surface by spectral synthesis: power spectrum ~ f^-(2H+2).

    Parameters
    ----------
    size : int
        Points per side, 2^n + 1.
    hurst : float, keyword-only
        H in (0, 1).
    roughness : float, keyword-only
        Expected RMS height difference at a lag of half the grid width, ``(size - 1) / 2`` pixels
        along an axis (height units).
    seed : int, keyword-only
        Seed of numpy's default generator.

    Returns
    -------
    z : ndarray, shape (size, size)
        Heights with expected variogram ``roughness^2 (lag / ((size - 1) / 2))^(2H)`` at intermediate lags.

    Notes
    -----
    White Gaussian noise on a periodic grid of ``2 (size - 1)`` points per side is filtered by the
    amplitude ``|f|^-(H+1)`` (mean mode removed) in Fourier space and cropped to its first
    ``size x size`` points. The scale comes from the expected covariance (inverse FFT of the
    power spectrum), not from the sample, so surfaces of different seeds share one scale. The finite grid
    bends the variogram at both ends: on 257 x 257 its expected slope over lags 2..32 gives H = 0.51 for
    H = 0.5 and 0.75 for H = 0.8 (0.60 and 0.81 over lags 1..4).
    """
    _check_size(size)
    _check_hurst(hurst, allow_one=False)
    n_big = 2 * (size - 1)
    kx, ky = sp_fft.fftfreq(n_big), sp_fft.rfftfreq(n_big)
    freq = np.hypot(kx[:, None], ky[None, :])
    freq[0, 0] = np.inf  # no mean mode
    amp = freq ** -(hurst + 1.0)
    white = np.random.default_rng(seed).standard_normal((n_big, n_big))
    field = sp_fft.irfft2(sp_fft.rfft2(white) * amp, s=(n_big, n_big))[:size, :size]
    cov = sp_fft.irfft2(amp**2, s=(n_big, n_big))  # expected covariance of the field at each lag
    gamma_half = 2.0 * (cov[0, 0] - cov[(size - 1) // 2, 0])
    return field * (roughness / np.sqrt(gamma_half))


def shuffled_smooth(surface, *, sigma_px: float = SMOOTH_SIGMA_PX, seed: int = 0) -> np.ndarray:
    """The control landscape: the same heights pixel-shuffled, then Gaussian-smoothed.

    Keeps the height distribution's pixel values but destroys their spatial correlation; the smoothing
    (``scipy.ndimage.gaussian_filter``, reflecting borders) makes it differentiable at scales above
    `sigma_px`. The authors also raised the result to the power 0.7; that is not done here.

    Parameters
    ----------
    surface : array_like, shape (size, size)
        Heights to shuffle (e.g. a :func:`midpoint_displacement` surface).
    sigma_px : float, keyword-only
        Kernel standard deviation in pixels (the authors: 8 on a 1025 x 1025 grid).
    seed : int, keyword-only
        Seed of the permutation.

    Returns
    -------
    z : ndarray, shape (size, size)
    """
    arr = np.asarray(surface, dtype=np.float64)
    _check_square(arr)
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be > 0 pixels, got {sigma_px}")
    shuffled = np.random.default_rng(seed).permutation(arr.ravel()).reshape(arr.shape)
    return gaussian_filter(shuffled, sigma=float(sigma_px), mode="reflect")


def paraboloid(size: int, *, depth: float = 1.0) -> np.ndarray:
    """Convex bowl of U = 10 - z: ``z = -depth (x^2 + y^2)``, shape (size, size); top z = 0 at the centre.

    Gradient descent on U with learning rate eta contracts w by ``1 - 2 depth eta`` per step.
    """
    x = grid_axis(size)
    return -float(depth) * (x[:, None] ** 2 + x[None, :] ** 2)


def cone(size: int, *, depth: float = 1.0) -> np.ndarray:
    """Cone of U = 10 - z: ``z = -depth sqrt(x^2 + y^2)``, shape (size, size) (the authors' convex control).

    Its gradient has the constant magnitude `depth` (height units per domain unit) everywhere but the
    tip, so gradient descent moves at the constant speed ``eta depth`` towards it: ballistic, MSD ~ lag^2.
    """
    x = grid_axis(size)
    return -float(depth) * np.hypot(x[:, None], x[None, :])


def variogram(surface, lags) -> np.ndarray:
    """Mean squared height difference at integer pixel lags along both axes (Eq. 8's variance).

    Parameters
    ----------
    surface : array_like, shape (size, size)
        Heights.
    lags : array_like of int, shape (m,)
        Lags in pixels, each in 1..size-1.

    Returns
    -------
    gamma : ndarray, shape (m,)
        ``mean((z[i + lag, j] - z[i, j])^2)`` pooled with the same along the second axis, height units
        squared. For fBm of Hurst exponent H, gamma ~ lag^(2H).
    """
    arr = np.asarray(surface, dtype=np.float64)
    _check_square(arr)
    lag_arr = np.asarray(lags).astype(int).ravel()
    if lag_arr.size == 0 or lag_arr.min() < 1 or lag_arr.max() > arr.shape[0] - 1:
        raise ValueError(f"lags must lie in 1..{arr.shape[0] - 1} pixels, got {lag_arr.tolist()[:8]}")
    gamma = np.empty(lag_arr.size)
    for k, lag in enumerate(lag_arr):
        dx, dy = arr[lag:, :] - arr[:-lag, :], arr[:, lag:] - arr[:, :-lag]
        gamma[k] = (np.sum(dx * dx) + np.sum(dy * dy)) / (dx.size + dy.size)
    return gamma


def variogram_hurst(surface, *, lags=None) -> float:
    """Hurst exponent H = slope / 2 of ln variogram on ln lag.

    Parameters
    ----------
    surface : array_like, shape (size, size)
    lags : array_like of int, keyword-only
        Pixel lags to fit; default 12 log-spaced lags from 2 to (size - 1) / 8 (the range where both
        generators follow their power law; lag 1 and lags near the grid width are biased).

    Returns
    -------
    hurst : float
    """
    arr = np.asarray(surface, dtype=np.float64)
    _check_square(arr)
    if lags is None:
        lags = np.unique(np.geomspace(2, max(4, (arr.shape[0] - 1) // 8), 12).round().astype(int))
    lag_arr = np.asarray(lags, dtype=int)
    slope = np.polyfit(np.log(lag_arr), np.log(variogram(arr, lag_arr)), 1)[0]
    return float(slope / 2.0)


def _check_size(size: int) -> int:
    """Number of levels n of a grid of 2^n + 1 points; ValueError otherwise."""
    n = int(size) - 1
    if int(size) != size or n < 2 or n & (n - 1):
        raise ValueError(f"size must be 2^n + 1 points with n >= 1 (e.g. 257, 513, 1025), got {size}")
    return n.bit_length() - 1


def _check_hurst(hurst: float, *, allow_one: bool = True) -> None:
    ok = 0.0 < hurst <= 1.0 if allow_one else 0.0 < hurst < 1.0
    if not ok:
        raise ValueError(f"hurst must lie in (0, 1{']' if allow_one else ')'}, got {hurst}")


def _check_square(arr: np.ndarray) -> None:
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 3:
        raise ValueError(f"surface must be a square 2-D array of at least 3 x 3, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("surface contains NaN or inf heights")
