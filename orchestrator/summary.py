"""After training: per-trial MSD exponents of every window, printed as a table (a first look; the full
Ray-distributed analysis, tables and dashboards are the `analysis.report` stage)."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from analysis.exponents import fit_exponents
from analysis.msd import time_averaged_msd
from workers.shards import list_shards, read_trajectory
from workers.storage import Folder, is_uri


def window_exponents(trial_dir: Path, *, window: int) -> list[dict]:
    """One row per complete window [t_w, t_w + window) of the trial's sketch: regime, tau0, alphas."""
    if not list_shards(trial_dir / "trajectory"):
        return []
    sketch = read_trajectory(trial_dir / "trajectory", ["sketch"])["sketch"]
    finite = np.isfinite(sketch).all(axis=1)
    if not finite.all():  # a diverged trial: analyse the steps before the first non-finite row
        sketch = sketch[: int(np.argmin(finite))]
    rows = []
    for t_w in range(0, len(sketch) - window + 1, window):
        msd = time_averaged_msd(sketch[t_w:t_w + window])
        fit = fit_exponents(np.arange(1, window), msd[1:])
        rows.append({"t_w": t_w, "regime": fit.regime, "tau0": fit.tau0, "alpha_below": fit.alpha_below,
                     "alpha_above": fit.alpha_above, "alpha_single": fit.alpha_single, "rmse": fit.rmse_single})
    return rows


@contextmanager
def local_trial(experiment: Folder, trial_id: str):
    """The trial's folder on this machine; for an object store, a temporary copy of its trajectory."""
    if not is_uri(experiment.location):
        yield Path(experiment.location) / "trials" / trial_id
        return
    with tempfile.TemporaryDirectory() as tmp:
        experiment.download(f"trials/{trial_id}/trajectory", Path(tmp) / "trajectory")
        yield Path(tmp)


def print_summary(experiment: Folder, trial_ids: list[str], *, window: int) -> None:
    """Compute and print the exponents of every window (used where the full analysis does not run)."""
    rows = {}
    for trial_id in trial_ids:
        try:
            with local_trial(experiment, trial_id) as trial_dir:
                rows[trial_id] = window_exponents(trial_dir, window=window)
        except (ValueError, OSError) as e:
            rows[trial_id] = f"not analysed: {e}"
    print_exponents(rows, window=window)


def print_exponents(rows: dict[str, list[dict] | str], *, window: int) -> None:
    """rows: trial id -> its windows' rows (t_w, regime, tau0, alpha_below/above/single, rmse) or a reason."""
    print(f"MSD exponents per window (T = {window} steps; regime 1: two segments, 2: one):")
    print(f"  {'trial':46s} {'t_w':>6s} {'regime':>6s} {'tau0':>6s} {'a_below':>8s} {'a_above':>8s} {'a_single':>8s} {'rmse':>6s}")
    for trial_id, trial_rows in rows.items():
        if isinstance(trial_rows, str):
            print(f"  {trial_id:46s} {trial_rows}")
            continue
        for r in trial_rows:
            print(f"  {trial_id:46s} {r['t_w']:>6d} {r['regime']:>6d} {r['tau0']:>6.0f} {r['alpha_below']:>8.2f} "
                  f"{r['alpha_above']:>8.2f} {r['alpha_single']:>8.2f} {r['rmse']:>6.3f}")


def analyse_and_print(experiment: Path, trial_ids: list[str], *, window: int, address: str | None) -> None:
    """The full per-trial analysis as Ray tasks (analysis/ tables), then the exponent table from it."""
    import polars as pl

    from analysis.distributed import analyse_experiment
    from analysis.report import print_comparison

    summary = {r["trial_id"]: r for r in analyse_experiment(experiment, window=window, address=address)}
    table = pl.read_parquet(experiment / "analysis" / "exponents.parquet") if summary else None
    rows = {}
    for trial_id in trial_ids:
        mine = [] if table is None or table.is_empty() else \
            table.filter(pl.col("trial_id") == trial_id).rename({"rmse_single": "rmse"}).to_dicts()
        status = summary.get(trial_id, {}).get("analysis_status", "not analysed")
        rows[trial_id] = mine if mine or status == "ok" else status
    print_exponents(rows, window=window)
    print_comparison(experiment)
    print(f"analysis tables (msd, exponents, levy, fractal, loss_fluctuations, summary, compare_*): "
          f"{experiment / 'analysis'}")
