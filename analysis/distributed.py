"""The one place where the analysis meets Ray: each call becomes a remote task (one CPU each)."""
from __future__ import annotations


def run_tasks(fn, calls: list[tuple], *, address: str | None = None, num_cpus: int | None = None) -> list:
    """fn(*args) for every args in calls, as Ray tasks; results in order.

    Reuses a Ray instance that is already running (the orchestrator's); otherwise connects to
    `address`, or starts a local one (num_cpus: its size, default all cores) and stops it afterwards.
    """
    if not calls:
        return []
    import ray

    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(fn)
        return ray.get([task.remote(*args) for args in calls])
    finally:
        if started:
            ray.shutdown()
