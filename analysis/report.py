"""Per-trial analysis of an experiment folder into the DESIGN.md tables (msd, exponents, levy, fractal,
loss_fluctuations, summary), one Ray task per trial (see analysis/distributed.py).

    python -m analysis.report --experiment runs/demo [--window 500] [--address auto]

Each trial is read window by window from its shards, so a task holds one window at a time. A trial
that cannot be analysed (no shards, a corrupt or truncated shard, a gap) gets its reason in the
summary table's `analysis_status`; the command fails only when no trial could be analysed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from analysis.compare import comparison_tables
from analysis.exponents import fit_exponents
from analysis.fluctuations import loss_fluctuations
from analysis.fractal import contour_scaling, mean_squared_loss, pairwise_sq_distances
from analysis.levy import fit_stable
from analysis.msd import time_averaged_msd
from workers.shards import column_to_numpy, list_shards, read_shard

COLUMNS = ["step", "loss", "step_norm", "sketch", "grad_sample"]
TABLES = ("msd", "exponents", "levy", "fractal", "loss_fluctuations")
AXES = ("arch", "dataset", "loss", "batch_size", "lr", "seed")


def windows(trajectory: Path, window: int):
    """Yield (t_w, columns) for consecutive complete windows, reading one shard at a time."""
    buf, expected, t_w = [], 0, 0
    for first, path in list_shards(trajectory):
        if first != expected:
            raise ValueError(f"{path}: starts at step {first}, expected {expected}: a shard is missing")
        table = read_shard(path, COLUMNS)
        expected = first + table.num_rows
        buf.append({c: column_to_numpy(table.column(c)) for c in COLUMNS})
        while sum(len(b["step"]) for b in buf) >= window:
            merged = {c: np.concatenate([b[c] for b in buf]) for c in COLUMNS}
            yield t_w, {c: v[:window] for c, v in merged.items()}
            buf, t_w = [{c: v[window:] for c, v in merged.items()}], t_w + window


def analyse_window(trial_id: str, t_w: int, w: dict, *, levy_samples: int, seed: int) -> dict[str, list]:
    T = len(w["step"])
    if not (np.isfinite(w["loss"]).all() and np.isfinite(w["sketch"]).all()):
        raise ValueError(f"window t_w={t_w} holds non-finite values (a diverged trial)")
    key = {"trial_id": trial_id, "t_w": t_w, "T": T}
    msd = time_averaged_msd(w["sketch"])
    fit = fit_exponents(np.arange(1, T), msd[1:])
    grads = w["grad_sample"].ravel()
    grads = np.random.default_rng(seed + t_w).choice(grads, min(levy_samples, grads.size), replace=False)
    levy = fit_stable(grads)
    sq = pairwise_sq_distances(w["sketch"])
    contour = contour_scaling(w["sketch"], w["step_norm"], sq_dist=sq)
    msl = mean_squared_loss(w["sketch"], w["loss"], sq_dist=sq)
    return {
        "msd": [{**key, "lag": lag, "msd": float(v)} for lag, v in enumerate(msd) if lag],
        "exponents": [{**key, **{k: getattr(fit, k) for k in ("tau0", "alpha_below", "alpha_above",
                                                             "alpha_single", "rmse_single", "regime")}}],
        "levy": [{**key, **{k: getattr(levy, k) for k in ("alpha", "beta", "scale", "loc", "alpha_lo", "alpha_hi",
                                                         "n", "loglik_stable", "loglik_normal", "llr", "vuong_p")}}],
        "fractal": [{**key, "d_f_short": contour.d_f_short, "d_f_long": contour.d_f_long,
                     "crossover_length": contour.crossover_length, "msl_exponent": msl.msl_exponent}],
    }


def analyse_trial(trial_dir: Path, *, window: int, levy_samples: int = 5000, seed: int = 0) -> dict:
    """Every table's rows for one trial, plus its summary row; never raises for a bad trial."""
    trial_dir = Path(trial_dir)
    config = _json(trial_dir / "config.json")
    trial_id = config.get("trial_id", trial_dir.name)
    out = {t: [] for t in TABLES}
    losses, status = [], "ok"
    try:
        for t_w, w in windows(trial_dir / "trajectory", window):
            for table, rows in analyse_window(trial_id, t_w, w, levy_samples=levy_samples, seed=seed).items():
                out[table].extend(rows)
            losses.append(w["loss"])
        if not out["exponents"]:
            status = f"no complete window of {window} steps"
    except (ValueError, OSError) as e:
        status = f"stopped: {e}"
    if losses:
        loss = np.concatenate(losses)
        fl = loss_fluctuations(loss, window=min(100, len(loss)))  # the paper's 100-step moving variance
        out["loss_fluctuations"] = [{"trial_id": trial_id, "step": int(s), "abs_dloss": float(a),
                                     "moving_var": float(v)} for s, a, v in zip(fl.step, fl.abs_dloss, fl.moving_var)]
    out["summary"] = [summary_row(trial_dir, config, out, status)]
    return out


