"""The 2D loss landscape of chosen trials as Ray tasks, one per chunk of grid points; resumable.

    python -m orchestrator.landscape --experiment runs/demo --trial resnet14_digits_kl_bs32_lr0.1_seed0 [--n 51]

Chunks already stored with the same settings are not recomputed, so an interrupted run continues where
it stopped; the chunks are then merged into trials/<id>/landscape.parquet (workers/landscape.py). A grid
YAML can ask for it with a `landscape:` section (orchestrator/spec.py), run after training.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields

from workers.config import LandscapeSpec
from workers.storage import Folder


def run_landscape(location: str, trial_ids: list[str], spec: LandscapeSpec, *, address: str | None = None,
                  cpus_per_task: float = 1.0, gpus_per_task: float = 0.0, data_root: str | None = None) -> dict:
    """Compute the missing chunks of every trial's landscape, then merge each; returns {trial_id: points}."""
    import ray

    from workers.landscape import compute_chunk, merge, merged, missing_chunks

    experiment = Folder(location)
    todo = [(t, c) for t in trial_ids for c in missing_chunks(experiment / f"trials/{t}", spec)]
    if todo:
        started = not ray.is_initialized()
        if started:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        try:
            task = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task)(compute_chunk)
            device = "cuda" if gpus_per_task > 0 else "cpu"
            ray.get([task.remote(location, t, spec, c, data_root=data_root, device=device) for t, c in todo])
        finally:
            if started:
                ray.shutdown()
    redo = {t for t, _ in todo}
    return {t: merge(experiment / f"trials/{t}", spec).num_rows if t in redo or not merged(experiment / f"trials/{t}", spec)
            else spec.n * spec.n for t in trial_ids}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m orchestrator.landscape", description=__doc__.split("\n")[0])
    p.add_argument("--experiment", required=True, help="experiment folder or URI")
    p.add_argument("--trial", action="append", required=True, help="trial id (repeatable)")
    for f in fields(LandscapeSpec):
        p.add_argument(f"--{f.name}", type=type(f.default), default=f.default)
    p.add_argument("--address", help="Ray cluster to use (default: a local one)")
    p.add_argument("--gpus-per-task", type=float, default=0.0)
    p.add_argument("--data-root", help="where this machine keeps the datasets (default: the trial's)")
    a = p.parse_args(argv)
    try:
        spec = LandscapeSpec(**{f.name: getattr(a, f.name) for f in fields(LandscapeSpec)})
        experiment = Folder(a.experiment)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for trial_id in a.trial:
        need = "config.json" if spec.at == "init" else "checkpoint/state.pt"
        if trial_id.startswith(".") or "/" in trial_id or "\\" in trial_id:
            print(f"error: --trial: {trial_id!r} is not a trial id (a folder name under trials/)", file=sys.stderr)
            return 2
        if not experiment.exists(f"trials/{trial_id}/{need}"):
            print(f"error: --trial: {experiment.location}/trials/{trial_id}/{need} does not exist; "
                  f"name a trained trial (or use --at init)", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    done = run_landscape(experiment.location, a.trial, spec, address=a.address, gpus_per_task=a.gpus_per_task,
                         data_root=a.data_root)
    for trial_id, points in done.items():
        print(f"{trial_id}: {points} points -> {experiment.location}/trials/{trial_id}/landscape.parquet")
    print(f"landscape done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
