"""Fractal trajectory and fractal loss landscape of one window (Sec. III.3-III.4, Eq. 8-9).

Every pairwise quantity comes from one matrix of squared distances per window,
``D[i, j] = ||x_i||^2 + ||x_j||^2 - 2 x_i . x_j`` (one Gram matrix), and contour lengths from prefix
sums of the exact step lengths: no Python loops over pairs. Memory is O(T^2) (8 MB at T = 1000).

Input units: steps (row t of a window), position units (weights or sketches), loss units.
Binned curves use log-spaced bins; exponents are least-squares slopes of log-log curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis._validate import as_series, as_trajectory, log_bin_edges, loglog_fit

__all__ = [
    "ContourScaling", "MeanSquaredLoss", "TransverseScaling",
    "contour_scaling", "mean_squared_loss", "pairwise_sq_distances", "transverse_distance",
]

NUM_BINS = 32  # log-spaced bins of a binned curve
MIN_PAIRS = 20  # bins with fewer pairs are reported but not fitted
MIN_SEGMENT_BINS = 3  # bins per segment of the two-segment contour fit


@dataclass(frozen=True)
class ContourScaling:
    """End-to-end distance against contour length over all pairs of a window (Sec. III.3).

    R ~ L_c^(1 / d_f). Attributes: `d_f_short`, `d_f_long` (fractal dimensions below / above the
    crossover; NaN where R does not grow), `crossover_length` (contour length at the split, position
    units), the binned curve `contour_length` and `end_to_end` (geometric means of L_c and of R per
    bin), `counts` (pairs per bin, int), and `reason` (empty when every field is defined).
    """

    d_f_short: float
    d_f_long: float
    crossover_length: float
    contour_length: np.ndarray = field(repr=False)
    end_to_end: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    reason: str = ""


@dataclass(frozen=True)
class TransverseScaling:
    """Transverse excursion against end-to-end distance (Sec. III.3).

    For each separation n (steps) in `separation`: `end_to_end` is the RMS chord length
    ||x_{i+n} - x_i|| and `transverse` the RMS over i of the largest distance of x_{i+1..i+n-1} from
    that chord (a segment). `exponent` is the slope of ln transverse on ln end_to_end: about 1 for a
    self-similar path, different from 1 for a self-affine one. `reason` explains a NaN exponent.
    """

    exponent: float
    separation: np.ndarray = field(repr=False)
    end_to_end: np.ndarray = field(repr=False)
    transverse: np.ndarray = field(repr=False)
    reason: str = ""


@dataclass(frozen=True)
class MeanSquaredLoss:
    """MSL(d) = mean over pairs at distance d of (L_i - L_j)^2, in log-spaced bins (Eq. 9).

    Attributes: `msl_exponent` (slope of ln MSL on ln d over bins with enough pairs; 2H for a
    fractal landscape of Hurst exponent H, Eq. 8), `distance` (position
    units: geometric mean of the pair distances in each bin), `msl` (loss units squared), `counts`
    (pairs per bin), `reason`.
    """

    msl_exponent: float
    distance: np.ndarray = field(repr=False)
    msl: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    reason: str = ""


def pairwise_sq_distances(x) -> np.ndarray:
    """Squared Euclidean distances between all rows of a window from one Gram matrix.

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions (float32 sketches are upcast); the window mean is subtracted first to limit
        cancellation in ``||x_i||^2 + ||x_j||^2 - 2 x_i . x_j``.

    Returns
    -------
    ndarray, shape (T, T)
        Symmetric, zero diagonal, non-negative; squared position units.
    """
    arr = as_trajectory(x).astype(np.float64)
    arr = arr - arr.mean(axis=0)
    gram = arr @ arr.T
    sq = np.diag(gram).copy()
    dist = sq[:, None] + sq[None, :] - 2.0 * gram
    np.maximum(dist, 0.0, out=dist)
    np.fill_diagonal(dist, 0.0)
    return dist


def contour_scaling(
    x,
    step_norm,
    *,
    num_bins: int = NUM_BINS,
    min_pairs: int = MIN_PAIRS,
    min_separation: int = 2,
    max_fraction: float = 0.5,
    sq_dist: np.ndarray | None = None,
) -> ContourScaling:
    """Fractal dimension of the path from contour length vs end-to-end distance (Sec. III.3).

    For steps i < j of the window, ``L_c(i, j) = sum_{t=i+1}^{j} step_norm[t]`` (exactly j - i step
    lengths) and ``R(i, j) = ||x_j - x_i||``. Pairs are binned by L_c (log-spaced); per bin L_c and R
    are averaged in log (geometric means, exact for a straight path whatever the bin holds). Two
    lines are fitted to ln R against ln L_c over bins with at least `min_pairs` pairs and
    L_c <= `max_fraction` of the window's total contour length, split at the bin that minimises the
    total squared residual (each side spans at least a quarter of the fitted bins): d_f = 1 / slope.

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions of one window.
    step_norm : array_like, shape (T,)
        ``step_norm[t] = ||w(t) - w(t-1)||`` (exact, from the shards); entry 0 is not used.
    num_bins, min_pairs : int, keyword-only
        Number of bins; bins with fewer pairs are left out of the fit.
    min_separation : int, keyword-only
        Smallest j - i used. The default 2 leaves out adjacent pairs, where R = L_c by
        construction (with exact steps), which would pin d_f_short to 1.
    max_fraction : float, keyword-only
        Largest contour length fitted, as a fraction of the window's total: the longest fragments
        all overlap (a few independent samples), like the MSD near lag T - 1.
    sq_dist : ndarray, shape (T, T), keyword-only
        Precomputed :func:`pairwise_sq_distances` of `x`, to share one Gram matrix per window.

    Returns
    -------
    ContourScaling
        NaN dimensions with a `reason` for a path that does not move or does not spread.
    """
    arr = as_trajectory(x)
    n_steps = arr.shape[0]
    steps = as_series(step_norm, name="step_norm", length=n_steps)
    if np.any(steps < 0):
        raise ValueError("step_norm has negative entries; pass step lengths ||w(t) - w(t-1)|| >= 0")
    if not 1 <= min_separation <= n_steps - 1:
        raise ValueError(f"min_separation must lie in 1..T-1 = 1..{n_steps - 1} steps, got {min_separation}")
    dist = _sq_dist(arr, sq_dist)
    i, j = np.triu_indices(n_steps, k=min_separation)
    prefix = np.concatenate(([0.0], np.cumsum(steps[1:])))  # prefix[t] = sum_{s=1}^{t} step_norm[s]
    length = prefix[j] - prefix[i]
    centres, r_geo, counts = _binned_mean(length, np.sqrt(dist[i, j]), num_bins=num_bins, log_value=True)
    if centres.size == 0:
        reason = "the path does not move (all step_norm zero)"
        return ContourScaling(np.nan, np.nan, np.nan, centres, r_geo, counts, reason)
    ok = (counts >= min_pairs) & (r_geo > 0) & (centres <= max_fraction * prefix[-1])
    return _two_segment_dimension(centres, r_geo, counts, ok)


def transverse_distance(
    x, *, num_separations: int = 24, sq_dist: np.ndarray | None = None
) -> TransverseScaling:
    """Largest distance of a fragment from its chord, against the chord length (Sec. III.3).

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions of one window.
    num_separations : int, keyword-only
        Log-spaced separations n = j - i in 2..T-1; every start i is used for each.
    sq_dist : ndarray, shape (T, T), keyword-only
        Precomputed :func:`pairwise_sq_distances` of `x`.

    Returns
    -------
    TransverseScaling

    Notes
    -----
    With ``a = D[i, t]``, ``b = D[t, j]``, ``c = D[i, j]``, the distance of x_t from the segment
    x_i x_j is ``sqrt(a - p^2)`` with ``p = (a + c - b) / (2 sqrt(c))`` when 0 <= p <= sqrt(c), else
    the distance to the nearer end. Cost O(T^2 * num_separations) operations from D alone.
    """
    arr = as_trajectory(x)
    n_steps = arr.shape[0]
    dist = _sq_dist(arr, sq_dist)
    seps = np.unique(np.round(np.geomspace(2, n_steps - 1, num_separations)).astype(np.int64))
    chord = np.array([np.sqrt(np.mean(np.diagonal(dist, offset=n))) for n in seps])
    excursion = np.array([_rms_max_excursion(dist, n) for n in seps])
    # squared distances from a Gram matrix carry ~1e-16 * extent^2 of round-off: excursions below
    # 1e-6 of the largest chord are a straight path, not a measurement
    ok = (chord > 0) & (excursion > 1e-6 * chord.max(initial=0.0))
    if ok.sum() < 2:
        reason = "no transverse excursion (straight or static path)" if seps.size > 1 else (
            "window too short for two separations")
        return TransverseScaling(np.nan, seps, chord, excursion, reason)
    slope = loglog_fit(chord[ok], excursion[ok])[0]
    return TransverseScaling(slope, seps, chord, excursion)


def mean_squared_loss(
    x,
    loss,
    *,
    num_bins: int = NUM_BINS,
    min_pairs: int = MIN_PAIRS,
    max_fraction: float = 0.5,
    sq_dist: np.ndarray | None = None,
) -> MeanSquaredLoss:
    """Mean squared loss difference against distance over all pairs of a window (Eq. 9).

    ``MSL(d) = 1 / N_d * sum_{pairs at distance d} (L_i - L_j)^2``: the mean of squares per
    log-spaced distance bin (the authors' code squared the mean instead).

    Parameters
    ----------
    x : array_like, shape (T, k)
        Positions of one window.
    loss : array_like, shape (T,)
        Loss at each row of `x` (aligned: loss[t] = L(w(t))).
    num_bins, min_pairs : int, keyword-only
        Number of bins; bins with fewer pairs are left out of the fit.
    max_fraction : float, keyword-only
        Largest distance fitted, as a fraction of the largest bin's distance. Along one path the
        largest distances are spanned by one long displacement shared by all their pairs, which
        biases ln MSL low there; the fit stops at half the extent by default.
    sq_dist : ndarray, shape (T, T), keyword-only
        Precomputed :func:`pairwise_sq_distances` of `x`.

    Returns
    -------
    MeanSquaredLoss
        A NaN exponent with a `reason` when the path does not move or the loss is constant.
    """
    arr = as_trajectory(x)
    n_steps = arr.shape[0]
    values = as_series(loss, name="loss", length=n_steps)
    dist = _sq_dist(arr, sq_dist)
    i, j = np.triu_indices(n_steps, k=1)
    centres, msl, counts = _binned_mean(np.sqrt(dist[i, j]), (values[i] - values[j]) ** 2, num_bins=num_bins)
    ok = (counts >= min_pairs) & (msl > 0) & (centres <= max_fraction * centres.max(initial=0.0))
    if centres.size == 0:
        return MeanSquaredLoss(np.nan, centres, msl, counts, "the path does not move (all distances zero)")
    if ok.sum() < 2:
        reason = f"fewer than 2 bins with >= {min_pairs} pairs and MSL > 0"
        return MeanSquaredLoss(np.nan, centres, msl, counts, reason)
    slope = loglog_fit(centres[ok], msl[ok])[0]
    return MeanSquaredLoss(slope, centres, msl, counts)


def _sq_dist(arr: np.ndarray, sq_dist: np.ndarray | None) -> np.ndarray:
    if sq_dist is None:
        return pairwise_sq_distances(arr)
    n_steps = arr.shape[0]
    if np.shape(sq_dist) != (n_steps, n_steps):
        raise ValueError(
            f"sq_dist has shape {np.shape(sq_dist)} but x has {n_steps} steps; "
            "pass pairwise_sq_distances(x) of the same window"
        )
    return np.asarray(sq_dist, dtype=np.float64)


def _binned_mean(key: np.ndarray, value: np.ndarray, *, num_bins: int, log_value: bool = False):
    """Average `value` in log-spaced bins of `key > 0`; empty bins dropped.

    Returns (geometric mean of key per bin, mean of value per bin, counts). With `log_value` the
    value is averaged as a geometric mean too (for positive values; zeros count as tiny).
    """
    pos = key > 0
    key, value = key[pos], value[pos]
    if key.size == 0:
        return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
    edges = log_bin_edges(key.min(), max(key.max(), key.min() * (1 + 1e-9)), num_bins)
    idx = np.clip(np.searchsorted(edges, key, side="right") - 1, 0, num_bins - 1)
    counts = np.bincount(idx, minlength=num_bins)
    filled = counts > 0
    log_key = np.bincount(idx, weights=np.log(key), minlength=num_bins)[filled] / counts[filled]
    if log_value:
        logs = np.log(np.maximum(value, np.finfo(float).tiny))
        mean = np.exp(np.bincount(idx, weights=logs, minlength=num_bins)[filled] / counts[filled])
    else:
        mean = np.bincount(idx, weights=value, minlength=num_bins)[filled] / counts[filled]
    return np.exp(log_key), mean, counts[filled]


def _two_segment_dimension(centres, r_geo, counts, ok) -> ContourScaling:
    """Split ln R(ln L_c) into two least-squares lines at the best shared bin."""
    lx, ly = centres[ok], r_geo[ok]
    if lx.size < 2:
        reason = "fewer than 2 bins with enough pairs"
        return ContourScaling(np.nan, np.nan, np.nan, centres, r_geo, counts, reason)
    min_bins = max(MIN_SEGMENT_BINS, lx.size // 4)
    if lx.size < 2 * min_bins - 1:
        d_f = _dimension(loglog_fit(lx, ly)[0])
        reason = "too few bins for two segments; one fit"
        return ContourScaling(d_f, d_f, np.nan, centres, r_geo, counts, reason)
    best = min(
        range(min_bins - 1, lx.size - min_bins + 1),
        key=lambda b: _sse(lx[: b + 1], ly[: b + 1]) + _sse(lx[b:], ly[b:]),
    )
    d_short = _dimension(loglog_fit(lx[: best + 1], ly[: best + 1])[0])
    d_long = _dimension(loglog_fit(lx[best:], ly[best:])[0])
    grows = np.isfinite(d_short) and np.isfinite(d_long)
    reason = "" if grows else "end-to-end distance does not grow with contour length"
    return ContourScaling(d_short, d_long, float(lx[best]), centres, r_geo, counts, reason)


def _sse(x: np.ndarray, y: np.ndarray) -> float:
    _, _, rmse = loglog_fit(x, y)
    return rmse**2 * x.size


def _dimension(slope: float) -> float:
    """d_f = 1 / slope of ln R on ln L_c; NaN when R does not grow (slope <= 0)."""
    return 1.0 / slope if slope > 0 else np.nan


def _rms_max_excursion(dist: np.ndarray, n: int, *, max_block: int = 2_000_000) -> float:
    """RMS over starts i of max_{i<t<i+n} distance of x_t from the segment x_i x_{i+n}."""
    starts_all = np.arange(dist.shape[0] - n)
    offsets = np.arange(1, n)
    block = max(1, max_block // max(1, n - 1))
    sq_max = np.empty(starts_all.size)
    for lo in range(0, starts_all.size, block):  # blocks of starts bound memory for long windows
        starts = starts_all[lo : lo + block, None]
        a = dist[starts, starts + offsets]
        b = dist[starts + offsets, starts + n]
        c = dist[starts, starts + n]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(c > 0, (a + c - b) / (2 * np.sqrt(c)), -1.0)
        inside = (p >= 0) & (p <= np.sqrt(c))
        d2 = np.where(inside, a - p**2, np.minimum(a, b))
        sq_max[lo : lo + block] = np.maximum(d2, 0.0).max(axis=1)
    return float(np.sqrt(sq_max.mean()))
