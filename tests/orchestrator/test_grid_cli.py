"""python -m orchestrator.grid: validation before launch, --dry-run, the smoke grid end to end, resume."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from orchestrator.grid import main
from workers.shards import list_shards, read_trajectory

REPO = Path(__file__).resolve().parents[2]


def _run_main(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("argv,message", [
    (["--grid", "nope"], "--grid: 'nope' is neither a preset"),
    (["--grid", "smoke", "--set", "arch=resnet15"], "arch: 'resnet15' is not allowed"),
    (["--grid", "smoke", "--set", "lr=0"], "lr: 0.0 must be a finite number > 0"),
    (["--grid", "smoke", "--set", "batch_size=-4"], "batch_size: -4 must be a finite number > 0"),
    (["--grid", "smoke", "--set", "dataset=mnist", "--set", "data_root=/nonexistent/data"],
     "data_root: MNIST: missing /nonexistent/data/MNIST/raw/train-images-idx3-ubyte.gz"),
    (["--grid", "smoke", "--cpus-per-trial", "-1"], "--cpus-per-trial: -1.0 is negative"),
    (["--grid", "smoke", "--resume"], "--resume: "),
    (["--grid", "smoke", "--resume", "--set", "steps=5"], "--set: not allowed with --resume"),
    (["--grid", "smoke", "--storage", "nosuchscheme://bucket/x"], "--storage: 'nosuchscheme://bucket/x' is not a usable"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    storage = tmp_path / "runs"
    if "--storage" not in argv:
        argv = [*argv, "--storage", str(storage)]
    rc, out, err = _run_main(capsys, *argv)
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert not storage.exists()


def test_storage_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc, _, err = _run_main(capsys, "--grid", "smoke", "--storage", str(blocker / "runs"))
    assert rc == 2 and f"--storage: {blocker} is not a writable folder" in err


def test_a_different_grid_is_refused_in_an_existing_experiment(tmp_path, capsys):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "grid.yaml").write_text("name: smoke\naxes: {arch: [resnet20]}\n")
    rc, _, err = _run_main(capsys, "--grid", "smoke", "--storage", str(tmp_path))
    assert rc == 2 and "was made by a different grid" in err
    (tmp_path / "smoke" / "grid.yaml").write_text("axes: [unclosed")
    rc, _, err = _run_main(capsys, "--grid", "smoke", "--storage", str(tmp_path))
    assert rc == 2 and "unreadable stored grid" in err and err.count("\n") == 1


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path, capsys):
    rc, out, _ = _run_main(capsys, "--grid", "paper", "--storage", str(tmp_path), "--dry-run")
    assert rc == 0 and "resnet110-noshort_cifar10_kl_bs512_lr0.5_seed0" in out
    assert "480 trials" in out and "accelerator-hours" in out and "TB of trajectory shards" in out
    assert not any(tmp_path.iterdir())
    assert "ray" not in sys.modules or not __import__("ray").is_initialized()


def _grid(storage: Path, *extra: str, wait: bool = True):
    cmd = [sys.executable, "-m", "orchestrator.grid", "--storage", str(storage), "--num-cpus", "2", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if wait:
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _check_trial(trial: Path, steps: int) -> None:
    assert json.loads((trial / "status.json").read_text())["state"] == "completed"
    rows = read_trajectory(trial / "trajectory", ["step"])
    assert rows["step"].tolist() == list(range(steps))  # no step missing, none duplicated


@pytest.mark.slow
def test_smoke_grid_end_to_end_and_rerun_skips_finished(tmp_path):
    done = _grid(tmp_path, "--grid", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    trials = sorted((tmp_path / "smoke" / "trials").iterdir())
    assert [t.name for t in trials] == ["resnet14-noshort_digits_kl_bs64_lr0.1_seed0",
                                        "resnet14_digits_kl_bs64_lr0.1_seed0"]
    for trial in trials:
        _check_trial(trial, 40)
        assert [f for f, _ in list_shards(trial / "trajectory")] == [0, 20]
    assert "trials: 2 done" in done.stdout and (tmp_path / "smoke" / "grid.yaml").exists()
    summary = pl.read_parquet(tmp_path / "smoke" / "analysis" / "summary.parquet")  # the analysis stage ran
    assert sorted(summary["trial_id"]) == [t.name for t in trials] and set(summary["analysis_status"]) == {"ok"}
    assert pl.read_parquet(tmp_path / "smoke" / "analysis" / "exponents.parquet").height == 4  # 2 windows each
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "smoke" / "trials").rglob("*")}
    again = _grid(tmp_path, "--grid", "smoke")
    assert again.returncode == 0 and "2 already finished, 0 to run" in again.stdout
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "smoke" / "trials").rglob("*")}


@pytest.mark.slow
def test_smoke_grid_on_a_storage_uri(tmp_path):
    done = _grid(tmp_path, "--grid", "smoke", "--storage", f"file://{tmp_path}/store")
    assert done.returncode == 0, done.stdout + done.stderr
    trials = sorted((tmp_path / "store" / "smoke" / "trials").iterdir())
    assert len(trials) == 2 and "MSD exponents per window" in done.stdout
    for trial in trials:
        _check_trial(trial, 40)
    again = _grid(tmp_path, "--grid", "smoke", "--storage", f"file://{tmp_path}/store")
    assert again.returncode == 0 and "2 already finished, 0 to run" in again.stdout


@pytest.mark.slow
def test_resume_after_the_driver_is_killed(tmp_path):
    args = ["--grid", "smoke", "--set", "steps=120", "--set", "shard_steps=30", "--max-concurrent", "1"]
    proc = _grid(tmp_path, *args, wait=False)
    trials = tmp_path / "smoke" / "trials"
    first = trials / "resnet14_digits_kl_bs64_lr0.1_seed0"
    second = trials / "resnet14-noshort_digits_kl_bs64_lr0.1_seed0"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (second / "checkpoint" / "state.pt").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    assert json.loads((first / "status.json").read_text())["state"] == "completed"
    assert json.loads((second / "status.json").read_text())["state"] == "running", "killed too late"
    assert (tmp_path / "smoke" / ".driver.lock").exists()  # left by the killed driver: stale
    finished = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    orphan = second / "trajectory" / ".part-000000060.parquet.tmp-99999"  # a half-written shard of a dead writer
    orphan.write_bytes(b"PAR1 half a shard")
    resumed = _grid(tmp_path, "--resume", "--name", "smoke")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "1 already finished, 1 to run" in resumed.stdout
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())  # not re-run (its landscape is new)
    for trial in (first, second):
        _check_trial(trial, 120)
    assert not orphan.exists() and not (tmp_path / "smoke" / ".driver.lock").exists()


def test_driver_does_not_import_torch():
    code = "import sys, orchestrator.grid, orchestrator.launch, orchestrator.summary; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