def summary_row(trial_dir: Path, config: dict, out: dict, status: str) -> dict:
    cfg, state = config.get("config", {}), _json(trial_dir / "status.json")
    ex, lv, fr = out["exponents"], out["levy"], out["fractal"]
    regime2 = [r["t_w"] for r in ex if r["regime"] == 2]
    first_last = lambda rows, key: (rows[0][key], rows[-1][key]) if rows else (np.nan, np.nan)
    row = {"trial_id": config.get("trial_id", trial_dir.name), **{a: cfg.get(a) for a in AXES},
           "shortcut": not str(cfg.get("arch", "")).endswith("-noshort"), "state": state.get("state", "unknown"),
           "steps": state.get("steps", 0), "train_accuracy": state.get("train_accuracy", np.nan),
           "test_accuracy": state.get("test_accuracy", np.nan), "windows": len(ex),
           "t_c": regime2[0] if regime2 else np.nan, "analysis_status": status}
    for key in ("alpha_above", "alpha_below", "alpha_single", "tau0"):
        row[f"first_{key}"], row[f"last_{key}"] = first_last(ex, key)
    row["first_levy_alpha"], row["last_levy_alpha"] = first_last(lv, "alpha")
    row["first_d_f_long"], row["last_d_f_long"] = first_last(fr, "d_f_long")
    row["first_msl_exponent"], row["last_msl_exponent"] = first_last(fr, "msl_exponent")
    return row


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_tables(experiment: Path, results: list[dict]) -> Path:
    """Concatenate per-trial rows into analysis/<table>.parquet (and summary.csv); returns the folder."""
    import polars as pl

    folder = Path(experiment) / "analysis"
    folder.mkdir(parents=True, exist_ok=True)
    for table in (*TABLES, "summary"):
        rows = [r for res in results for r in res[table]]
        frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
        frame.write_parquet(folder / f"{table}.parquet")
        if table == "summary":
            frame.write_csv(folder / "summary.csv")
            for name, comparison in comparison_tables(frame).items():
                comparison.write_parquet(folder / f"{name}.parquet")
                comparison.write_csv(folder / f"{name}.csv")
    return folder


def print_comparison(experiment: Path, name: str = "compare_depth_shortcut_batch") -> None:
    """Print one comparison table (default: the paper's Fig. 3 question) readably."""
    import polars as pl

    path = Path(experiment) / "analysis" / f"{name}.parquet"
    table = pl.read_parquet(path) if path.exists() else pl.DataFrame()
    if table.is_empty():
        return
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=200, float_precision=3, tbl_hide_dataframe_shape=True):
        print(f"{name} (mean and std over seeds; all comparison tables in {path.parent}):")
        print(table.drop([c for c in table.columns if c.endswith("_std") and table[c].null_count() == table.height]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n")[0])
    p.add_argument("--experiment", required=True, help="experiment folder (holds trials/)")
    p.add_argument("--window", type=int, default=1000, help="window length T in steps (DESIGN.md default 1000)")
    p.add_argument("--address", help="Ray cluster to use (default: a local one)")
    a = p.parse_args(argv)
    experiment = Path(a.experiment)
    if not (experiment / "trials").is_dir():
        print(f"error: --experiment: {experiment}/trials does not exist; pass an experiment folder", file=sys.stderr)
        return 2
    if a.window < 4:
        print(f"error: --window: {a.window} must be >= 4 steps", file=sys.stderr)
        return 2
    from analysis.distributed import analyse_experiment

    summary = analyse_experiment(experiment, window=a.window, address=a.address)
    ok = sum(r["analysis_status"] == "ok" for r in summary)
    print_comparison(experiment)
    print(f"analysed {ok}/{len(summary)} trials -> {experiment / 'analysis'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
