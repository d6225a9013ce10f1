"""Comparison tables across a grid (polars): the paper's questions, with mean and spread over seeds.

Pure functions from the summary table (one row per trial) to one table per question. Every table groups
by all grid axes except the seed, so trials that differ in anything else are never pooled; `n` is the
number of seeds that had a value, `*_std` their standard deviation (null for one seed).
"""
from __future__ import annotations

import polars as pl

GROUP = ("dataset", "loss", "depth", "shortcut", "batch_size", "lr")
VIEWS = {  # table name: (sort order, value columns)
    "compare_depth_shortcut_batch": (("dataset", "loss", "lr", "depth", "shortcut", "batch_size"),
                                     ("first_alpha_above", "first_alpha_below", "first_tau0")),  # Fig. 3
    "compare_lr": (("dataset", "loss", "depth", "shortcut", "batch_size", "lr"),
                   ("first_alpha_above", "first_alpha_below", "first_tau0")),  # Fig. 4
    "compare_dataset_loss": (("depth", "shortcut", "batch_size", "lr", "dataset", "loss"),
                             ("first_alpha_above", "first_alpha_below", "last_alpha_single", "t_c")),
    "compare_levy": (GROUP, ("first_levy_alpha", "last_levy_alpha")),  # Fig. 5d
    "compare_fractal": (GROUP, ("first_d_f_long", "last_d_f_long", "first_msl_exponent",
                                "last_msl_exponent")),  # Fig. 6
}


def comparison_tables(summary: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """summary: one row per trial with the grid axes (arch, shortcut, ...) and headline columns."""
    if summary.is_empty():
        return {name: pl.DataFrame() for name in VIEWS}
    frame = summary.with_columns(
        pl.col("arch").cast(pl.Utf8).str.extract(r"resnet(\d+)").cast(pl.Int64).alias("depth"))
    return {name: _aggregate(frame, order, values) for name, (order, values) in VIEWS.items()}


def _aggregate(frame: pl.DataFrame, order: tuple, values: tuple) -> pl.DataFrame:
    aggs = [pl.col(v).drop_nans().count().alias("n") for v in values[:1]]
    for v in values:
        col = pl.col(v).cast(pl.Float64).fill_nan(None)
        aggs += [col.mean().alias(f"{v}_mean"), col.std().alias(f"{v}_std")]
    return frame.group_by(list(GROUP)).agg(aggs).sort(list(order))
