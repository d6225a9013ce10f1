"""The one place where the analysis meets Ray: one remote task per trial, tables written by the driver."""
from __future__ import annotations

from pathlib import Path

from analysis.report import analyse_trial, write_tables


def analyse_experiment(experiment: Path, *, window: int, address: str | None = None) -> list[dict]:
    """Analyse every trial of the experiment in Ray tasks; write analysis/*.parquet; return summary rows."""
    import ray

    started = not ray.is_initialized()  # reuse the orchestrator's Ray instance; else start (and stop) one
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False) if address is None else \
            ray.init(address=address, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(analyse_trial)
        trials = sorted(p for p in (Path(experiment) / "trials").iterdir() if p.is_dir())
        results = ray.get([task.remote(t, window=window) for t in trials])
    finally:
        if started:
            ray.shutdown()
    write_tables(experiment, results)
    return [row for res in results for row in res["summary"]]
