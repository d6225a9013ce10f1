"""One trial's analysis: its shards streamed window by window into the rows of every analysis table.

A trial is read through a `Folder` (a local path or an object store), one shard at a time; a task holds
at most one window plus one shard of the trajectory, and the loss column (8 bytes per step) for the
loss-fluctuation table. Nothing here depends on anything but the shard contract (DESIGN.md), so
experiments written by other software analyse the same way.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.exponents import fit_exponents, log_derivative
from analysis.fluctuations import loss_fluctuations
from analysis.fractal import contour_scaling, mean_squared_loss, pairwise_sq_distances
from analysis.landscape import box_counting_dimension
from analysis.levy import fit_stable, stable_logpdf
from analysis.msd import time_averaged_msd
from workers.shards import SHARD_RE, column_to_numpy, read_shard
from workers.storage import Folder, is_uri

COLUMNS = ["step", "loss", "step_norm", "sketch", "grad_sample"]
TABLES = ("msd", "exponents", "levy", "fractal", "loss_fluctuations", "gradient_histogram", "contour", "msl")
AXES = {"arch": str, "dataset": str, "loss": str, "batch_size": int, "lr": float, "seed": int}  # summary columns
HIST_BINS = 61
MOVING_VAR_WINDOW = 100  # steps: the paper's moving variance of the loss (Fig. 5f)


def shard_files(trial: Folder):
    """Yield (first step, local path) of each shard in order; an object store's shard is downloaded
    to a temporary file just before it is read and deleted after."""
    names = sorted((int(m.group(1)), n) for n in trial.listdir("trajectory") if (m := SHARD_RE.match(n)))
    if not is_uri(trial.location):
        yield from ((first, Path(trial.location) / "trajectory" / n) for first, n in names)
        return
    with tempfile.TemporaryDirectory(prefix="shard-") as tmp:
        for first, name in names:
            local = Path(tmp) / name
            if not trial.get(f"trajectory/{name}", local):
                raise ValueError(f"{trial.location}/trajectory/{name}: vanished while reading")
            yield first, local
            local.unlink()


def windows(shards, *, window: int, t_w: list[int] | None = None, losses: list | None = None):
    """Yield (t_w, columns) for each window [t_w, t_w + window) that the trajectory covers.

    shards: (first step, path) in order, as from `shard_files`. t_w: sorted window starts; None means
    0, window, 2 window, ... (non-overlapping). A gap between shards raises ValueError after the
    windows before it; `losses`, when given, collects every shard's loss column.
    """
    starts = iter(sorted(set(t_w)) if t_w is not None else _multiples(window))
    start, buf, buf_first, expected = next(starts, None), None, 0, 0
    for first, path in shards:
        if first != expected:
            raise ValueError(f"{path}: starts at step {first}, expected {expected}: a shard is missing")
        table = read_shard(path, COLUMNS if start is not None else ["loss"])
        expected = first + table.num_rows
        cols = {c: column_to_numpy(table.column(c)) for c in table.column_names}
        if losses is not None:
            losses.append(cols["loss"])
        if start is None:
            if losses is None:
                return
            continue
        buf = cols if buf is None else {c: np.concatenate([buf[c], cols[c]]) for c in COLUMNS}
        buf, buf_first = _drop_before(buf, buf_first, start)
        while start is not None and buf_first + len(buf["step"]) >= start + window:
            lo = start - buf_first
            yield start, {c: v[lo:lo + window] for c, v in buf.items()}
            start = next(starts, None)
            if start is not None:
                buf, buf_first = _drop_before(buf, buf_first, start)


def _drop_before(buf: dict, buf_first: int, step: int) -> tuple[dict, int]:
    n = min(max(0, step - buf_first), len(buf["step"]))
    return {c: v[n:] for c, v in buf.items()}, buf_first + n


def _multiples(window: int):
    k = 0
    while True:
        yield k * window
        k += 1


def analyse_window(trial_id: str, t_w: int, w: dict, *, levy_samples: int, seed: int) -> dict[str, list]:
    """The rows of every per-window table for one window (see DESIGN.md, contract v1: analysis tables)."""
    T = len(w["step"])
    if not (np.isfinite(w["loss"]).all() and np.isfinite(w["sketch"]).all()):
        raise ValueError(f"window t_w={t_w} holds non-finite values (a diverged trial)")
    key = {"trial_id": trial_id, "t_w": t_w, "T": T}
    lags, msd = np.arange(1, T), time_averaged_msd(w["sketch"])[1:]
    fit = fit_exponents(lags, msd)
    grads = w["grad_sample"].ravel()
    grads = np.random.default_rng(seed + t_w).choice(grads, min(levy_samples, grads.size), replace=False)
    levy = fit_stable(grads)
    sq = pairwise_sq_distances(w["sketch"])
    contour = contour_scaling(w["sketch"], w["step_norm"], sq_dist=sq)
    msl = mean_squared_loss(w["sketch"], w["loss"], sq_dist=sq)
    return {
        "msd": _rows(key, lag=lags, msd=msd, beta=log_derivative(lags, msd)),
        "exponents": [{**key, **_fields(fit, "tau0", "alpha_below", "alpha_above", "alpha_single",
                                        "rmse_single", "regime")}],
        "levy": [{**key, **_fields(levy, "alpha", "beta", "scale", "loc", "alpha_lo", "alpha_hi", "n",
                                   "loglik_stable", "loglik_normal", "llr", "vuong_p")}],
        "fractal": [{**key, "d_f_short": contour.d_f_short, "d_f_long": contour.d_f_long,
                     "crossover_length": contour.crossover_length, "msl_exponent": msl.msl_exponent}],
        "gradient_histogram": _rows(key, **gradient_histogram(grads, levy)),
        "contour": _rows(key, contour_length=contour.contour_length, end_to_end=contour.end_to_end),
        "msl": _rows(key, distance=msl.distance, msl=msl.msl),
    }


def gradient_histogram(grads: np.ndarray, levy, *, bins: int = HIST_BINS, coverage: float = 0.99) -> dict:
    """Density of the gradient sample on the symmetric range about its median that holds `coverage` of
    it (heavy tails would otherwise leave every bin but the centre empty), with the fitted stable
    density and the Gaussian of the same mean and standard deviation at the bin centres (Fig. 5a-c).
    Densities are per unit of gradient over the whole sample, so they integrate to `coverage`."""
    centre = float(np.median(grads))
    edge = float(np.quantile(np.abs(grads - centre), coverage)) or 1.0
    counts, edges = np.histogram(grads, bins=bins, range=(centre - edge, centre + edge))
    x = 0.5 * (edges[1:] + edges[:-1])
    stable = np.exp(stable_logpdf(x, levy.alpha, beta=levy.beta, scale=levy.scale, loc=levy.loc)) \
        if np.isfinite(levy.alpha) else np.full_like(x, np.nan)
    mu, sd = float(grads.mean()), float(grads.std()) or 1.0
    normal = np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    return {"x": x, "density": counts / (grads.size * np.diff(edges)), "stable_pdf": stable, "normal_pdf": normal}


def _rows(key: dict, **columns) -> list[dict]:
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    n = len(next(iter(arrays.values())))
    return [{**key, **{k: v[i].item() for k, v in arrays.items()}} for i in range(n)]


def _fields(result, *names) -> dict:
    return {k: getattr(result, k) for k in names}


def analyse_trial(trial: Folder | Path | str, *, window: int, t_w: list[int] | None = None,
                  levy_samples: int = 5000, seed: int = 0) -> dict[str, list]:
    """Every table's rows for one trial, plus its summary row; never raises for a bad trial."""
    trial = trial if isinstance(trial, Folder) else Folder(trial)
    config, state = read_json(trial, "config.json"), read_json(trial, "status.json")
    trial_id = str(config.get("trial_id") or trial.location.rsplit("/", 1)[-1])  # a data value, never a path
    out = {t: [] for t in TABLES}
    losses, status = [], "ok"
    try:
        for start, w in windows(shard_files(trial), window=window, t_w=t_w, losses=losses):
            for table, rows in analyse_window(trial_id, start, w, levy_samples=levy_samples, seed=seed).items():
                out[table].extend(rows)
        if not any(SHARD_RE.match(n) for n in trial.listdir("trajectory")):
            status = "no trajectory shards (trajectory/part-*.parquet)"
        elif not out["exponents"]:
            status = f"no complete window of {window} steps" + (f" at t_w in {t_w}" if t_w else "")
    except (ValueError, OSError) as e:
        status = f"stopped: {e}"
    if losses:
        loss = np.concatenate(losses)
        loss = loss[: int(np.argmin(np.isfinite(loss)))] if not np.isfinite(loss).all() else loss
        if len(loss) > 1:
            fl = loss_fluctuations(loss, window=min(MOVING_VAR_WINDOW, len(loss)))
            out["loss_fluctuations"] = _rows({"trial_id": trial_id}, step=fl.step, abs_dloss=fl.abs_dloss,
                                             moving_var=fl.moving_var)
    out["summary"] = [{**summary_row(trial_id, config, state, out, status), **probe_summary(trial)}]
    return out


