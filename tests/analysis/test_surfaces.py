"""Seeded landscape generators: grid contract, closed forms, and each fractal's Hurst exponent from its variogram."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.surfaces import (
    ROUGHNESS, cone, grid_axis, midpoint_displacement, paraboloid, shuffled_smooth, spectral_synthesis,
    variogram, variogram_hurst,
)

SIZE = 257
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def measured_h():
    """Variogram H (lags 2..32) averaged over three seeds, per (generator, nominal H)."""
    out = {}
    for name, gen, hursts in (("midpoint", midpoint_displacement, (0.5, 0.8, 1.0)),
                              ("spectral", spectral_synthesis, (0.3, 0.5, 0.8))):
        for h in hursts:
            out[name, h] = np.mean([variogram_hurst(gen(SIZE, hurst=h, seed=s)) for s in SEEDS])
    return out


# --- grid contract -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [256, 100, 2, 3.5])
def test_size_must_be_power_of_two_plus_one(size):
    with pytest.raises(ValueError, match="2\\^n \\+ 1"):
        midpoint_displacement(size)


def test_grid_axis_spans_the_domain():
    x = grid_axis(9)
    np.testing.assert_allclose(x, np.linspace(-1, 1, 9))


@pytest.mark.parametrize("gen", [midpoint_displacement, spectral_synthesis])
def test_generators_are_seeded(gen):
    a, b, c = gen(65, seed=3), gen(65, seed=3), gen(65, seed=4)
    assert a.shape == (65, 65) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_midpoint_corners_are_zero_and_roughness_scales():
    z = midpoint_displacement(33, roughness=2.0, seed=1)
    assert z[0, 0] == z[0, -1] == z[-1, 0] == z[-1, -1] == 0.0
    np.testing.assert_allclose(midpoint_displacement(33, roughness=4.0, seed=1), 2 * z)


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5])
def test_hurst_out_of_range(bad):
    with pytest.raises(ValueError, match="hurst"):
        midpoint_displacement(33, hurst=bad)


def test_spectral_excludes_h_one():
    with pytest.raises(ValueError, match="hurst"):
        spectral_synthesis(33, hurst=1.0)


# --- variogram -----------------------------------------------------------------------------------------

def test_variogram_of_a_plane_is_quadratic():
    """z = a x + b y: differences a lag dx along x, b lag dx along y, equally many pairs."""
    x = grid_axis(33)
    a, b, dx = 0.7, -1.3, 2 / 32
    z = a * x[:, None] + b * x[None, :]
    lags = np.array([1, 2, 5, 16, 32])
    np.testing.assert_allclose(variogram(z, lags), (a * a + b * b) / 2 * (lags * dx) ** 2, rtol=1e-12)


def test_variogram_matches_a_double_loop():
    z = np.random.default_rng(0).normal(size=(9, 9))
    for lag in (1, 3, 8):
        diffs = [(z[i + lag, j] - z[i, j]) ** 2 for i in range(9 - lag) for j in range(9)]
        diffs += [(z[i, j + lag] - z[i, j]) ** 2 for i in range(9) for j in range(9 - lag)]
        assert variogram(z, [lag])[0] == pytest.approx(np.mean(diffs), rel=1e-12)


def test_variogram_rejects_bad_lags():
    with pytest.raises(ValueError, match="lags"):
        variogram(np.zeros((9, 9)), [0, 3])
    with pytest.raises(ValueError, match="lags"):
        variogram(np.zeros((9, 9)), [9])


# --- Hurst exponents from the variogram (check the generators before using them as truth) ---------------

@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.8])
def test_spectral_variogram_slope_is_2h(measured_h, hurst):
    # expected (from the generator's own covariance) on lags 2..32 of 257 x 257: 0.51 at 0.5, 0.75 at 0.8
    assert measured_h["spectral", hurst] == pytest.approx(hurst, abs=0.1)


@pytest.mark.parametrize("hurst", [0.5, 0.8, 1.0])
def test_midpoint_variogram_slope_is_near_h(measured_h, hurst):
    # midpoint displacement is fBm only roughly: measured 0.44, 0.67, 0.79 (METHODS: authors' H about 0.8)
    assert measured_h["midpoint", hurst] == pytest.approx(hurst, abs=0.22)
    assert measured_h["midpoint", hurst] < hurst


@pytest.mark.parametrize("name,hursts", [("midpoint", (0.5, 0.8, 1.0)), ("spectral", (0.3, 0.5, 0.8))])
def test_measured_h_rises_with_nominal_h(measured_h, name, hursts):
    values = [measured_h[name, h] for h in hursts]
    assert np.all(np.diff(values) > 0.1)


def test_spectral_scale_is_the_expected_variogram_at_half_width():
    half = (129 - 1) // 2
    gamma = np.mean([variogram(spectral_synthesis(129, hurst=0.5, roughness=2.0, seed=s), [half])[0]
                     for s in range(20)])
    assert gamma == pytest.approx(4.0, rel=0.25)


# --- controls ------------------------------------------------------------------------------------------

def test_shuffle_keeps_the_heights_and_smoothing_removes_long_range_correlation():
    z = midpoint_displacement(257, hurst=0.8, seed=0)
    unsmoothed = shuffled_smooth(z, sigma_px=1e-9, seed=1)  # kernel radius 0: the shuffle alone
    np.testing.assert_array_equal(np.sort(unsmoothed.ravel()), np.sort(z.ravel()))
    assert not np.array_equal(unsmoothed, z)
    smooth = shuffled_smooth(z, seed=1)
    g_smooth, g_frac = variogram(smooth, [32, 64]), variogram(z, [32, 64])
    assert 0.75 < g_smooth[1] / g_smooth[0] < 1.3  # flat beyond the kernel (sampling noise ~0.1)
    assert g_frac[1] / g_frac[0] > 1.6  # fractal: 2^(2H)
    assert smooth.std() < 0.1 * z.std()


def test_paraboloid_and_cone_closed_forms():
    x = grid_axis(17)
    p, c = paraboloid(17, depth=2.0), cone(17, depth=0.5)
    i, j = 3, 12
    assert p[i, j] == pytest.approx(-2.0 * (x[i] ** 2 + x[j] ** 2))
    assert c[i, j] == pytest.approx(-0.5 * np.hypot(x[i], x[j]))
    assert p[8, 8] == c[8, 8] == 0.0 and p.max() == 0.0 and c.max() == 0.0


def test_default_roughness_is_the_authors_uniform_width_3():
    assert ROUGHNESS == pytest.approx(3 / np.sqrt(12))
