"""Loss fluctuations over training: |L(t+1) - L(t)| and the moving variance of L (Fig. 5e-f).

Input units: steps (entry t is the minibatch loss L_{B_t}(w(t))) and loss units. Output: loss units
(``abs_dloss``) and loss units squared (``moving_var``), one value per step, ready for
``loss_fluctuations.parquet`` (keyed by step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._validate import as_series

__all__ = ["LossFluctuations", "loss_fluctuations"]

WINDOW = 100  # steps in the sliding window of the moving variance (paper: 100)
CHUNK = 16384  # windows per block of the strided variance


@dataclass(frozen=True)
class LossFluctuations:
    """Per-step loss fluctuations.

    Attributes
    ----------
    step : ndarray of int64, shape (T,)
        Step index t (offset by `first_step`).
    abs_dloss : ndarray, shape (T,)
        ``|L(t+1) - L(t)|``; NaN at the last step (no successor).
    moving_var : ndarray, shape (T,)
        Population variance of L over the trailing window ``t - window + 1 .. t``; NaN for the
        first ``window - 1`` steps.
    window : int
        Window length in steps.
    """

    step: np.ndarray = field(repr=False)
    abs_dloss: np.ndarray = field(repr=False)
    moving_var: np.ndarray = field(repr=False)
    window: int = WINDOW


def loss_fluctuations(loss, *, window: int = WINDOW, first_step: int = 0) -> LossFluctuations:
    """|dL| per step and the moving variance of the loss over a sliding window (Sec. III.2).

    Parameters
    ----------
    loss : array_like, shape (T,)
        Loss per step, contiguous steps.
    window : int, keyword-only
        Sliding-window length in steps (paper: 100); at least 2 and at most T.
    first_step : int, keyword-only
        Step number of ``loss[0]``, used for the `step` column.

    Returns
    -------
    LossFluctuations

    Raises
    ------
    ValueError
        NaN / inf losses, fewer than 3 steps, or a window outside 2..T.

    Notes
    -----
    The moving variance is the exact two-pass variance of each window, taken over a strided view
    in blocks of windows (memory bounded by ``CHUNK * window`` values), not a difference of prefix
    sums, which loses precision when late-training variances are tiny next to the early losses.
    """
    values = as_series(loss, name="loss")
    n_steps = values.size
    if not 2 <= window <= n_steps:
        raise ValueError(f"window must lie in 2..T = 2..{n_steps} steps, got {window}; use a shorter window")
    abs_dloss = np.full(n_steps, np.nan)
    abs_dloss[:-1] = np.abs(np.diff(values))
    moving_var = np.full(n_steps, np.nan)
    moving_var[window - 1 :] = _sliding_variance(values, window)
    step = np.arange(first_step, first_step + n_steps, dtype=np.int64)
    return LossFluctuations(step=step, abs_dloss=abs_dloss, moving_var=moving_var, window=int(window))


def _sliding_variance(values: np.ndarray, window: int) -> np.ndarray:
    """Population variance of every length-`window` slice, shape (T - window + 1,)."""
    views = np.lib.stride_tricks.sliding_window_view(values, window)
    out = np.empty(views.shape[0])
    for lo in range(0, views.shape[0], CHUNK):
        out[lo : lo + CHUNK] = views[lo : lo + CHUNK].var(axis=1)
    return out