def probe_summary(trial: Folder) -> dict:
    """Headline numbers of the trial's optional probes: the Hessian's top eigenvalue at the first and
    last probe (Fig. 7), and the box-counting dimension of its 2D loss landscape (Fig. 1). A missing or
    damaged probe file leaves its numbers NaN."""
    row = {"first_hessian_top": np.nan, "last_hessian_top": np.nan, "landscape_box_dim": np.nan}
    for name, read in (("hessian.parquet", _hessian_tops), ("landscape.parquet", _landscape_dim)):
        data = trial.read_bytes(name)
        try:
            row.update(read(pq.read_table(pa.BufferReader(data))) if data else {})
        except (ValueError, KeyError, pa.ArrowException):  # damaged, or too few points for two box sizes
            pass
    return row


def _hessian_tops(table: pa.Table) -> dict:
    h = table.to_pydict()
    tops = sorted((s, v) for s, r, v in zip(h["step"], h["rank"], h["eigenvalue"]) if r == 1)
    return {"first_hessian_top": tops[0][1], "last_hessian_top": tops[-1][1]} if tops else {}


def _landscape_dim(table: pa.Table) -> dict:
    loss = np.asarray(table.column("loss"))
    n = int(round(np.sqrt(loss.size)))
    return {"landscape_box_dim": box_counting_dimension(loss.reshape(n, n))}  # rows: y, columns: x


