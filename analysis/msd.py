"""Mean squared displacement of a trajectory window (Eq. 3 and Eq. 4 of the paper).

Input units are steps (row t of a window is the position after t SGD updates counted from the window
start) and whatever units the positions carry (weights, or a linear sketch of the displacement from
w(0)). Output units are those units squared. Raw squared Euclidean distances: no 1/N normalisation.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from analysis._validate import as_trajectory

__all__ = ["time_averaged_msd", "no_averaged_msd", "direct_msd"]

DEFAULT_CHUNK = 256  # coordinates per FFT batch: (2T x 256) complex128 is 8 MB at T = 1000


def time_averaged_msd(x, *, max_lag: int | None = None, chunk_size: int = DEFAULT_CHUNK) -> np.ndarray:
    """Time-averaged mean squared displacement of one window (Eq. 3).

    ``MSD(lag) = 1 / (T - lag) * sum_{t=0}^{T-lag-1} ||x[t + lag] - x[t]||^2`` for every integer
    lag, computed in O(k T log T) time with FFTs instead of the O(k T^2) double sum.

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions of one window, one row per step (a 1-D array is one coordinate). float32 input is
        upcast to float64 chunk by chunk.
    max_lag : int, optional
        Largest lag returned, at most T - 1 (the default).
    chunk_size : int, keyword-only
        Coordinates transformed per FFT batch; bounds memory at about 32 * T * chunk_size bytes.

    Returns
    -------
    msd : ndarray, shape (max_lag + 1,)
        ``msd[lag]`` for lag = 0..max_lag, in squared position units; ``msd[0] = 0``.

    Raises
    ------
    ValueError
        Non-finite positions, fewer than 3 steps, or a `max_lag` outside 1..T-1.

    Notes
    -----
    With ``sq[t] = ||x[t]||^2`` the sum splits into
    ``S1(lag) = sum_{t < T-lag} sq[t] + sum_{t >= lag} sq[t]`` (prefix sums) and the autocorrelation
    ``S2(lag) = sum_t x[t] . x[t + lag]``, taken per coordinate from ``irfft(|rfft(x, 2T)|^2)`` (zero
    padding to 2T removes the circular wrap-around); ``MSD = (S1 - 2 S2) / (T - lag)``. The window
    mean is subtracted first (the MSD is translation invariant) to limit cancellation.
    """
    arr = as_trajectory(x)
    n_steps, n_coords = arr.shape
    max_lag = _check_max_lag(max_lag, n_steps)
    centre = arr.mean(axis=0, dtype=np.float64)
    n_fft = sp_fft.next_fast_len(2 * n_steps, real=True)
    sq = np.zeros(n_steps)
    autocorr = np.zeros(max_lag + 1)
    for start in range(0, n_coords, chunk_size):
        block = arr[:, start : start + chunk_size].astype(np.float64) - centre[start : start + chunk_size]
        sq += np.einsum("tk,tk->t", block, block)
        spec = sp_fft.rfft(block, n=n_fft, axis=0)
        power = (spec.real**2 + spec.imag**2).sum(axis=1)
        autocorr += sp_fft.irfft(power, n=n_fft)[: max_lag + 1]
    cum = np.concatenate(([0.0], np.cumsum(sq)))
    lags = np.arange(max_lag + 1)
    s1 = cum[n_steps - lags] + (cum[n_steps] - cum[lags])
    msd = (s1 - 2.0 * autocorr) / (n_steps - lags)
    msd[0] = 0.0
    return np.maximum(msd, 0.0)


def no_averaged_msd(x) -> np.ndarray:
    """Squared displacement from the first row of the window, without time averaging (Eq. 4).

    ``MSD_na(lag) = ||x[lag] - x[0]||^2`` for lag = 0..T-1.

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions of one window, one row per step.

    Returns
    -------
    msd : ndarray, shape (T,)
        Squared position units; ``msd[0] = 0``.
    """
    arr = as_trajectory(x)
    disp = arr.astype(np.float64) - arr[0].astype(np.float64)
    return np.einsum("tk,tk->t", disp, disp)


def direct_msd(x, *, max_lag: int | None = None) -> np.ndarray:
    """Eq. 3 by its definition, one vectorised difference per lag: O(k T^2), a reference only.

    Same parameters and result as :func:`time_averaged_msd`; used by tests and benchmarks.
    """
    arr = as_trajectory(x).astype(np.float64)
    n_steps = arr.shape[0]
    max_lag = _check_max_lag(max_lag, n_steps)
    msd = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        diff = arr[lag:] - arr[:-lag]
        msd[lag] = np.einsum("tk,tk->", diff, diff) / (n_steps - lag)
    return msd


def _check_max_lag(max_lag: int | None, n_steps: int) -> int:
    if max_lag is None:
        return n_steps - 1
    if not 1 <= int(max_lag) <= n_steps - 1:
        raise ValueError(f"max_lag must lie in 1..T-1 = 1..{n_steps - 1}, got {max_lag}")
    return int(max_lag)
