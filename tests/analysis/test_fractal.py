"""analysis.fractal: contour scaling, transverse excursions and MSL against closed forms and loops."""

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.spatial.distance import cdist

from analysis.fractal import (
    ContourScaling,
    contour_scaling,
    mean_squared_loss,
    pairwise_sq_distances,
    transverse_distance,
)


def _step_norm(x):
    return np.concatenate([[0.0], np.linalg.norm(np.diff(x, axis=0), axis=1)])


def _persistent_walk(n_steps, k, corr_steps, rng):
    """AR(1) velocities with correlation time `corr_steps`: straight below it, Brownian above."""
    a = np.exp(-1.0 / corr_steps)
    vel = lfilter([np.sqrt(1 - a * a)], [1.0, -a], rng.standard_normal((n_steps, k)), axis=0)
    return np.cumsum(vel, axis=0)


@pytest.fixture(scope="module")
def brownian_1024(request):
    rng = np.random.default_rng(31)
    steps = rng.standard_normal((999, 1024))
    return np.vstack([np.zeros((1, 1024)), np.cumsum(steps, axis=0)])


class TestPairwiseSqDistances:
    def test_matches_scipy_cdist(self):
        x = np.random.default_rng(30).standard_normal((50, 7)).cumsum(axis=0) + 100.0
        np.testing.assert_allclose(pairwise_sq_distances(x), cdist(x, x, "sqeuclidean"), rtol=1e-9, atol=1e-9)

    def test_float32_sketch_input(self):
        x = np.random.default_rng(30).standard_normal((40, 16)).cumsum(axis=0).astype(np.float32)
        ref = cdist(x.astype(np.float64), x.astype(np.float64), "sqeuclidean")
        np.testing.assert_allclose(pairwise_sq_distances(x), ref, rtol=1e-9, atol=1e-9)


class TestContourScaling:
    def test_brownian_dimension_is_two(self, brownian_1024):
        res = contour_scaling(brownian_1024, _step_norm(brownian_1024))
        assert abs(res.d_f_short - 2.0) < 0.1 and abs(res.d_f_long - 2.0) < 0.1
        assert res.reason == ""

    def test_straight_line_dimension_is_one(self):
        x = np.arange(600.0)[:, None] * np.array([1.0, 2.0, -0.5])
        res = contour_scaling(x, _step_norm(x))
        assert res.d_f_short == pytest.approx(1.0, abs=1e-6) and res.d_f_long == pytest.approx(1.0, abs=1e-6)

    def test_contour_length_is_exactly_j_minus_i_steps(self):
        # Along a line with unequal steps R(i, j) = L_c(i, j) only if exactly j - i steps are summed.
        lengths = np.random.default_rng(32).uniform(0.1, 3.0, 300)
        x = np.concatenate([[0.0], np.cumsum(lengths)])[:, None] * np.array([[0.6, 0.8]])
        res = contour_scaling(x, _step_norm(x), min_separation=1)
        np.testing.assert_allclose(res.end_to_end, res.contour_length, rtol=1e-9)

    def test_adjacent_pairs_excluded_from_short_scale(self):
        # Low dimension: adjacent pairs (R = L_c exactly) pull d_f_short towards 1 when included.
        rng = np.random.default_rng(33)
        x = np.cumsum(rng.standard_normal((1000, 3)), axis=0)
        with_adjacent = contour_scaling(x, _step_norm(x), min_separation=1)
        without = contour_scaling(x, _step_norm(x))
        assert without.contour_length.min() > with_adjacent.contour_length.min()
        assert without.d_f_short > with_adjacent.d_f_short

    def test_persistent_walk_has_two_regimes(self):
        corr = 30
        x = _persistent_walk(2000, 64, corr, np.random.default_rng(34))
        steps = _step_norm(x)
        res = contour_scaling(x, steps)
        persistence_length = corr * steps[1:].mean()
        assert res.d_f_short < 1.25 < 1.5 < res.d_f_long
        assert persistence_length / 2 < res.crossover_length < 4 * persistence_length

    def test_shared_sq_dist_gives_same_result(self, brownian_1024):
        x = brownian_1024[:300]
        dist = pairwise_sq_distances(x)
        a, b = contour_scaling(x, _step_norm(x)), contour_scaling(x, _step_norm(x), sq_dist=dist)
        assert (a.d_f_short, a.d_f_long, a.crossover_length) == (b.d_f_short, b.d_f_long, b.crossover_length)

    def test_constant_trajectory_gives_nan_with_reason(self):
        res = contour_scaling(np.ones((50, 3)), np.zeros(50))
        assert isinstance(res, ContourScaling) and np.isnan(res.d_f_short) and res.reason


