"""The simple model of Sec. III.5 (Eq. 10, Fig. 8) as a sweep: landscapes x learning rates x noise x seeds.

    python -m analysis.toy [--out runs/toy] [--size 513] [--walkers 32] [--steps 1000] [--quick]
                           [--kinds midpoint,spectral,smoothed,paraboloid,cone] [--hursts 0.5,0.8,1.0]
                           [--etas 0.005,0.02,0.05] [--sigmas 0.01] [--seeds 0] [--octaves 5,full]
                           [--radius 0.1] [--dwell 20] [--address auto] [--num-cpus N] [--no-dashboard]

One Ray task per setting (:func:`analysis.distributed.run_tasks`) builds the landscape
(:func:`make_landscape`), runs the walkers (:mod:`analysis.walker`) and measures them
(:mod:`analysis.toy_measures`: final basin, outcome, MSD exponents, escapes, stable fits). The driver
writes the tables (:mod:`analysis.toy_tables`) and the Fig. 8 page ``<out>/dashboard/toy.html``
(:mod:`analysis.dashboard_toy`). A bad option is a one-line error naming it, exit code 2, before
anything runs.

Landscapes on [-1, 1]^2. ``midpoint`` and ``spectral`` are fractal with ``octaves`` levels of detail: they
are generated and walked on a grid of 2^octaves + 1 points, so ``octaves = log2(size - 1)`` ("full") is
the paper's setup (10 on 1025 x 1025) and fewer octaves make a landscape that is fractal down to a
cutoff of 2^(1 - octaves) domain units and smooth below it (the walker's bilinear interpolation of
central differences). ``smoothed`` shuffles the pixels of the full-detail ``midpoint`` landscape of the
same H and seed and smooths them with the authors' kernel of 8 pixels of a 1025 grid
(``8 (size - 1) / 1024`` pixels of the ``size`` grid). ``paraboloid`` and ``cone`` have depth 1
(z = -(x^2 + y^2), z = -sqrt(x^2 + y^2)) on the ``size`` grid, and no H. Walkers start uniformly in
[-0.9, 0.9]^2; landscape, starts and noise have separate seeded streams.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from analysis import surfaces
from analysis.toy_measures import MIN_SEGMENT, aggregate, analyse_walker, pooled_gradients
from analysis.walker import bilinear, simulate, uniform_starts

__all__ = ["KINDS", "FRACTAL_KINDS", "ToySetting", "make_landscape", "run_setting", "expand_sweep", "run_sweep",
           "parse_options", "main"]

KINDS = ("midpoint", "spectral", "smoothed", "paraboloid", "cone")
FRACTAL_KINDS = ("midpoint", "spectral", "smoothed")
N_PATHS = 4  # walkers per setting whose whole path is kept
SURFACE_POINTS = 129  # points per side of the stored landscape preview


@dataclass(frozen=True)
class ToySetting:
    """One point of the sweep: a landscape, the walker's parameters and the analysis options.

    ``hurst`` is NaN for the bowls; ``octaves`` is the fractal's levels of detail (0 for the bowls);
    ``size`` the fine grid (2^n + 1 points per side); ``radius`` (domain units) and ``dwell`` (steps)
    define basins, outcomes and escapes (:mod:`analysis.toy_measures`).
    """

    kind: str
    hurst: float
    eta: float  # learning rate
    sigma: float  # noise std per coordinate and step, domain units
    seed: int
    octaves: int
    size: int = 513
    walkers: int = 32
    steps: int = 1000
    radius: float = 0.1
    dwell: int = 20

    @property
    def landscape_id(self) -> str:
        if self.kind in FRACTAL_KINDS:
            return f"{self.kind}_H{self.hurst:g}_oct{self.octaves}_seed{self.seed}"
        return f"{self.kind}_seed{self.seed}"

    @property
    def setting_id(self) -> str:
        return f"{self.landscape_id}_eta{self.eta:g}_sigma{self.sigma:g}"


def make_landscape(kind: str, *, size: int, hurst: float = 0.8, octaves: int | None = None,
                   seed: int = 0) -> np.ndarray:
    """Heights z of one landscape kind on its grid over [-1, 1]^2 (module docstring).

    Parameters
    ----------
    kind : {"midpoint", "spectral", "smoothed", "paraboloid", "cone"}
    size : int, keyword-only
        Points per side of the fine grid, 2^n + 1: the grid of the bowls and of ``smoothed``.
    hurst : float, keyword-only
        H of the fractal kinds (spectral needs H < 1).
    octaves : int, keyword-only
        Levels of detail of ``midpoint`` and ``spectral``, 1..n (default n: full detail); they are
        generated and walked on a grid of 2^octaves + 1 points. ``smoothed`` shuffles the heights of
        the ``midpoint`` landscape refined (bilinearly) to the fine grid.
    seed : int, keyword-only

    Returns
    -------
    z : ndarray, shape (m, m)
        m = 2^octaves + 1 for midpoint and spectral, `size` otherwise.
    """
    full = int(size - 1).bit_length() - 1
    octaves = full if octaves is None else int(octaves)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind in ("paraboloid", "cone"):
        return getattr(surfaces, kind)(size)
    if not 1 <= octaves <= full:
        raise ValueError(f"octaves must lie in 1..{full} for size {size}, got {octaves}")
    gen = surfaces.spectral_synthesis if kind == "spectral" else surfaces.midpoint_displacement
    z = gen(2**octaves + 1, hurst=hurst, seed=seed)
    if kind == "smoothed":
        z = surfaces.shuffled_smooth(_refine(z, size), sigma_px=surfaces.SMOOTH_SIGMA_PX * (size - 1) / 1024, seed=seed)
    return z


def _refine(z: np.ndarray, size: int) -> np.ndarray:
    """Bilinear refinement of a (m, m) grid onto (size, size) points of the same domain."""
    if z.shape[0] == size:
        return z
    x = surfaces.grid_axis(size)
    pts = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)
    return bilinear(z, pts).reshape(size, size)


def run_setting(setting: ToySetting) -> dict[str, list[dict]]:
    """The body of one sweep task: landscape, walkers, per-walker and pooled measures, as table rows.

    Returns
    -------
    rows : dict
        ``walkers``, ``msd``, ``paths`` (the first 4 walkers), ``gradient_histogram``, ``settings``
        (one aggregate row) and ``surfaces`` (a 129 x 129 preview of the landscape), each a list of
        dicts tagged with the setting's fields.
    """
    z = make_landscape(setting.kind, size=setting.size, hurst=setting.hurst, octaves=setting.octaves, seed=setting.seed)
    starts = uniform_starts(setting.walkers, seed=[setting.seed, 1])
    walk = simulate(z, starts, eta=setting.eta, sigma=setting.sigma, steps=setting.steps, seed=[setting.seed, 2])
    x = surfaces.grid_axis(z.shape[0])
    global_min = x[list(np.unravel_index(np.argmax(z), z.shape))]
    tag = {"setting_id": setting.setting_id, **asdict(setting)}
    out = {"walkers": [], "msd": [], "paths": [], "gradient_histogram": [], "settings": [], "surfaces": []}
    for i in range(setting.walkers):
        row, msd_rows = analyse_walker(walk, i, global_min=global_min, radius=setting.radius, dwell=setting.dwell)
        out["walkers"].append({**tag, **row})
        out["msd"] += [{"setting_id": setting.setting_id, **r} for r in msd_rows]
    for i in range(min(N_PATHS, setting.walkers)):
        out["paths"] += [{"setting_id": setting.setting_id, "walker": i, "step": t, "x": float(p[0]), "y": float(p[1])}
                         for t, p in enumerate(walk.path(i))]
    pooled, hist = pooled_gradients(walk, setting.seed)
    out["gradient_histogram"] = [{"setting_id": setting.setting_id, **h} for h in hist]
    out["settings"].append({**tag, **aggregate(out["walkers"]), **pooled,
                            "global_min_x": float(global_min[0]), "global_min_y": float(global_min[1])})
    stride = max(1, (z.shape[0] - 1) // (SURFACE_POINTS - 1))
    out["surfaces"] = [{"landscape_id": setting.landscape_id, "i": i, "j": j, "x": float(x[i * stride]),
                        "y": float(x[j * stride]), "z": float(v)}
                       for i, line in enumerate(z[::stride, ::stride]) for j, v in enumerate(line)]
    return out


# --- the sweep and its command line --------------------------------------------------------------------

QUICK = {"size": 33, "walkers": 4, "steps": 100, "kinds": "midpoint,spectral,smoothed,paraboloid,cone",
         "hursts": "0.8", "etas": "0.02", "sigmas": "0.01", "seeds": "0", "octaves": "full"}
DEFAULTS = {"size": 513, "walkers": 32, "steps": 1000, "kinds": ",".join(KINDS), "hursts": "0.5,0.8,1.0",
            "etas": "0.005,0.02,0.05", "sigmas": "0.01", "seeds": "0", "octaves": "5,full"}


def expand_sweep(*, kinds, hursts, etas, sigmas, seeds, octaves, size: int, walkers: int, steps: int,
                 radius: float, dwell: int) -> list[ToySetting]:
    """Every setting of the sweep, in a stable order.

    ``midpoint`` and ``spectral`` cross every H and octave count (spectral skips H >= 1, which spectral
    synthesis cannot make); ``smoothed`` uses full detail only (shuffling keeps nothing of the finer
    structure but the height distribution); the bowls have no H (NaN) and no octaves (0).
    """
    full = int(size - 1).bit_length() - 1
    out = []
    for kind in kinds:
        if kind in ("paraboloid", "cone"):
            shapes = [(math.nan, 0)]
        elif kind == "smoothed":
            shapes = [(h, full) for h in hursts]
        else:
            shapes = [(h, o) for h in hursts for o in octaves if not (kind == "spectral" and h >= 1)]
        out += [ToySetting(kind, float(h), float(eta), float(sigma), int(seed), int(o), size=size, walkers=walkers,
                           steps=steps, radius=radius, dwell=dwell)
                for h, o in shapes for eta in etas for sigma in sigmas for seed in seeds]
    return out


def run_sweep(settings: list[ToySetting], *, address: str | None = None, num_cpus: int | None = None) -> list[dict]:
    """:func:`run_setting` for every setting as Ray tasks (one CPU each); results in order."""
    from analysis.distributed import run_tasks

    return run_tasks(run_setting, [(s,) for s in settings], address=address, num_cpus=num_cpus)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage first)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_options(argv=None) -> dict:
    """Command-line options, validated and resolved (defaults, or the --quick smoke defaults).

    Raises ValueError("--option: ...") on a bad value; argparse's own errors exit 2 with one line.
    """
    p = _Parser(prog="python -m analysis.toy", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/toy", help="output folder for the tables and dashboard/toy.html")
    p.add_argument("--address", help="Ray cluster address (default: a local Ray, stopped afterwards)")
    p.add_argument("--num-cpus", help="CPUs of the local Ray (default: all cores)")
    p.add_argument("--quick", action="store_true", help="smoke mode: 33x33 grid, 4 walkers, 100 steps, 5 settings")
    p.add_argument("--no-dashboard", action="store_true", help="write the tables only")
    for name in ("size", "walkers", "steps", "kinds", "hursts", "etas", "sigmas", "seeds", "octaves"):
        p.add_argument(f"--{name}", help=f"default {DEFAULTS[name]} (--quick: {QUICK[name]})")
    p.add_argument("--radius", default="0.1", help="basin / convergence / stay radius, domain units (default 0.1)")
    p.add_argument("--dwell", default="20", help="steps a stay must last to count as a local minimum (default 20)")
    a = vars(p.parse_args(argv))
    base = QUICK if a["quick"] else DEFAULTS
    raw = {k: (a[k] if a[k] is not None else base[k]) for k in base}
    opts = {"out": a["out"], "address": a["address"], "quick": a["quick"], "dashboard": not a["no_dashboard"],
            "num_cpus": _number("num-cpus", a["num_cpus"], int, lo=1) if a["num_cpus"] else None,
            "size": _number("size", raw["size"], int, lo=5), "walkers": _number("walkers", raw["walkers"], int, lo=1),
            "steps": _number("steps", raw["steps"], int, lo=MIN_SEGMENT),
            "radius": _number("radius", a["radius"], float, lo=0, strict=True),
            "dwell": _number("dwell", a["dwell"], int, lo=1)}
    full = int(opts["size"] - 1).bit_length() - 1
    if opts["size"] != 2**full + 1:
        raise ValueError(f"--size: {opts['size']} is not 2^n + 1 (e.g. 33, 257, 513, 1025)")
    opts["kinds"] = _choices("kinds", raw["kinds"])
    opts["hursts"] = [_number("hursts", v, float, lo=0, hi=1, strict=True) for v in _items("hursts", raw["hursts"])]
    opts["etas"] = [_number("etas", v, float, lo=0, strict=True) for v in _items("etas", raw["etas"])]
    opts["sigmas"] = [_number("sigmas", v, float, lo=0) for v in _items("sigmas", raw["sigmas"])]
    opts["seeds"] = [_number("seeds", v, int, lo=0) for v in _items("seeds", raw["seeds"])]
    opts["octaves"] = _octaves(raw["octaves"], full, explicit=a["octaves"] is not None)
    return opts


def _items(name: str, text: str) -> list[str]:
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"--{name}: empty list; give comma-separated values")
    return list(dict.fromkeys(items))


def _number(name: str, text, kind, *, lo=None, hi=None, strict: bool = False):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise ValueError(f"--{name}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None
    too_low = lo is not None and (value <= lo if strict else value < lo)
    if not math.isfinite(value) or too_low or (hi is not None and value > hi):
        bound = f"{'>' if strict else '>='} {lo}" + (f" and <= {hi}" if hi is not None else "")
        raise ValueError(f"--{name}: {text!r} must be {bound}")
    return value


def _choices(name: str, text: str) -> list[str]:
    items = _items(name, text)
    bad = [k for k in items if k not in KINDS]
    if bad:
        raise ValueError(f"--{name}: unknown {', '.join(map(repr, bad))}; choose from {', '.join(KINDS)}")
    return items


def _octaves(text: str, full: int, *, explicit: bool) -> list[int]:
    values = [full if v == "full" else _number("octaves", v, int, lo=1) for v in _items("octaves", text)]
    if explicit and max(values) > full:
        raise ValueError(f"--octaves: {max(values)} exceeds the {full} levels of a grid of size {2**full + 1}")
    return sorted({min(v, full) for v in values})


def main(argv=None) -> int:
    try:
        opts = parse_options(argv)
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
    except SystemExit as e:  # argparse: --help (0) or an unknown option (2, one line already printed)
        return int(e.code or 0)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: --out: cannot create {opts['out']}: {e.strerror}", file=sys.stderr)
        return 2
    keys = ("kinds", "hursts", "etas", "sigmas", "seeds", "octaves", "size", "walkers", "steps", "radius", "dwell")
    settings = expand_sweep(**{k: opts[k] for k in keys})
    print(f"{len(settings)} settings x {opts['walkers']} walkers x {opts['steps']} steps "
          f"on a {opts['size']} grid -> {out}")
    start = time.perf_counter()
    results = run_sweep(settings, address=opts["address"], num_cpus=opts["num_cpus"])
    elapsed = time.perf_counter() - start
    from analysis.toy_tables import read_tables, write_tables

    write_tables(out, results, run_info={"options": opts, "n_settings": len(settings), "sweep_seconds": elapsed})
    phase = read_tables(out)["phase"]
    _print_phase(phase)
    if opts["dashboard"]:
        from analysis.dashboard_toy import build_toy_page

        print(f"dashboard: {build_toy_page(out)}")
    print(f"sweep took {elapsed:.1f} s; tables in {out}")
    return 0


def _print_phase(phase) -> None:
    import polars as pl

    if phase is None or phase.is_empty():
        return
    cols = ["kind", "octaves", "hurst", "eta", "sigma", "frac_escaped", "frac_converged", "frac_trapped",
            "alpha_before", "alpha_after", "levy_llr"]
    with pl.Config(tbl_rows=200, tbl_cols=20, tbl_width_chars=200, float_precision=3, tbl_hide_dataframe_shape=True):
        print(phase.select(cols))


if __name__ == "__main__":
    sys.exit(main())
