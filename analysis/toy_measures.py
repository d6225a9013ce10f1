"""Measures of the simple model's walkers (Fig. 8): MSD exponents around the final basin, outcomes,
escapes from local minima, alpha-stable fits of the gradients, and their aggregates per setting.

Pure functions over a :class:`analysis.walker.Walk`, reusing the project's analysis core:
:func:`analysis.msd.time_averaged_msd` (lags up to T/2, the thin long lags left out),
:func:`analysis.exponents.fit_exponents` and :func:`analysis.levy.fit_stable`. Lengths in domain units,
times in steps, gradients in height units per domain unit.

Definitions (``radius`` and ``dwell`` are options of the sweep):

- final basin: entered at the first step from which the walker stays within ``radius`` of its final
  position (:func:`analysis.walker.final_basin_step`); MSD exponents are fitted separately on the path
  before (steps 0..basin_step) and after (basin_step..end), each when it has >= 20 positions.
- outcome, one per walker: ``escaped`` (left [-1, 1]^2), ``converged`` (ends within ``radius`` of the
  grid point of the landscape's global minimum of U), ``trapped`` (neither, and it stayed in its final
  basin for at least the last quarter of the run), ``wandering`` (the rest).
- escapes from local minima: stays of >= ``dwell`` steps within ``radius`` of an anchor point, ended
  by a step outside (:func:`analysis.walker.local_minimum_escapes`); their count and jump lengths.
"""

from __future__ import annotations

import math

import numpy as np

from analysis.exponents import fit_exponents
from analysis.levy import fit_stable, stable_logpdf
from analysis.msd import time_averaged_msd
from analysis.walker import Walk, final_basin_step, local_minimum_escapes

__all__ = ["analyse_walker", "aggregate", "pooled_gradients"]

MIN_SEGMENT = 20  # fewest positions an MSD segment needs for a fit
MIN_GRADIENTS = 50  # fewest gradient components for a stable fit
MSD_POINTS = 24  # log-spaced lags kept per MSD curve in the tables
HIST_BINS = 61  # bins of the pooled gradient histogram
POOLED_SAMPLES = 5000  # gradient components drawn per setting for the pooled fit (as the authors did)


def analyse_walker(walk: Walk, i: int, *, global_min, radius: float, dwell: int) -> tuple[dict, list[dict]]:
    """Measures of walker i (one ``walkers.parquet`` row) and its MSD curves (``msd.parquet`` rows).

    Parameters
    ----------
    walk : Walk
    i : int
        Walker index.
    global_min : array_like, shape (2,)
        Position of the landscape's global minimum of U (domain units).
    radius : float, keyword-only
        Domain units (final basin, convergence, stays).
    dwell : int, keyword-only
        Steps a stay must last to count as a local minimum.

    Returns
    -------
    row : dict
        Scalars: outcome, basin_step, MSD exponents (all / before / after the final basin), escapes
        from local minima, the stable fit of the walker's gradients (both components pooled).
    msd_rows : list of dict
        (segment, lag, msd) at up to 24 log-spaced lags per segment ("all", "before", "after").
    """
    path = walk.path(i)
    steps = walk.positions.shape[1] - 1
    escaped = bool(walk.escaped[i])
    basin = -1 if escaped else final_basin_step(path, radius=radius)
    converged = not escaped and float(np.linalg.norm(path[-1] - np.asarray(global_min))) <= radius
    trapped = not escaped and not converged and basin <= steps - steps // 4
    outcome = "escaped" if escaped else "converged" if converged else "trapped" if trapped else "wandering"
    segments = {"all": path, "before": path if escaped else path[: basin + 1],
                "after": path[basin:] if basin >= 0 else path[:0]}
    row = {"walker": i, "outcome": outcome, "escape_step": int(walk.escape_step[i]), "basin_step": basin,
           "final_x": float(path[-1, 0]), "final_y": float(path[-1, 1]),
           "final_loss": float(walk.loss[i, len(path) - 1]) if not escaped else math.nan}
    msd_rows = []
    for name, seg in segments.items():
        fit, curve = _msd_fit(seg)
        row[f"alpha_{name}"] = fit.alpha_single if fit else math.nan
        if name == "all":
            row.update(tau0=fit.tau0 if fit else math.nan, alpha_below=fit.alpha_below if fit else math.nan,
                       alpha_above=fit.alpha_above if fit else math.nan, regime=fit.regime if fit else 0)
        msd_rows += [{"walker": i, "segment": name, "lag": int(lag), "msd": float(m)} for lag, m in curve]
    jumps = local_minimum_escapes(path, radius=radius, dwell=dwell)
    steps_len = np.linalg.norm(np.diff(path, axis=0), axis=1)
    row.update(n_escapes=int(jumps.size), escape_jump_mean=float(jumps.mean()) if jumps.size else math.nan,
               escape_jump_max=float(jumps.max()) if jumps.size else math.nan,
               step_median=float(np.median(steps_len)) if steps_len.size else math.nan)
    row.update(_levy_fields(walk.gradients[i]))
    return row, msd_rows


