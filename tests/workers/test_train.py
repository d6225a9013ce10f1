import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from workers.config import TrialConfig
from workers.data import EpochPlan, load_dataset
from workers.losses import make_loss
from workers.models import build_model
from workers.shards import list_shards, read_trajectory
from workers.sketch import CountSketch, sample_coordinates
from workers.train import main, run_trial

REPO = Path(__file__).resolve().parents[2]
BASE = dict(dataset="digits", steps=30, batch_size=64, shard_steps=10, grad_sample=256, device="cpu", lr=0.1)


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory):
    cfg = TrialConfig(**BASE, sketch_kind="exact")
    folder = tmp_path_factory.mktemp("exact") / cfg.trial_id
    return cfg, folder, run_trial(cfg, folder), read_trajectory(folder / "trajectory")


def test_folder_layout_rows_and_status(exact_run):
    cfg, folder, status, rows = exact_run
    assert status["state"] == "completed" and status["steps"] == 30
    assert [first for first, _ in list_shards(folder / "trajectory")] == [0, 10, 20]
    assert rows["step"].tolist() == list(range(30))
    assert rows["epoch"].tolist() == [0] * 24 + [1] * 6  # ceil(1500 / 64) = 24 steps per epoch
    assert np.all(rows["lr"] == 0.1) and rows["step_norm"][0] == 0 and not rows["sketch"][0].any()
    assert rows["sketch"].shape == (30, 174_970) and rows["grad_sample"].shape == (30, 256)
    config = json.loads((folder / "config.json").read_text())
    assert config["num_params"] == 174_970 and config["config"] == cfg.to_dict()
    assert {"code_version", "torch", "host", "device"} <= set(config["provenance"])
    epochs = pq.read_table(folder / "epochs.parquet").to_pylist()
    assert [(e["epoch"], e["step"]) for e in epochs] == [(0, 24), (1, 30)]
    assert 0 <= epochs[-1]["test_accuracy"] <= 1 and epochs[-1]["train_loss"] < epochs[0]["train_loss"] * 2


def test_rows_align_weights_loss_and_gradient(exact_run):
    cfg, folder, _, rows = exact_run
    w = rows["sketch"].astype(np.float64)  # w(t) - w(0), exact
    assert np.allclose(rows["step_norm"][1:], np.linalg.norm(np.diff(w, axis=0), axis=1), rtol=1e-5)
    assert np.allclose(rows["step_norm"][1:], cfg.lr * rows["grad_norm"][:-1], rtol=1e-4)  # vanilla SGD
    idx = sample_coordinates(w.shape[1], cfg.grad_sample, seed=cfg.grad_sample_seed).numpy()
    assert np.allclose(np.diff(w, axis=0)[:, idx], -cfg.lr * rows["grad_sample"][:-1], atol=1e-6)
    # loss[t] is the minibatch loss of B_t at w(t): recompute it from the initial model and the batch plan
    data = load_dataset("digits")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, in_channels=1, num_classes=10)
    w0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()
    for t in (0, 7, 29):
        torch.nn.utils.vector_to_parameters((w0 + torch.from_numpy(w[t])).float(), model.parameters())
        epoch, i = divmod(t, 24)
        idx_b = EpochPlan.make(1500, seed=cfg.seed, epoch=epoch).perm[i * 64:(i + 1) * 64]
        loss = make_loss("ce")(model(data.train.x[idx_b]), data.train.y[idx_b]).item()
        assert loss == pytest.approx(rows["loss"][t], rel=1e-4), t


def test_countsketch_rows_are_the_sketch_of_the_exact_displacement(exact_run, tmp_path):
    cfg, _, _, exact = exact_run
    sk_cfg = TrialConfig(**BASE, sketch_kind="countsketch", sketch_dim=512, sketch_seed=5)
    run_trial(sk_cfg, tmp_path / "sk")
    rows = read_trajectory(tmp_path / "sk" / "trajectory")
    assert np.array_equal(rows["loss"], exact["loss"])  # recording choice does not perturb training
    expected = CountSketch(exact["sketch"].shape[1], 512, seed=5)(torch.tensor(exact["sketch"])).numpy()
    assert np.allclose(rows["sketch"], expected, rtol=1e-4, atol=1e-6)


