"""Input checks and small numerical helpers shared by the analysis modules.

Private: every public analysis function validates its arrays here, so that the messages say the same
thing everywhere ("what is wrong" plus "what to do").
"""

from __future__ import annotations

import numpy as np

MIN_STEPS = 3  # shortest window any analysis accepts (positions)


def as_trajectory(x, *, name: str = "x", min_steps: int = MIN_STEPS) -> np.ndarray:
    """Return `x` as a 2-D array (T, k), checking shape, size and finiteness.

    A 1-D array of length T is read as one coordinate, shape (T, 1). The dtype is kept when it is
    floating (float32 sketches stay float32; callers upcast chunk by chunk), else float64.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (T, k) (steps x coordinates), got shape {arr.shape}; "
            "reshape it to one row per step"
        )
    check_window_length(arr.shape[0], name=name, min_steps=min_steps)
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no coordinates (shape {arr.shape}); pass at least one column")
    check_finite(arr, name=name)
    return arr


def as_series(y, *, name: str, length: int | None = None, min_steps: int = MIN_STEPS) -> np.ndarray:
    """Return `y` as a finite 1-D float64 array, optionally of a given length."""
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per step), got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but the trajectory has {length} steps; "
            f"pass one {name} value per row of the trajectory (same window)"
        )
    check_window_length(arr.shape[0], name=name, min_steps=min_steps)
    check_finite(arr, name=name)
    return arr


def check_window_length(n: int, *, name: str, min_steps: int = MIN_STEPS) -> None:
    """Raise ValueError when a window holds fewer than `min_steps` entries."""
    if n < min_steps:
        raise ValueError(
            f"{name} holds {n} steps, fewer than the {min_steps} needed; "
            "use a longer window (the paper uses T = 1000)"
        )


def check_finite(arr: np.ndarray, *, name: str) -> None:
    """Raise ValueError naming how many NaN / inf entries `arr` holds."""
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(arr.size - finite.sum() - n_nan)
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} inf values; drop or repair those steps "
            "(for example a diverged trial) before the analysis"
        )


def loglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line of ln y on ln x: (slope, intercept, rmse in natural-log units).

    NaN triple when fewer than two points are given.
    """
    if x.size < 2:
        return np.nan, np.nan, np.nan
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    return float(slope), float(intercept), float(np.sqrt(np.mean(resid**2)))


def log_bin_edges(lo: float, hi: float, num_bins: int) -> np.ndarray:
    """`num_bins + 1` log-spaced edges covering [lo, hi] (hi widened by a hair so it is included)."""
    return np.geomspace(lo, hi * (1 + 1e-12), num_bins + 1)
