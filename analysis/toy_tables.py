"""The simple model's tables on disk: Parquet (zstd) in one folder, and the provenance of the run.

    <out>/walkers.parquet             one row per walker: outcome, basin step, MSD exponents, escapes, stable fit
    <out>/settings.parquet            one row per setting: outcome fractions, medians, pooled stable fit
    <out>/phase.parquet               phase diagram over (eta, H) per (kind, octaves, sigma), seeds pooled
    <out>/msd.parquet                 per-walker MSD at log-spaced lags, segments all / before / after
    <out>/paths.parquet               whole paths of the first walkers of each setting
    <out>/gradient_histogram.parquet  pooled gradient density with the fitted stable and Gaussian densities
    <out>/surfaces.parquet            129 x 129 previews of every landscape
    <out>/run.json                    resolved options, code version, package versions, host, run time

The one module of the simple model that reads and writes files; polars frames become numpy here.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import polars as pl

from workers.provenance import machine

__all__ = ["TABLES", "write_tables", "read_tables", "phase_table", "provenance"]

TABLES = ("walkers", "settings", "msd", "paths", "gradient_histogram", "surfaces")
PHASE_KEYS = ("kind", "octaves", "sigma", "eta", "hurst")
OUTCOMES = ("escaped", "converged", "trapped", "wandering")


def write_tables(out: Path, results: list[dict[str, list[dict]]], *, run_info: dict) -> dict[str, Path]:
    """Concatenate the tasks' rows, write every table and ``phase.parquet``, then ``run.json``.

    Parameters
    ----------
    out : Path
        Output folder (created).
    results : list of dict
        What :func:`analysis.toy.run_setting` returned, one per setting.
    run_info : dict
        Resolved options and timings, stored in ``run.json`` with :func:`provenance`.

    Returns
    -------
    paths : dict
        Table name -> file written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in TABLES:
        rows = _surface_rows(results) if name == "surfaces" else [r for res in results for r in res.get(name, [])]
        frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
        written[name] = _write(frame, out / f"{name}.parquet")
    settings = pl.read_parquet(written["settings"])
    written["phase"] = _write(phase_table(settings), out / "phase.parquet")
    (out / "run.json").write_text(json.dumps({**run_info, **provenance()}, indent=2, default=str), encoding="utf-8")
    written["run"] = out / "run.json"
    return written


def _surface_rows(results: list[dict]) -> list[dict]:
    """The preview rows of each landscape once (settings that share a landscape return the same rows)."""
    seen, rows = set(), []
    for result in results:
        part = result.get("surfaces", [])
        if part and part[0]["landscape_id"] not in seen:
            seen.add(part[0]["landscape_id"])
            rows += part
    return rows


def _write(frame: pl.DataFrame, path: Path) -> Path:
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp, compression="zstd")
    tmp.replace(path)
    return path


def phase_table(settings: pl.DataFrame) -> pl.DataFrame:
    """Outcome fractions over (kind, octaves, sigma, eta, hurst), walkers of every seed pooled.

    Columns: the keys, ``n_walkers``, ``n_seeds``, ``frac_<outcome>`` for escaped / converged /
    trapped / wandering (they sum to 1), and the walker-weighted mean of the per-setting median MSD
    exponents before and after the final basin.
    """
    if settings.is_empty():
        return pl.DataFrame()
    weighted = [(pl.col(f"frac_{o}") * pl.col("n_walkers")).sum() / pl.col("n_walkers").sum() for o in OUTCOMES]
    return (settings.group_by(list(PHASE_KEYS), maintain_order=True)
            .agg(pl.col("n_walkers").sum(), pl.col("seed").n_unique().alias("n_seeds"),
                 *[w.alias(f"frac_{o}") for w, o in zip(weighted, OUTCOMES)],
                 pl.col("median_alpha_before").mean().alias("alpha_before"),
                 pl.col("median_alpha_after").mean().alias("alpha_after"),
                 pl.col("median_levy_llr").mean().alias("levy_llr"))
            .sort(list(PHASE_KEYS)))


def read_tables(out: Path) -> dict[str, pl.DataFrame | None]:
    """Every table of a finished run (None where the file is missing or unreadable), and ``phase``."""
    tables = {}
    for name in (*TABLES, "phase"):
        path = Path(out) / f"{name}.parquet"
        try:
            tables[name] = pl.read_parquet(path) if path.exists() else None
        except (OSError, pl.exceptions.PolarsError):
            tables[name] = None
    return tables


def provenance() -> dict:
    """Code version, host, Python and package versions, processor."""
    import numpy, plotly, pyarrow, ray, scipy  # noqa: E401  (versions only)

    return {**machine(), "numpy": numpy.__version__, "scipy": scipy.__version__, "polars": pl.__version__,
            "pyarrow": pyarrow.__version__, "plotly": plotly.__version__, "ray": ray.__version__,
            "processor": platform.processor() or platform.machine()}