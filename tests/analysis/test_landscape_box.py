"""Differential box counting against closed forms: fBm surfaces (D = 3 - H) and planes (D = 2)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.landscape import BoxCounting, box_counting, box_counting_dimension, default_box_sizes
from analysis.surfaces import grid_axis, spectral_synthesis, variogram_hurst

SIZE = 257
HURSTS = (0.3, 0.5, 0.8, 0.95)
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def fbm_surfaces():
    return {h: [spectral_synthesis(SIZE, hurst=h, seed=s) for s in SEEDS] for h in HURSTS}


@pytest.fixture(scope="module")
def dims(fbm_surfaces):
    return {h: np.mean([box_counting_dimension(z) for z in zs]) for h, zs in fbm_surfaces.items()}


def test_truth_surfaces_have_their_hurst_exponent(fbm_surfaces):
    """Check the generator's variogram (slope 2H) before using it as truth."""
    for h in (0.5, 0.8):
        assert np.mean([variogram_hurst(z) for z in fbm_surfaces[h]]) == pytest.approx(h, abs=0.1)


def test_dimension_decreases_as_h_rises(dims):
    values = [dims[h] for h in HURSTS]
    assert np.all(np.diff(values) < 0), values


@pytest.mark.parametrize("hurst", [0.5, 0.8])
def test_dimension_is_three_minus_h(dims, hurst):
    # measured: 2.32 at H = 0.5 (DBC biased low by ~0.18 here), 2.18 at H = 0.8
    assert dims[hurst] == pytest.approx(3 - hurst, abs=0.2)
    assert 2.0 < dims[hurst] <= 3 - hurst + 0.02


@pytest.mark.parametrize("a,b", [(0.3, 0.7), (1.0, 0.0), (0.05, 0.02), (2.0, -1.0), (1e-6, 3e-6)])
def test_plane_has_dimension_two(a, b):
    x = grid_axis(SIZE)
    assert box_counting_dimension(a * x[:, None] + b * x[None, :]) == pytest.approx(2.0, abs=0.05)


def test_flat_surface_has_dimension_two():
    fit = box_counting(np.full((65, 65), 3.0))
    assert fit.dimension == pytest.approx(2.0, abs=1e-12)
    np.testing.assert_array_equal(fit.counts, (64 / fit.box_sizes) ** 2)


def test_counts_match_a_loop_over_cells():
    z = np.random.default_rng(1).normal(size=(17, 17))
    fit = box_counting(z, box_sizes=[2, 4, 8])
    zz = z - z.min()
    for s, got in zip(fit.box_sizes, fit.counts):
        h = s * zz.max() / 16
        want = 0.0
        for a in range(0, 16, s):
            for b in range(0, 16, s):
                cell = zz[a:a + s + 1, b:b + s + 1]
                want += np.ceil(cell.max() / h) - np.ceil(cell.min() / h) + 1
        assert got == want


def test_fit_details_are_frozen_and_consistent():
    fit = box_counting(spectral_synthesis(65, hurst=0.5, seed=0))
    assert isinstance(fit, BoxCounting)
    np.testing.assert_array_equal(fit.box_sizes, [2, 4, 8, 16, 32])
    slope = np.polyfit(np.log(1 / fit.box_sizes), np.log(fit.counts), 1)[0]
    assert fit.dimension == pytest.approx(slope)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.dimension = 0.0


def test_flatter_boxes_reduce_the_bias(fbm_surfaces):
    z = fbm_surfaces[0.5][0]
    assert box_counting(z, height_scale=8).dimension > box_counting(z).dimension


def test_default_box_sizes():
    np.testing.assert_array_equal(default_box_sizes(257), [2, 4, 8, 16, 32, 64, 128])
    np.testing.assert_array_equal(default_box_sizes(51), [2, 5, 10, 25])


@pytest.mark.parametrize("sizes", [[3, 4], [2], [2, 2], [0, 4], [512, 2]])
def test_bad_box_sizes(sizes):
    with pytest.raises(ValueError, match="box_sizes"):
        box_counting(np.zeros((257, 257)), box_sizes=sizes)


def test_bad_surfaces():
    with pytest.raises(ValueError, match="square"):
        box_counting(np.zeros((9, 17)))
    z = np.zeros((9, 9))
    z[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        box_counting(z)