class TestTransverseDistance:
    def test_matches_explicit_loop(self):
        x = np.random.default_rng(35).standard_normal((14, 3)).cumsum(axis=0)
        res = transverse_distance(x, num_separations=50)
        for n, h_rms in zip(res.separation, res.transverse):
            worst = [
                max(_point_segment_distance(x[t], x[i], x[i + n]) for t in range(i + 1, i + n))
                for i in range(14 - n)
            ]
            assert h_rms == pytest.approx(np.sqrt(np.mean(np.square(worst))), rel=1e-9)

    def test_brownian_is_self_similar(self, brownian_1024):
        assert abs(transverse_distance(brownian_1024).exponent - 1.0) < 0.1

    def test_graph_of_brownian_motion_is_self_affine(self):
        rng = np.random.default_rng(36)
        x = np.column_stack([np.arange(2000.0), np.cumsum(rng.standard_normal(2000))])
        assert 0.4 < transverse_distance(x).exponent < 0.75

    def test_straight_line_gives_nan_with_reason(self):
        res = transverse_distance(np.arange(30.0)[:, None] * np.array([1.0, 1.0]))
        assert np.isnan(res.exponent) and res.reason


class TestMeanSquaredLoss:
    def test_matches_explicit_pairs_mean_of_squares(self):
        rng = np.random.default_rng(37)
        x, loss = rng.standard_normal((40, 4)).cumsum(axis=0), rng.standard_normal(40)
        res = mean_squared_loss(x, loss, num_bins=8, min_pairs=1)
        i, j = np.triu_indices(40, k=1)
        d, dl2 = np.linalg.norm(x[i] - x[j], axis=1), (loss[i] - loss[j]) ** 2
        edges = np.geomspace(d.min(), d.max() * (1 + 1e-12), 9)
        which = np.digitize(d, edges) - 1
        ref = np.array([dl2[which == b].mean() for b in range(8) if np.any(which == b)])
        np.testing.assert_allclose(res.msl, ref, rtol=1e-9)

    def test_linear_loss_gives_exponent_two(self):
        # One path is noisy at large distances (all pairs there share one displacement): take the
        # median over 4 paths x 8 directions of the loss gradient.
        rng = np.random.default_rng(38)
        exps = []
        for _ in range(4):
            x = np.cumsum(rng.standard_normal((1000, 64)), axis=0)
            dist = pairwise_sq_distances(x)
            for _ in range(8):
                exps.append(mean_squared_loss(x, x @ rng.standard_normal(64), sq_dist=dist).msl_exponent)
        assert abs(np.median(exps) - 2.0) < 0.15

    def test_pure_noise_gives_flat_msl(self, brownian_1024):
        loss = np.random.default_rng(39).normal(scale=0.5, size=1000)
        res = mean_squared_loss(brownian_1024, loss)
        assert abs(res.msl_exponent) < 0.1
        assert np.median(res.msl) == pytest.approx(2 * 0.25, rel=0.1)  # mean of squares: 2 sigma^2

    def test_constant_trajectory_gives_nan_with_reason(self):
        res = mean_squared_loss(np.zeros((20, 2)), np.arange(20.0))
        assert np.isnan(res.msl_exponent) and "does not move" in res.reason


class TestBadInput:
    def test_mismatched_step_norm(self):
        with pytest.raises(ValueError, match="step_norm has 9 entries"):
            contour_scaling(np.zeros((10, 2)), np.ones(9))

    def test_mismatched_loss(self):
        with pytest.raises(ValueError, match="loss has 11 entries"):
            mean_squared_loss(np.zeros((10, 2)), np.ones(11))

    def test_nan_loss(self):
        loss = np.ones(10)
        loss[2] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            mean_squared_loss(np.random.default_rng(0).standard_normal((10, 2)), loss)

    def test_negative_step_norm(self):
        with pytest.raises(ValueError, match="negative"):
            contour_scaling(np.zeros((10, 2)), -np.ones(10))

    def test_min_separation_out_of_range(self):
        with pytest.raises(ValueError, match="min_separation"):
            contour_scaling(np.zeros((10, 2)), np.ones(10), min_separation=10)

    def test_sq_dist_shape(self):
        with pytest.raises(ValueError, match="sq_dist"):
            transverse_distance(np.zeros((10, 2)), sq_dist=np.zeros((9, 9)))

    @pytest.mark.parametrize("func", [transverse_distance, pairwise_sq_distances])
    def test_short_window_and_inf(self, func):
        with pytest.raises(ValueError, match="fewer than the 3"):
            func(np.zeros((2, 2)))
        with pytest.raises(ValueError, match="inf"):
            func(np.array([[0.0], [np.inf], [1.0]]))


def _point_segment_distance(p, a, b):
    ab, ap = b - a, p - a
    denom = ab @ ab
    s = 0.0 if denom == 0 else np.clip(ap @ ab / denom, 0.0, 1.0)
    return np.linalg.norm(ap - s * ab)
