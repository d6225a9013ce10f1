"""Launch a grid of trials on Ray Tune: `python -m orchestrator.grid [--grid demo|smoke|paper|FILE]`.

With no arguments: the `demo` preset on an embedded local Ray instance, into ./runs/demo.
Every input is validated before Ray starts; a bad one is a one-line error and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

from orchestrator.lock import LockedError, driver_lock
from orchestrator.estimate import DEFAULT_TFLOPS, human_bytes, trial_estimate
from orchestrator.spec import GridError, GridSpec, expand, load_grid, parse_grid
from workers.config import TrialConfig
from workers.datafiles import check_files
from workers.storage import Folder, is_uri

FINISHED = ("completed", "diverged")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m orchestrator.grid", description=__doc__.split("\n")[0])
    p.add_argument("--grid", default="demo", help="preset name (demo, smoke, paper) or a YAML file")
    p.add_argument("--storage", default="./runs", help="folder that holds experiments (default ./runs)")
    p.add_argument("--name", help="experiment name (default: the grid's name)")
    p.add_argument("--address", help="connect to an existing Ray cluster (default: start a local one)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (steps=500) or an axis (lr=[0.1,0.5]); repeatable")
    p.add_argument("--dry-run", action="store_true", help="print the trials and the cost estimate, start nothing")
    p.add_argument("--resume", action="store_true", help="continue the experiment from its stored grid.yaml")
    p.add_argument("--max-concurrent", type=int, default=0, help="at most this many trials at once (0: no limit)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions pack small models on one GPU")
    p.add_argument("--max-failures", type=int, default=2, help="retries of a failed trial")
    p.add_argument("--skip-analysis", action="store_true", help="train only; no analysis after training")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the embedded local Ray (default: all)")
    p.add_argument("--assume-tflops", type=float, default=DEFAULT_TFLOPS,
                   help="sustained accelerator TFLOP/s for the --dry-run estimate")
    return p.parse_args(argv)


def resolve(args) -> tuple[GridSpec, list[TrialConfig], Folder]:
    """Validate everything that can be checked without Ray; raises GridError with a one-line message."""
    try:
        storage = Folder(args.storage)
    except ValueError as e:
        raise GridError(f"--storage: {e}") from None
    if args.resume:
        if args.set:
            raise GridError("--set: not allowed with --resume; an experiment continues with its stored grid.yaml")
        name = args.name or load_grid(args.grid).name
        spec = _stored_grid(storage / name)
        if spec is None:
            raise GridError(f"--resume: {storage.location}/{name}/grid.yaml does not exist; start the "
                            f"experiment first (without --resume)")
    else:
        spec = load_grid(args.grid, args.set)
    for name in ("cpus_per_trial", "gpus_per_trial", "max_concurrent", "max_failures"):
        if getattr(args, name) < 0:
            raise GridError(f"--{name.replace('_', '-')}: {getattr(args, name)} is negative; use a value >= 0")
    trials = expand(spec)
    for dataset, root in sorted({(t.dataset, t.data_root) for t in trials if not t.download}):
        try:
            check_files(dataset, root)
        except FileNotFoundError as e:
            raise GridError(f"data_root: {e}") from None
    name = args.name or spec.name
    if not NAME_RE.match(name):
        raise GridError(f"--name: {name!r} is not a plain folder name; use letters, digits, '.', '_' and '-' "
                        f"(not starting with '.'), so the experiment stays inside --storage")
    experiment = storage / name
    if not is_uri(experiment.location):
        _check_writable(Path(experiment.location))
    _check_same_grid(experiment, spec)
    return spec, trials, experiment


def _check_writable(path: Path) -> None:
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise GridError(f"--storage: {existing} is not a writable folder; choose a --storage path you can write")


def _stored_grid(experiment: Folder) -> GridSpec | None:
    try:
        text = experiment.read_bytes("grid.yaml")
        return None if text is None else parse_grid(yaml.safe_load(text))
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # GridError is a ValueError
        raise GridError(f"{experiment.location}/grid.yaml: unreadable stored grid ({' '.join(str(e).split())}); "
                        f"repair or remove it") from None


def _check_same_grid(experiment: Folder, spec: GridSpec) -> None:
    stored = _stored_grid(experiment)
    trial_parts = lambda g: {k: v for k, v in g.to_dict().items() if k in ("axes", "fixed", "overrides", "exclude")}
    if stored is not None and trial_parts(stored) != trial_parts(spec):  # analysis settings may change
        raise GridError(f"--name: experiment {experiment.location} was made by a different grid; use another "
                        f"--name or --resume to continue it with its own grid")


def trial_state(experiment: Folder, cfg: TrialConfig) -> str:
    try:
        status = json.loads(experiment.read_bytes(f"trials/{cfg.trial_id}/status.json") or b"{}")
    except ValueError:
        return "pending"
    return str(status.get("state", "pending")) if isinstance(status, dict) else "pending"  # hand-edited: pending


def print_plan(trials: list[TrialConfig], experiment: Folder, tflops: float) -> None:
    rows = [trial_estimate(c, tflops=tflops) for c in trials]
    width = max(len(r["trial_id"]) for r in rows)
    print(f"{'trial_id':{width}s} {'state':>9s} {'params':>10s} {'steps':>9s} {'storage':>9s} {'accel-h':>8s}")
    for cfg, r in zip(trials, rows):
        print(f"{r['trial_id']:{width}s} {trial_state(experiment, cfg):>9s} {r['params']:>10,d} {r['steps']:>9,d} "
              f"{human_bytes(r['bytes']):>9s} {r['accel_hours']:>8.2f}")
    print(f"{len(rows)} trials -> {experiment.location}: {sum(r['steps'] for r in rows):,d} SGD steps, "
          f"{human_bytes(sum(r['bytes'] for r in rows))} of trajectory shards, "
          f"{sum(r['accel_hours'] for r in rows):.1f} accelerator-hours at an assumed {tflops:g} TFLOP/s")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        spec, trials, experiment = resolve(args)
    except GridError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print_plan(trials, experiment, args.assume_tflops)
        return 0
    t0 = time.perf_counter()
    try:
        if is_uri(experiment.location):  # object stores have no exclusive create: no driver lock there
            run_grid(args, spec, trials, experiment)
            return report(args, spec, trials, experiment, time.perf_counter() - t0)
        Path(experiment.location).mkdir(parents=True, exist_ok=True)
        with driver_lock(Path(experiment.location)):
            run_grid(args, spec, trials, experiment)
            return report(args, spec, trials, experiment, time.perf_counter() - t0)
    except LockedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run_grid(args, spec: GridSpec, trials: list[TrialConfig], experiment: Folder) -> None:
    todo = [t for t in trials if trial_state(experiment, t) not in FINISHED]
    experiment.write_bytes("grid.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False).encode())
    print(f"experiment {experiment.location}: {len(trials)} trials, {len(trials) - len(todo)} already "
          f"finished, {len(todo)} to run")
    if todo:
        from orchestrator.launch import init_ray, run_trials

        init_ray(args.address, num_cpus=args.num_cpus)
        run_trials(todo, experiment.location, cpus_per_trial=args.cpus_per_trial,
                   gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                   max_failures=args.max_failures)


def landscape_stage(args, spec: GridSpec, completed: list[TrialConfig], experiment: Folder) -> None:
    """The 2D loss landscapes the grid's `landscape:` section asks for (only missing chunks are computed)."""
    chosen, landscape = spec.landscape_trials(completed)
    if not chosen:
        return
    from orchestrator.landscape import run_landscape

    print(f"2D loss landscape, {landscape.n} x {landscape.n} points at the {landscape.at} weights, of "
          f"{len(chosen)} trials")
    try:
        run_landscape(experiment.location, [t.trial_id for t in chosen], landscape, address=args.address,
                      gpus_per_task=args.gpus_per_trial)
    except Exception as e:  # noqa: BLE001  (the trials are done: report the landscape's failure, analyse anyway)
        print(f"landscape failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); rerun it with "
              f"python -m orchestrator.landscape; its finished chunks are kept", file=sys.stderr)


def report(args, spec: GridSpec, trials: list[TrialConfig], experiment: Folder, elapsed: float) -> int:
    states = {t.trial_id: trial_state(experiment, t) for t in trials}
    for trial_id, state in states.items():
        print(f"  {state:>9s}  {trial_id}")
    if not args.skip_analysis:
        from orchestrator.summary import analyse_and_print

        landscape_stage(args, spec, [t for t in trials if states[t.trial_id] == "completed"], experiment)

        analyse_and_print(experiment, list(states), window=spec.analysis["window"], address=args.address)
    bad = [i for i, s in states.items() if s not in FINISHED]
    print(f"{len(states) - len(bad)}/{len(states)} trials finished in {elapsed:.0f} s; "
          f"experiment folder: {experiment.location}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
