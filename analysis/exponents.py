"""Diffusion exponents of an MSD curve: single power law, crossover tau0, regime (Eq. 5-6).

Input units are steps (lags) and squared position units (MSD). Exponents are dimensionless slopes
of ln MSD against ln lag; ``tau0`` is in steps.

All fits use log-spaced lags (``num_lags`` of them between the smallest and the largest positive lag,
duplicates removed), not every integer lag: the time-averaged MSD is thin near lag T - 1 (few pairs)
and would dominate a fit over every integer lag, breaking the RMSE rule on a clean power law.
RMSE values are root-mean-square residuals of ln MSD (natural logarithm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis._validate import as_series, loglog_fit

__all__ = ["ExponentFit", "fit_exponents", "log_derivative"]

RMSE_THRESHOLD = 0.03  # paper: the std of all RMSE values of its run (ln-MSD units)
NUM_LAGS = 48  # log-spaced lags used by every fit
MIN_POINTS = 5  # fewest log-spaced lags a segment fit above tau0 may use


@dataclass(frozen=True)
class ExponentFit:
    """Exponents of one MSD curve (one row of ``exponents.parquet``).

    Attributes
    ----------
    tau0 : float
        Crossover lag in steps: the smallest fitted lag from which a single power law up to the
        largest lag has RMSE < threshold. NaN in regime 2 (no crossover) or when no lag qualifies.
    alpha_below : float
        Exponent fitted on lags in [smallest lag, tau0]; NaN when that segment has < 2 lags.
    alpha_above : float
        Exponent fitted on lags in [tau0, largest lag]; NaN when tau0 is NaN.
    alpha_single : float
        Exponent of one power law over all fitted lags.
    rmse_single : float
        RMSE (ln MSD) of that single fit.
    regime : int
        2 when the single fit has RMSE < threshold (one segment), 1 otherwise (two segments);
        0 when the curve cannot be fitted (see `reason`).
    reason : str
        Empty when every field is defined, else why some are NaN.
    """

    tau0: float
    alpha_below: float
    alpha_above: float
    alpha_single: float
    rmse_single: float
    regime: int
    reason: str = ""


def fit_exponents(
    lags,
    msd,
    *,
    rmse_threshold: float = RMSE_THRESHOLD,
    num_lags: int = NUM_LAGS,
    min_points: int = MIN_POINTS,
) -> ExponentFit:
    """Fit MSD ~ lag^alpha once and in two segments split at tau0 (Eq. 5, Sec. II.2).

    Parameters
    ----------
    lags : array_like, shape (n,)
        Lags in steps, increasing (typically ``arange(T)``); lags <= 0 are ignored.
    msd : array_like, shape (n,)
        MSD at those lags (squared position units), e.g. from
        :func:`analysis.msd.time_averaged_msd`.
    rmse_threshold : float, keyword-only
        RMSE (ln MSD) below which a power law counts as a fit: the paper's 0.03.
    num_lags : int, keyword-only
        Number of log-spaced lags the fits use.
    min_points : int, keyword-only
        Fewest log-spaced lags in the segment above tau0.

    Returns
    -------
    ExponentFit
        NaN fields with a `reason` (never an exception) for a legitimate curve without a segment,
        e.g. a constant trajectory (MSD = 0).

    Raises
    ------
    ValueError
        Mismatched lengths, NaN / inf, fewer than 3 lags, or decreasing lags.

    Notes
    -----
    Regime 2 (t_w >= t_c in the paper) when the single fit over all lags has RMSE < threshold: then
    tau0, alpha_below and alpha_above are NaN (one segment, reported in ``alpha_single``).
    Otherwise regime 1 and tau0 is the smallest log-spaced lag such that the fit on [tau0, largest
    lag] has RMSE < threshold (with at least `min_points` lags); for a plateau followed by a power
    law this lands 2-3x above the analytic crossover, where the plateau stops bending the fit.
    """
    lag_arr, msd_arr = _fit_points(lags, msd, num_lags=num_lags)
    if lag_arr.size < 3:
        reason = "MSD is zero at every positive lag (constant trajectory)" if lag_arr.size == 0 else (
            "fewer than 3 positive lags with MSD > 0")
        return ExponentFit(np.nan, np.nan, np.nan, np.nan, np.nan, 0, reason)
    alpha_single, _, rmse_single = loglog_fit(lag_arr, msd_arr)
    if rmse_single < rmse_threshold:
        return ExponentFit(np.nan, np.nan, np.nan, alpha_single, rmse_single, 2)
    i0 = _crossover_index(lag_arr, msd_arr, rmse_threshold=rmse_threshold, min_points=min_points)
    if i0 is None:
        reason = f"no lag from which a single power law has RMSE < {rmse_threshold}"
        return ExponentFit(np.nan, np.nan, np.nan, alpha_single, rmse_single, 1, reason)
    alpha_above = loglog_fit(lag_arr[i0:], msd_arr[i0:])[0]
    alpha_below = loglog_fit(lag_arr[: i0 + 1], msd_arr[: i0 + 1])[0]
    return ExponentFit(float(lag_arr[i0]), alpha_below, alpha_above, alpha_single, rmse_single, 1)


def log_derivative(lags, msd, *, bandwidth: float = 0.25, num_grid: int = 96) -> np.ndarray:
    """Local exponent beta(lag) = d ln MSD / d ln lag, smoothed in ln lag (Eq. 6).

    A local linear regression of ln MSD on ln lag with a Gaussian kernel of width `bandwidth` (in
    ln lag) is evaluated on `num_grid` log-spaced lags and interpolated back. On an exact power law
    it returns the exponent exactly; on a noisy curve it averages over about +-`bandwidth` in ln lag
    (the paper used a finite difference over 20 lags, which is unusable on noisy curves).

    Parameters
    ----------
    lags : array_like, shape (n,)
        Lags in steps; lags <= 0 and points with MSD <= 0 give NaN.
    msd : array_like, shape (n,)
        MSD at those lags (squared position units).
    bandwidth : float, keyword-only
        Kernel standard deviation in ln lag (0.25: a factor 1.28 either side).
    num_grid : int, keyword-only
        Number of log-spaced lags the regression is evaluated at.

    Returns
    -------
    beta : ndarray, shape (n,)
        Dimensionless local exponent at each input lag.
    """
    lag_arr = as_series(lags, name="lags")
    msd_arr = as_series(msd, name="msd", length=lag_arr.size)
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be > 0 (ln-lag units), got {bandwidth}")
    beta = np.full(lag_arr.shape, np.nan)
    ok = (lag_arr > 0) & (msd_arr > 0)
    if ok.sum() < 2:
        return beta
    u, v = np.log(lag_arr[ok]), np.log(msd_arr[ok])
    grid = np.linspace(u.min(), u.max(), num_grid)
    spacing = np.gradient(u) if u.size > 1 else np.ones(1)  # weight points by the ln-lag they cover
    w = spacing[None, :] * np.exp(-0.5 * ((u[None, :] - grid[:, None]) / bandwidth) ** 2)
    sw = w.sum(axis=1, keepdims=True)
    du = u[None, :] - (w @ u)[:, None] / sw
    dv = v[None, :] - (w @ v)[:, None] / sw
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (w * du * dv).sum(axis=1) / (w * du * du).sum(axis=1)
    beta[ok] = np.interp(u, grid, slope)
    return beta


def _fit_points(lags, msd, *, num_lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated log-spaced (lag, msd) points with lag > 0 and msd > 0."""
    lag_arr = as_series(lags, name="lags")
    msd_arr = as_series(msd, name="msd", length=lag_arr.size)
    if np.any(np.diff(lag_arr) <= 0):
        raise ValueError("lags must be strictly increasing; sort (lags, msd) by lag first")
    if np.any(msd_arr < 0):
        raise ValueError("msd has negative values; pass a mean squared displacement (>= 0)")
    keep = (lag_arr > 0) & (msd_arr > 0)
    lag_arr, msd_arr = lag_arr[keep], msd_arr[keep]
    idx = _log_spaced_positions(lag_arr, num_lags)
    return lag_arr[idx], msd_arr[idx]


def _log_spaced_positions(lag_arr: np.ndarray, num: int) -> np.ndarray:
    """Positions in `lag_arr` nearest to `num` log-spaced targets between its ends (unique)."""
    if lag_arr.size <= num:
        return np.arange(lag_arr.size)
    targets = np.geomspace(lag_arr[0], lag_arr[-1], num)
    pos = np.searchsorted(lag_arr, targets).clip(1, lag_arr.size - 1)
    left_closer = np.log(targets) - np.log(lag_arr[pos - 1]) < np.log(lag_arr[pos]) - np.log(targets)
    return np.unique(np.where(left_closer, pos - 1, pos))


def _crossover_index(lag_arr, msd_arr, *, rmse_threshold: float, min_points: int) -> int | None:
    """Smallest index i with RMSE of the power-law fit on lag_arr[i:] below the threshold."""
    for i in range(1, lag_arr.size - min_points + 1):
        if loglog_fit(lag_arr[i:], msd_arr[i:])[2] < rmse_threshold:
            return i
    return None
