"""The simple model of SGD on a 2D landscape (Eq. 10, Sec. III.5) and the path measures of Fig. 8.

    w(t + 1) = w(t) - eta grad U(w(t)) + xi(t),   xi ~ N(0, sigma^2 I),   U = 10 - z on [-1, 1]^2

Many walkers advance together (vectorised over walkers). Positions are in domain units (the square
[-1, 1]^2), steps are SGD updates, U is in the landscape's height units, gradients in height units per
domain unit. The surface ``z[i, j] = z(x_i, y_j)`` is sampled on a square grid spanning the domain (see
:mod:`analysis.surfaces`). Gradients are central differences of U on the grid (second-order one-sided at
the border), both components, interpolated bilinearly at the walker's position (the authors' code took
the nearest grid value and used the y-gradient for x as well). A walker whose update leaves the domain
is recorded at the step it left and frozen there, never resampled (the authors redrew the noise until
the step stayed inside, which hides the "leaves the landscape" regime).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Walk", "landscape_gradient", "bilinear", "uniform_starts", "simulate", "final_basin_step",
           "local_minimum_escapes"]

OFFSET = 10.0  # U = OFFSET - z, as in the paper


@dataclass(frozen=True)
class Walk:
    """Trajectories of n walkers on one landscape (Eq. 10).

    Attributes
    ----------
    positions : ndarray, shape (n, steps + 1, 2)
        w(t) in domain units; row ``escape_step + 1`` of an escaped walker holds the position outside
        the domain it jumped to, later rows are NaN.
    gradients : ndarray, shape (n, steps, 2)
        grad U(w(t)) used by update t (height units per domain unit); NaN once a walker has left.
    loss : ndarray, shape (n, steps + 1)
        U(w(t)) by bilinear interpolation; NaN outside the domain.
    escape_step : ndarray of int, shape (n,)
        The update t (0-based) whose result left [-1, 1]^2, or -1 if the walker stayed inside.
    eta, sigma : float
        Learning rate and noise std (domain units per step) of the run.
    """

    positions: np.ndarray = field(repr=False)
    gradients: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    escape_step: np.ndarray
    eta: float
    sigma: float

    @property
    def escaped(self) -> np.ndarray:
        """Boolean mask, shape (n,): the walker left the domain."""
        return self.escape_step >= 0

    def path(self, i: int) -> np.ndarray:
        """Positions of walker i up to its last finite one (the outside point for an escaped walker), (T, 2)."""
        end = self.positions.shape[1] if self.escape_step[i] < 0 else self.escape_step[i] + 2
        return self.positions[i, :end]


def landscape_gradient(surface) -> np.ndarray:
    """grad U on the grid, shape (2, size, size): [dU/dx, dU/dy] with U = 10 - z, x along axis 0.

    Central differences inside, second-order one-sided differences on the border (exact for a
    quadratic surface); grid spacing 2 / (size - 1) domain units.
    """
    z = np.asarray(surface, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != z.shape[1] or z.shape[0] < 3:
        raise ValueError(f"surface must be a square grid of at least 3 x 3 points, got shape {z.shape}")
    h = 2.0 / (z.shape[0] - 1)
    return np.stack(np.gradient(-z, h, edge_order=2))


def bilinear(field_, points) -> np.ndarray:
    """Bilinear interpolation of grid values at points of the domain.

    Parameters
    ----------
    field_ : array_like, shape (size, size) or (c, size, size)
        Values on the grid of :func:`analysis.surfaces.grid_axis` (a leading axis of c components).
    points : array_like, shape (m, 2)
        (x, y) in domain units, inside [-1, 1]^2 (clipped onto it).

    Returns
    -------
    values : ndarray, shape (m,) or (m, c)
    """
    f = np.asarray(field_, dtype=np.float64)
    grid = f if f.ndim == 3 else f[None]
    n = grid.shape[-1]
    u = (np.clip(np.asarray(points, dtype=np.float64), -1.0, 1.0) + 1.0) * (n - 1) / 2.0
    i0 = np.minimum(np.floor(u).astype(int), n - 2)
    a = u - i0  # fractional position in the cell, shape (m, 2)
    ix, iy, ax, ay = i0[:, 0], i0[:, 1], a[:, 0], a[:, 1]
    out = (grid[:, ix, iy] * (1 - ax) * (1 - ay) + grid[:, ix + 1, iy] * ax * (1 - ay)
           + grid[:, ix, iy + 1] * (1 - ax) * ay + grid[:, ix + 1, iy + 1] * ax * ay)
    return out.T if f.ndim == 3 else out[0]


def uniform_starts(n: int, *, seed: int = 0, margin: float = 0.1) -> np.ndarray:
    """n starting points drawn uniformly from [-1 + margin, 1 - margin]^2, shape (n, 2), seeded."""
    return np.random.default_rng(seed).uniform(-1.0 + margin, 1.0 - margin, size=(int(n), 2))


def simulate(surface, starts, *, eta: float = 0.02, sigma: float = 0.01, steps: int = 1000, seed=0) -> Walk:
    """Iterate Eq. 10 for every walker at once.

    Parameters
    ----------
    surface : array_like, shape (size, size)
        Heights z on the grid spanning [-1, 1]^2; the walkers descend U = 10 - z.
    starts : array_like, shape (n, 2)
        Initial positions inside the domain (domain units).
    eta : float, keyword-only
        Learning rate (the authors: 0.02).
    sigma : float, keyword-only
        Noise std per coordinate and step, not scaled by eta (the authors: 0.01); 0 gives gradient descent.
    steps : int, keyword-only
        Number of updates (the authors: 1000).
    seed : int or sequence of int, keyword-only
        Seed of the noise (numpy's default generator); each step draws (n, 2) normals for all walkers, escaped or not.

    Returns
    -------
    Walk
    """
    pos0 = np.asarray(starts, dtype=np.float64)
    if pos0.ndim != 2 or pos0.shape[1] != 2 or not np.all(np.abs(pos0) <= 1.0):
        raise ValueError(f"starts must have shape (n, 2) with every point inside [-1, 1]^2, got shape {pos0.shape}")
    if eta < 0 or sigma < 0 or steps < 1:
        raise ValueError(f"need eta >= 0, sigma >= 0 and steps >= 1, got {eta}, {sigma}, {steps}")
    grad = landscape_gradient(surface)
    loss_grid = OFFSET - np.asarray(surface, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = pos0.shape[0]
    positions = np.full((n, steps + 1, 2), np.nan)
    gradients = np.full((n, steps, 2), np.nan)
    positions[:, 0] = pos0
    escape_step = np.full(n, -1)
    alive = np.arange(n)
    for t in range(steps):
        noise = rng.normal(0.0, sigma, size=(n, 2))
        if alive.size == 0:
            continue
        g = bilinear(grad, positions[alive, t])
        gradients[alive, t] = g
        new = positions[alive, t] - eta * g + noise[alive]
        positions[alive, t + 1] = new
        out = np.any(np.abs(new) > 1.0, axis=1)
        escape_step[alive[out]] = t
        alive = alive[~out]
    loss = np.full((n, steps + 1), np.nan)
    inside = np.all(np.abs(positions) <= 1.0, axis=2)
    loss[inside] = bilinear(loss_grid, positions[inside])
    return Walk(positions, gradients, loss, escape_step, float(eta), float(sigma))


def final_basin_step(path, *, radius: float) -> int:
    """First step from which the walker stays within `radius` of its final position.

    Parameters
    ----------
    path : array_like, shape (T, 2)
        Positions of one walker (domain units).
    radius : float
        Domain units.

    Returns
    -------
    step : int
        In 0..T-1; T-1 means it never settled (only the last point is within `radius` of itself).
    """
    p = np.asarray(path, dtype=np.float64)
    far = np.flatnonzero(np.linalg.norm(p - p[-1], axis=1) > radius)
    return 0 if far.size == 0 else int(far[-1]) + 1


def local_minimum_escapes(path, *, radius: float, dwell: int) -> np.ndarray:
    """Escapes from local minima along one path, and the length of the jump that made each.

    The path is cut greedily into stays: a stay starts at an anchor point and lasts while the walker
    remains within `radius` of that anchor; the first point outside starts the next stay. A stay of at
    least `dwell` steps counts as a visit to a local minimum, and the step that ends it as an escape.

    Parameters
    ----------
    path : array_like, shape (T, 2)
        Positions of one walker (domain units).
    radius : float
        Domain units.
    dwell : int
        Steps.

    Returns
    -------
    jumps : ndarray, shape (n_escapes,)
        Length of each escaping step ``||w(t) - w(t - 1)||`` (domain units), in order.
    """
    p = np.asarray(path, dtype=np.float64).tolist()
    jumps, anchor = [], 0
    r2 = radius * radius
    for t in range(1, len(p)):
        dx, dy = p[t][0] - p[anchor][0], p[t][1] - p[anchor][1]
        if dx * dx + dy * dy > r2:
            if t - anchor >= dwell:
                jumps.append(float(np.hypot(p[t][0] - p[t - 1][0], p[t][1] - p[t - 1][1])))
            anchor = t
    return np.asarray(jumps)
