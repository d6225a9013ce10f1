"""Faults injected into real processes: a trial's worker SIGKILLed mid-shard, a worker node removed from a
two-node Ray cluster, storage that fails mid-write, and an analysis that runs while a trial trains."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import workers.shards
from analysis.trial import analyse_trial
from workers.config import TrialConfig
from workers.shards import list_shards, read_trajectory
from workers.train import run_trial

REPO = Path(__file__).resolve().parents[2]
SMOKE = ["--grid", "smoke", "--set", "steps=120", "--set", "shard_steps=30"]


def descendants(pid: int) -> list[int]:
    """Every process below pid (from /proc): only processes this test started are ever signalled."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def grid(tmp_path, *args, wait=True):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "orchestrator.grid", "--storage", str(tmp_path), *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def wait_for(predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def undisturbed(trial: Path, tmp_path: Path) -> dict:
    """The same trial run in this process without faults, with the worker's number of torch threads
    (float reductions depend on it): its trajectory."""
    import torch

    config = json.loads((trial / "config.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(config["provenance"]["torch_threads"])
    try:
        run_trial(TrialConfig.from_dict(config["config"]), tmp_path / "reference" / trial.name)
    finally:
        torch.set_num_threads(threads)
    return read_trajectory(tmp_path / "reference" / trial.name / "trajectory")


def same_trajectory(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[c], b[c]) for c in a)


@pytest.mark.slow
def test_a_worker_killed_mid_shard_is_retried_and_its_trajectory_is_bitwise_the_same(tmp_path):
    proc = grid(tmp_path, *SMOKE, "--set", "shortcut=[true]", "--skip-analysis", wait=False)
    trial = tmp_path / "smoke" / "trials" / "resnet14_digits_kl_bs64_lr0.1_seed0"
    try:
        assert wait_for(lambda: (trial / "trajectory" / "part-000000000.parquet").exists()), "no first shard"
        workers_ = [p for p in descendants(proc.pid) if "ImplicitFunc" in cmdline(p)]
        assert len(workers_) == 1, [cmdline(p) for p in descendants(proc.pid)]
        os.kill(workers_[0], signal.SIGKILL)  # mid-shard: the second shard (steps 30-59) is in memory
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert json.loads((trial / "status.json").read_text())["state"] == "completed"
    rows = read_trajectory(trial / "trajectory")
    assert rows["step"].tolist() == list(range(120))  # no step missing, none duplicated
    assert same_trajectory(rows, undisturbed(trial, tmp_path))
    errors = list((tmp_path / "smoke" / "_tune").rglob("error.txt"))
    assert errors, "Tune recorded no failure: the kill missed the worker"


@pytest.mark.slow
def test_a_removed_worker_node_loses_nothing_and_the_tables_match_an_undisturbed_run(two_nodes, tmp_path):
    cluster, worker = two_nodes
    proc = grid(tmp_path / "cluster", *SMOKE, "--address", cluster.address, wait=False)
    trials = tmp_path / "cluster" / "smoke" / "trials"

    def on_worker_node_with_a_shard():
        for trial in trials.glob("*"):
            config = trial / "config.json"
            if config.exists() and (trial / "trajectory" / "part-000000000.parquet").exists():
                if json.loads(config.read_text())["provenance"].get("ray_node_id") == worker.node_id:
                    return True
        return False

    try:
        assert wait_for(on_worker_node_with_a_shard), "no trial started on the worker node"
        cluster.remove_node(worker)  # its raylet and workers die: the trial is rescheduled on the head
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    calm = grid(tmp_path / "calm", *SMOKE)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    for name in ("exponents", "levy", "msd", "fractal"):
        a = pl.read_parquet(tmp_path / "cluster" / "smoke" / "analysis" / f"{name}.parquet").sort(pl.all())
        b = pl.read_parquet(tmp_path / "calm" / "smoke" / "analysis" / f"{name}.parquet").sort(pl.all())
        assert a.equals(b), name
    nodes = {json.loads((t / "config.json").read_text())["provenance"]["ray_node_id"] for t in trials.iterdir()}
    assert worker.node_id not in nodes  # the moved trial was finished (and re-described) on the head node


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_storage_that_fails_mid_write_leaves_only_whole_shards_and_a_failed_trial(tmp_path, monkeypatch, code):
    cfg = TrialConfig(dataset="digits", batch_size=64, steps=60, shard_steps=20, sketch_dim=32, grad_sample=8,
                      device="cpu", eval_every=0)
    real, calls = workers.shards.pq.write_table, []

    def failing(table, where, **kw):  # the second shard: half written, then the device is full / read-only
        calls.append(1)
        if len(calls) == 2:
            where.write(b"PAR1" + b"\0" * 100)
            raise OSError(code, os.strerror(code))
        return real(table, where, **kw)

    monkeypatch.setattr(workers.shards.pq, "write_table", failing)
    with pytest.raises(OSError):
        run_trial(cfg, tmp_path)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and os.strerror(code) in status["message"]
    assert [f for f, _ in list_shards(tmp_path / "trajectory")] == [0]
    assert sorted(p.name for p in (tmp_path / "trajectory").iterdir()) == ["part-000000000.parquet"]  # no temp
    monkeypatch.setattr(workers.shards.pq, "write_table", real)
    assert run_trial(cfg, tmp_path)["state"] == "completed"  # the storage is back: the trial resumes
    assert read_trajectory(tmp_path / "trajectory", ["step"])["step"].tolist() == list(range(60))


@pytest.mark.slow
def test_analysis_during_training_reads_only_completed_shards(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workers.train", "--out", str(tmp_path), "--dataset", "digits", "--steps", "100",
           "--batch-size", "64", "--shard-steps", "10", "--sketch-dim", "64", "--grad-sample", "16", "--eval-every", "0", "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trial = tmp_path / "trials" / "resnet14_digits_ce_bs64_lr0.1_seed0"
    seen = []
    try:
        while proc.poll() is None:
            out = analyse_trial(trial, window=10)
            status = out["summary"][0]["analysis_status"]
            assert status == "ok" or status.startswith(("no trajectory shards", "no complete window")), status
            seen.append(out["summary"][0]["windows"])
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and seen == sorted(seen) and len(set(seen)) > 2  # watched it grow
    final = analyse_trial(trial, window=10)["exponents"]
    assert len(final) == 10
