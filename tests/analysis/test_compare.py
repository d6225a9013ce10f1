import numpy as np
import polars as pl

from analysis.compare import comparison_tables


def _summary():
    rng = np.random.default_rng(0)
    rows = []
    for arch in ("resnet14", "resnet14-noshort", "resnet20"):
        for bs in (128, 1024):
            for seed in range(3):
                rows.append({"trial_id": f"{arch}_{bs}_{seed}", "arch": arch, "shortcut": not arch.endswith("noshort"),
                             "dataset": "cifar10", "loss": "ce", "batch_size": bs, "lr": 0.1, "seed": seed,
                             "first_alpha_above": rng.normal(1.3, 0.1), "first_alpha_below": rng.normal(0.7, 0.05),
                             "first_tau0": float(rng.integers(30, 200)), "last_alpha_single": 0.8, "t_c": np.nan,
                             "first_levy_alpha": 1.5, "last_levy_alpha": 1.7, "first_d_f_long": 2.0,
                             "last_d_f_long": 2.2, "first_msl_exponent": 1.8, "last_msl_exponent": 0.1})
    return pl.DataFrame(rows)


def test_means_and_spreads_over_seeds_match_numpy():
    summary = _summary()
    table = comparison_tables(summary)["compare_depth_shortcut_batch"]
    assert table.height == 6 and set(table["n"]) == {3}
    row = table.filter((pl.col("depth") == 14) & ~pl.col("shortcut") & (pl.col("batch_size") == 1024)).row(0, named=True)
    seeds = summary.filter((pl.col("arch") == "resnet14-noshort") & (pl.col("batch_size") == 1024))
    assert np.isclose(row["first_alpha_above_mean"], seeds["first_alpha_above"].mean())
    assert np.isclose(row["first_alpha_above_std"], np.std(seeds["first_alpha_above"].to_numpy(), ddof=1))
    assert table["depth"].to_list() == [14, 14, 14, 14, 20, 20]


def test_nan_values_are_not_averaged_and_empty_input():
    tables = comparison_tables(_summary())
    assert tables["compare_dataset_loss"]["t_c_mean"].null_count() == 6  # no regime-2 window anywhere
    assert set(tables) == {"compare_depth_shortcut_batch", "compare_lr", "compare_dataset_loss", "compare_levy",
                           "compare_fractal"}
    assert all(t.is_empty() for t in comparison_tables(pl.DataFrame()).values())