def _msd_fit(seg: np.ndarray):
    """(ExponentFit or None, [(lag, msd)] at log-spaced lags) of one path segment, lags up to T/2."""
    if seg.shape[0] < MIN_SEGMENT:
        return None, []
    max_lag = seg.shape[0] // 2
    msd = time_averaged_msd(seg, max_lag=max_lag)
    lags = np.arange(max_lag + 1)
    keep = np.unique(np.geomspace(1, max_lag, MSD_POINTS).round().astype(int))
    return fit_exponents(lags, msd), [(lag, msd[lag]) for lag in keep]


def _levy_fields(gradients: np.ndarray) -> dict:
    g = gradients[np.isfinite(gradients)]
    if g.size < MIN_GRADIENTS or np.ptp(g) == 0:
        return {"levy_alpha": math.nan, "levy_alpha_lo": math.nan, "levy_alpha_hi": math.nan, "levy_llr": math.nan,
                "levy_vuong_p": math.nan}
    fit = fit_stable(g)
    return {"levy_alpha": fit.alpha, "levy_alpha_lo": fit.alpha_lo, "levy_alpha_hi": fit.alpha_hi, "levy_llr": fit.llr,
            "levy_vuong_p": fit.vuong_p}


def aggregate(rows: list[dict]) -> dict:
    """Outcome fractions and medians over the walkers of one setting (one ``settings.parquet`` row).

    Parameters
    ----------
    rows : list of dict
        :func:`analyse_walker` rows of one setting.

    Returns
    -------
    agg : dict
        ``n_walkers``, ``frac_<outcome>`` (sum to 1), ``median_<measure>`` with ``n_<measure>`` (the
        walkers where it is defined) for the MSD exponents, stable fits and escapes, and
        ``frac_llr_positive`` (walkers whose gradients favour the stable law over a Gaussian).
    """
    n = len(rows)
    agg = {"n_walkers": n}
    for outcome in ("escaped", "converged", "trapped", "wandering"):
        agg[f"frac_{outcome}"] = sum(r["outcome"] == outcome for r in rows) / n
    for key in ("alpha_all", "alpha_before", "alpha_after", "alpha_below", "alpha_above", "levy_alpha", "levy_llr",
                "n_escapes", "escape_jump_mean", "step_median"):
        vals = np.array([r[key] for r in rows], dtype=float)
        vals = vals[np.isfinite(vals)]
        agg[f"median_{key}"] = float(np.median(vals)) if vals.size else math.nan
        agg[f"n_{key}"] = int(vals.size)
    agg["frac_llr_positive"] = float(np.mean([r["levy_llr"] > 0 for r in rows]))
    return agg


def pooled_gradients(walk: Walk, seed: int) -> tuple[dict, list[dict]]:
    """Stable fit of gradient components pooled over all walkers of a setting, and its histogram (Fig. 8c).

    Parameters
    ----------
    walk : Walk
    seed : int
        Seeds the draw of at most 5000 components (both axes, every in-domain step), as the authors drew
        5000 entries per window.

    Returns
    -------
    fit : dict
        ``pooled_levy_alpha``, ``pooled_levy_llr`` (stable minus Gaussian log-likelihood) and
        ``pooled_levy_vuong_p``; NaN when fewer than 50 components have any spread.
    hist : list of dict
        61 bins between the 0.1% and 99.9% quantiles: ``gradient`` (bin centre), ``density`` and the
        fitted ``stable_pdf`` and ``normal_pdf`` there.
    """
    g = walk.gradients[np.isfinite(walk.gradients)]
    if g.size < MIN_GRADIENTS or np.ptp(g) == 0:
        return {"pooled_levy_alpha": math.nan, "pooled_levy_llr": math.nan, "pooled_levy_vuong_p": math.nan}, []
    sample = np.random.default_rng([seed, 3]).choice(g, size=min(POOLED_SAMPLES, g.size), replace=False)
    fit = fit_stable(sample)
    lo, hi = np.quantile(sample, [0.001, 0.999])
    density, edges = np.histogram(sample, bins=HIST_BINS, range=(lo, hi))
    density = density / (sample.size * np.diff(edges))
    centres = (edges[:-1] + edges[1:]) / 2
    stable = np.exp(stable_logpdf(centres, fit.alpha, beta=fit.beta, scale=fit.scale, loc=fit.loc))
    normal = np.exp(-0.5 * ((centres - sample.mean()) / sample.std()) ** 2) / (sample.std() * np.sqrt(2 * np.pi))
    hist = [{"bin": k, "gradient": float(c), "density": float(d), "stable_pdf": float(s), "normal_pdf": float(nm)}
            for k, (c, d, s, nm) in enumerate(zip(centres, density, stable, normal))]
    return {"pooled_levy_alpha": fit.alpha, "pooled_levy_llr": fit.llr, "pooled_levy_vuong_p": fit.vuong_p}, hist
