"""The simple model (Eq. 10): the walker against closed forms, the path measures on constructed paths,
the sweep's expansion and options, and the --quick command end to end (tables and page)."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest

from analysis.msd import time_averaged_msd
from analysis.surfaces import cone, grid_axis, paraboloid
from analysis.toy import expand_sweep, main, make_landscape, parse_options
from analysis.toy_measures import analyse_walker
from analysis.walker import (bilinear, final_basin_step, landscape_gradient, local_minimum_escapes, simulate,
                             uniform_starts)

# --- the walker against closed forms ------------------------------------------------------------------

def test_gradient_descent_on_a_paraboloid_is_geometric():
    """U = 10 + d (x^2 + y^2): w(t) = (1 - 2 d eta)^t w(0); central differences and bilinear weights are exact."""
    depth, eta, steps = 1.5, 0.02, 200
    starts = np.array([[0.8, -0.3], [-0.55, 0.9], [0.01, 0.02]])
    walk = simulate(paraboloid(65, depth=depth), starts, eta=eta, sigma=0.0, steps=steps)
    factor = (1 - 2 * depth * eta) ** np.arange(steps + 1)
    np.testing.assert_allclose(walk.positions, factor[None, :, None] * starts[:, None, :], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(walk.gradients, 2 * depth * walk.positions[:, :-1], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(walk.loss, 10 + depth * (walk.positions ** 2).sum(axis=2), rtol=1e-3)
    assert not walk.escaped.any()


def test_gradient_of_a_tilted_plane_is_exact_everywhere():
    x = grid_axis(33)
    a, b = 0.37, -1.21
    grad = landscape_gradient(a * x[:, None] + b * x[None, :])
    pts = np.random.default_rng(0).uniform(-1, 1, size=(500, 2))
    pts = np.vstack([pts, [[1, 1], [-1, -1], [1, -1], [-1, 0.3]]])  # corners and edges included
    np.testing.assert_allclose(bilinear(grad, pts), np.tile([-a, -b], (pts.shape[0], 1)), rtol=0, atol=1e-12)


def test_both_gradient_components_on_an_asymmetric_surface():
    """z = -(3 x^2 + 0.5 y^2) + 0.7 x y + 0.2 x: grad U = (6x - 0.7y - 0.2, y - 0.7x), exact (quadratic)."""
    x = grid_axis(65)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    z = -(3 * xx**2 + 0.5 * yy**2) + 0.7 * xx * yy + 0.2 * xx
    pts = np.random.default_rng(1).uniform(-1, 1, size=(300, 2))
    got = bilinear(landscape_gradient(z), pts)
    want = np.column_stack([6 * pts[:, 0] - 0.7 * pts[:, 1] - 0.2, pts[:, 1] - 0.7 * pts[:, 0]])
    # bilinear interpolation of the mixed term is exact too (x y is bilinear)
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert not np.allclose(got[:, 0], got[:, 1])  # the authors' code recorded dU/dy as dU/dx


def test_walker_leaving_the_domain_is_recorded_and_frozen():
    """A plane z = x drives walkers to +x at speed eta per step; sigma = 0 gives the exit step exactly."""
    x = grid_axis(17)
    z = np.repeat(x[:, None], 17, axis=1)  # z = x: U decreases towards +x, grad U = (-1, 0)
    starts = np.array([[0.5, 0.0], [-0.9, 0.2]])
    walk = simulate(z, starts, eta=0.1, sigma=0.0, steps=30)
    exit_step = [math.floor((1 - s) / 0.1 + 1e-9) for s in (0.5, -0.9)]  # update t leaves at x = s + 0.1 (t + 1) > 1
    np.testing.assert_array_equal(walk.escape_step, exit_step)
    assert walk.escaped.all()
    for i, t in enumerate(exit_step):
        assert walk.positions[i, t + 1, 0] > 1 and np.all(np.abs(walk.positions[i, : t + 1]) <= 1)
        assert np.isnan(walk.positions[i, t + 2:]).all() and np.isnan(walk.gradients[i, t + 1:]).all()
        np.testing.assert_allclose(walk.gradients[i, : t + 1], [[-1.0, 0.0]] * (t + 1), atol=1e-12)
        assert walk.path(i).shape == (t + 2, 2)
        assert np.isnan(walk.loss[i, t + 1])


def test_noise_is_gaussian_with_std_sigma_on_a_flat_landscape():
    walk = simulate(np.zeros((9, 9)), np.zeros((200, 2)), eta=0.02, sigma=0.01, steps=50, seed=3)
    steps = np.diff(walk.positions, axis=1)
    assert np.std(steps) == pytest.approx(0.01, rel=0.03)
    assert np.all(walk.gradients == 0) and not walk.escaped.any()


def test_walk_is_frozen_and_seeded():
    z = make_landscape("midpoint", size=33, hurst=0.8, seed=0)
    a = simulate(z, uniform_starts(5, seed=1), seed=2, steps=50)
    b = simulate(z, uniform_starts(5, seed=1), seed=2, steps=50)
    np.testing.assert_array_equal(a.positions, b.positions)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.eta = 1.0


@pytest.mark.parametrize("kwargs", [{"eta": -1}, {"sigma": -0.1}, {"steps": 0}])
def test_bad_walker_arguments(kwargs):
    with pytest.raises(ValueError):
        simulate(np.zeros((9, 9)), np.zeros((1, 2)), **kwargs)


def test_starts_outside_the_domain_are_refused():
    with pytest.raises(ValueError, match="inside"):
        simulate(np.zeros((9, 9)), np.array([[1.2, 0.0]]))


# --- path measures on constructed paths ----------------------------------------------------------------

def test_final_basin_step():
    approach = np.column_stack([np.linspace(-0.5, 0, 51), np.zeros(51)])
    settle = np.tile([0.0, 0.0], (30, 1)) + 0.001
    path = np.vstack([approach, settle])
    # distance to the final point (0.001, 0.001) <= 0.105 once x >= -0.104: x(40) = -0.1, x(39) = -0.11
    assert final_basin_step(path, radius=0.105) == 40
    assert final_basin_step(settle, radius=0.1) == 0


def test_local_minimum_escapes_count_and_jump_lengths():
    rng = np.random.default_rng(0)
    stay = lambda c, n: np.asarray(c) + rng.uniform(-0.005, 0.005, size=(n, 2))  # noqa: E731
    path = np.vstack([stay([0, 0], 30), stay([0.3, 0], 30), stay([0.3, 0.5], 5), stay([0.9, 0.5], 30)])
    jumps = local_minimum_escapes(path, radius=0.05, dwell=20)
    assert jumps.size == 2  # the 5-step stay is too short to count as a minimum
    np.testing.assert_allclose(jumps, [np.linalg.norm(path[30] - path[29]), np.linalg.norm(path[60] - path[59])])
    assert jumps[0] == pytest.approx(0.3, abs=0.02) and jumps[1] == pytest.approx(0.5, abs=0.02)


def test_cone_descent_is_ballistic_then_trapped():
    """Constant speed eta * depth towards the tip: MSD exponent near 2 before the basin, near 0 after."""
    z = cone(257)
    starts = np.array([[0.7, 0.6], [-0.8, 0.5], [0.6, -0.75]])
    walk = simulate(z, starts, eta=0.02, sigma=0.002, steps=300, seed=0)
    for i in range(3):
        row, msd_rows = analyse_walker(walk, i, global_min=(0.0, 0.0), radius=0.1, dwell=20)
        assert row["outcome"] == "converged" and row["escape_step"] == -1
        assert row["alpha_before"] == pytest.approx(2.0, abs=0.1)
        assert row["alpha_after"] < 0.3
        before = walk.path(i)[: row["basin_step"] + 1]
        msd = time_averaged_msd(before, max_lag=before.shape[0] // 2)
        for r in (r for r in msd_rows if r["segment"] == "before"):
            assert r["msd"] == pytest.approx(msd[r["lag"]], rel=1e-12)


def test_outcomes_escaped_and_wandering():
    x = grid_axis(17)
    walk = simulate(np.repeat(x[:, None], 17, axis=1), np.array([[0.5, 0.0]]), eta=0.1, sigma=0.0, steps=30)
    row, _ = analyse_walker(walk, 0, global_min=(1.0, 0.0), radius=0.1, dwell=5)
    assert row["outcome"] == "escaped" and row["basin_step"] == -1 and math.isnan(row["alpha_after"])
    free = simulate(np.zeros((9, 9)), np.zeros((1, 2)), sigma=0.02, steps=400, seed=1)
    row, _ = analyse_walker(free, 0, global_min=(0.9, 0.9), radius=0.05, dwell=20)
    assert row["outcome"] == "wandering"
    assert row["alpha_all"] == pytest.approx(1.0, abs=0.35)  # free diffusion


# --- landscapes and the sweep --------------------------------------------------------------------------

def test_landscape_grids():
    assert make_landscape("midpoint", size=129, hurst=1.0, octaves=5).shape == (33, 33)
    assert make_landscape("spectral", size=129, hurst=0.5).shape == (129, 129)
    assert make_landscape("smoothed", size=129, hurst=0.8, octaves=4).shape == (129, 129)
    assert make_landscape("cone", size=65).shape == (65, 65)
    with pytest.raises(ValueError, match="kind"):
        make_landscape("bumpy", size=65)
    with pytest.raises(ValueError, match="octaves"):
        make_landscape("midpoint", size=65, octaves=7)


def test_sweep_expansion():
    settings = expand_sweep(kinds=["midpoint", "spectral", "smoothed", "cone"], hursts=[0.5, 1.0], etas=[0.01, 0.02],
                            sigmas=[0.01], seeds=[0, 1], octaves=[5, 8], size=257, walkers=4, steps=100, radius=0.1,
                            dwell=20)
    by_kind = {k: [s for s in settings if s.kind == k] for k in ("midpoint", "spectral", "smoothed", "cone")}
    assert len(by_kind["midpoint"]) == 2 * 2 * 2 * 2
    assert len(by_kind["spectral"]) == 1 * 2 * 2 * 2 and all(s.hurst < 1 for s in by_kind["spectral"])
    assert {s.octaves for s in by_kind["smoothed"]} == {8}
    assert all(math.isnan(s.hurst) and s.octaves == 0 for s in by_kind["cone"])
    assert len({s.setting_id for s in settings}) == len(settings)


BAD_OPTIONS = [
    (["--etas", "0.02,abc"], "--etas"), (["--etas", "-0.1"], "--etas"), (["--hursts", "1.5"], "--hursts"),
    (["--size", "100"], "--size"), (["--walkers", "0"], "--walkers"), (["--kinds", "midpoint,bumpy"], "--kinds"),
    (["--octaves", "12", "--size", "65"], "--octaves"), (["--sigmas", "nan"], "--sigmas"),
    (["--steps", "5"], "--steps"),
    (["--seeds", "1.5"], "--seeds"), (["--radius", "0"], "--radius"), (["--bogus"], "--bogus"),
]


@pytest.mark.parametrize("argv,name", BAD_OPTIONS)
def test_bad_options_exit_2_with_one_line_before_anything_runs(tmp_path, capsys, argv, name):
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and err.startswith("error:")
    assert not out.exists()


def test_quick_defaults_and_overrides():
    opts = parse_options(["--quick", "--etas", "0.01,0.02"])
    assert opts["size"] == 33 and opts["walkers"] == 4 and opts["etas"] == [0.01, 0.02] and opts["octaves"] == [5]
    full = parse_options([])
    assert full["size"] == 513 and full["octaves"] == [5, 9] and full["hursts"] == [0.5, 0.8, 1.0]


# --- the command end to end ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    assert main(["--quick", "--out", str(out), "--num-cpus", "2"]) == 0
    return out


def test_quick_run_writes_the_tables(quick_run):
    settings = pl.read_parquet(quick_run / "settings.parquet")
    walkers = pl.read_parquet(quick_run / "walkers.parquet")
    phase = pl.read_parquet(quick_run / "phase.parquet")
    assert sorted(settings["kind"].to_list()) == sorted(["midpoint", "spectral", "smoothed", "paraboloid", "cone"])
    assert walkers.height == 5 * 4 and set(walkers["outcome"]) <= {"escaped", "converged", "trapped", "wandering"}
    fracs = phase.select(pl.sum_horizontal(pl.col("^frac_.*$")))[:, 0].to_numpy()
    np.testing.assert_allclose(fracs, 1.0)
    for name in ("msd", "paths", "gradient_histogram", "surfaces"):
        assert pl.read_parquet(quick_run / f"{name}.parquet").height > 0
    info = json.loads((quick_run / "run.json").read_text())
    assert info["options"]["quick"] is True and info["n_settings"] == 5 and "code_version" in info


def test_quick_run_writes_an_offline_page(quick_run):
    page = (quick_run / "dashboard" / "toy.html").read_text()
    assert '<script src="plotly.min.js"></script>' in page and "cdn" not in page.lower()
    assert (quick_run / "dashboard" / "plotly.min.js").stat().st_size > 1_000_000
    for section in ("Fig. 8a", "Fig. 8b", "Fig. 8c", "Phase diagrams"):
        assert section in page
    assert page.count('class="plotly-graph-div"') >= 5 + 5 + 5


def test_page_escapes_strings_from_the_data(quick_run):
    from analysis.dashboard_toy import build_toy_page

    info = json.loads((quick_run / "run.json").read_text())
    info["host"] = "<script>alert(1)</script>"
    (quick_run / "run.json").write_text(json.dumps(info))
    page = build_toy_page(quick_run).read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
