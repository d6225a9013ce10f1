"""After training: the Ray-distributed analysis (`analysis.report`) of the experiment, then a readable
per-window exponent table, the Fig. 3 comparison table and the dashboard's path."""
from __future__ import annotations

from workers.storage import Folder


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


def analyse_and_print(experiment: Folder, trial_ids: list[str], *, window: int, address: str | None) -> None:
    """Analyse the experiment (new or changed trials only), print its exponents and comparison table."""
    import polars as pl

    from analysis.report import print_comparison, report

    result = report(experiment.location, window=window, address=address)
    data = experiment.read_bytes("analysis/exponents.parquet")
    table = pl.read_parquet(data) if data else pl.DataFrame()
    status = {r["trial_id"]: r.get("analysis_status", "not analysed") for r in result.summary}
    rows = {}
    for trial_id in trial_ids:
        mine = [] if table.is_empty() else \
            table.filter(pl.col("trial_id") == trial_id).rename({"rmse_single": "rmse"}).to_dicts()
        rows[trial_id] = mine if mine or status.get(trial_id) == "ok" else status.get(trial_id, "not analysed")
    print_exponents(rows, window=window)
    print_comparison(experiment)
    print(f"analysis: {len(result.analysed)} trials analysed, {len(result.up_to_date)} up to date; tables "
          f"(msd, exponents, levy, fractal, loss_fluctuations, summary, compare_*) in {experiment.location}/analysis")
    if result.dashboard:
        print(f"dashboard: {result.dashboard}")