def summary_row(trial_id: str, config: dict, state: dict, out: dict, status: str) -> dict:
    """One row of summary.parquet: the grid axes, the trial's state and the headline numbers."""
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}  # config.json may be hand-edited
    ex, lv, fr = out["exponents"], out["levy"], out["fractal"]
    regime2 = [r["t_w"] for r in ex if r["regime"] == 2]
    first_last = lambda rows, key: (rows[0][key], rows[-1][key]) if rows else (np.nan, np.nan)
    row = {"trial_id": trial_id, **{a: _typed(cfg.get(a), kind, None) for a, kind in AXES.items()},
           "shortcut": not str(cfg.get("arch", "")).endswith("-noshort"),
           "state": _typed(state.get("state"), str, "unknown"), "steps": _typed(state.get("steps"), int, 0),
           "train_accuracy": _typed(state.get("train_accuracy"), float, np.nan),
           "test_accuracy": _typed(state.get("test_accuracy"), float, np.nan), "windows": len(ex),
           "t_c": regime2[0] if regime2 else np.nan, "analysis_status": status}
    for key in ("alpha_above", "alpha_below", "alpha_single", "tau0"):
        row[f"first_{key}"], row[f"last_{key}"] = first_last(ex, key)
    row["first_levy_alpha"], row["last_levy_alpha"] = first_last(lv, "alpha")
    row["first_d_f_long"], row["last_d_f_long"] = first_last(fr, "d_f_long")
    row["first_msl_exponent"], row["last_msl_exponent"] = first_last(fr, "msl_exponent")
    return row


def _typed(value, kind: type, default):
    """The value if it has the summary column's type, else `default`: a hand-edited config.json or
    status.json must not give one trial's column another type than the others' (the merge would fail)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)) else default


def read_json(folder: Folder, name: str) -> dict:
    """A JSON object from the folder, or {} when it is missing or unreadable."""
    try:
        data = json.loads(folder.read_bytes(name) or b"{}")
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}