def test_training_without_recording_is_the_same_training(exact_run, tmp_path):
    cfg, folder, _, _ = exact_run
    run_trial(TrialConfig(**BASE, record=False), tmp_path / "norec")
    assert not (tmp_path / "norec" / "trajectory").exists()
    a = pq.read_table(folder / "epochs.parquet").to_pylist()
    b = pq.read_table(tmp_path / "norec" / "epochs.parquet").to_pylist()
    assert a == b


def test_divergence_stops_cleanly_and_keeps_shards(tmp_path):
    cfg = TrialConfig(**{**BASE, "arch": "resnet14-noshort", "lr": 1e10, "shard_steps": 2, "steps": 200})
    status = run_trial(cfg, tmp_path)
    rows = read_trajectory(tmp_path / "trajectory")
    assert status["state"] == "diverged" and "non-finite" in status["message"]
    n = len(rows["step"])
    assert 1 <= n < 200 and status["steps"] == n and rows["step"].tolist() == list(range(n))
    assert not np.isfinite(rows["loss"][-1]) and np.all(np.isfinite(rows["loss"][:-1]))
    assert len(list_shards(tmp_path / "trajectory")) == -(-n // 2)
    again = run_trial(cfg, tmp_path)  # a finished trial is not re-run
    assert again["state"] == "diverged" and again["updated"] == status["updated"]


def test_folder_with_another_config_is_refused_untouched(exact_run):
    cfg, folder, status, _ = exact_run
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    with pytest.raises(ValueError, match=r"different config \(fields \['lr'\]\)"):
        run_trial(TrialConfig(**{**BASE, "lr": 0.2, "sketch_kind": "exact"}), folder)
    assert run_trial(cfg, folder) == status  # completed: returned, not re-run
    assert before == {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_cli_rejects_bad_config_before_writing(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "x"), "--arch", "resnet15"]) == 2
    assert "arch: 'resnet15' is not allowed" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "x"), "--dataset", "mnist"]) == 2
    assert "data_root: empty" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def _cli(out: Path, **extra) -> list[str]:
    args = {**BASE, "steps": 100, "shard_steps": 50, **extra}
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in args.items()]
    return [sys.executable, "-m", "workers.train", "--out", str(out), *flags]


def test_killed_and_resumed_run_is_bitwise_identical(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(_cli(tmp_path / "whole"), check=True, env=env, cwd=REPO, capture_output=True)
    trial = TrialConfig(**{**BASE, "steps": 100, "shard_steps": 50}).trial_id
    part = tmp_path / "part" / "trials" / trial
    proc = subprocess.Popen(_cli(tmp_path / "part"), env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (part / "checkpoint" / "state.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((part / "status.json").read_text())["state"] == "running", "killed too late"
    shards = part / "trajectory"
    (shards / "part-000000050.parquet").write_bytes(b"a shard beyond the checkpoint")
    (shards / ".part-000000050.parquet.tmp-1").write_bytes(b"orphaned temporary file")
    subprocess.run(_cli(tmp_path / "part"), check=True, env=env, cwd=REPO, capture_output=True)
    whole = tmp_path / "whole" / "trials" / trial
    names = sorted(p.name for p in shards.iterdir())
    assert names == ["part-000000000.parquet", "part-000000050.parquet"]
    for name in names:
        assert (shards / name).read_bytes() == (whole / "trajectory" / name).read_bytes(), name
    assert (part / "epochs.parquet").read_bytes() == (whole / "epochs.parquet").read_bytes()


def test_training_code_does_not_import_ray():
    code = "import sys, workers.train, workers.data, workers.recorder; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_placement_fields_may_change_between_runs(exact_run):
    cfg, folder, status, _ = exact_run
    moved = TrialConfig(**{**BASE, "sketch_kind": "exact", "data_root": "/mnt/elsewhere", "device": "auto"})
    assert run_trial(moved, folder) == status


def test_an_exception_marks_the_trial_failed(tmp_path):
    def broken_storage(step, ckpt, metrics):
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        run_trial(TrialConfig(**BASE), tmp_path, on_checkpoint=broken_storage)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and "No space left on device" in status["message"]
    assert [f for f, _ in list_shards(tmp_path / "trajectory")] == [0]  # what was written is kept
