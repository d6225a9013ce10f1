"""The 2D loss landscape: filter-normalised directions, the grid's centre against an independent
evaluation, resumable chunks through real Ray tasks, and its settings in a grid YAML."""
import io
import json

import numpy as np
import polars as pl
import pytest
import torch

from orchestrator.landscape import main, run_landscape
from orchestrator.spec import GridError, expand, parse_grid
from workers.config import LandscapeSpec, TrialConfig
from workers.data import load_dataset
from workers.landscape import LandscapeProbe, filter_normalised_direction, merged, missing_chunks
from workers.losses import make_loss
from workers.models import build_model
from workers.storage import Folder
from workers.train import run_trial

SPEC = LandscapeSpec(n=5, span=0.5, samples=64, seed=3, chunk=7)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    cfg = TrialConfig(dataset="digits", batch_size=64, steps=20, shard_steps=20, sketch_dim=32, grad_sample=8,
                      device="cpu", eval_every=0)
    run_trial(cfg, root / "trials" / cfg.trial_id)
    return root, cfg


def test_directions_are_filter_normalised_and_skip_biases_and_batchnorm():
    torch.manual_seed(0)
    model = build_model("resnet14", in_channels=1, num_classes=10)
    d = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    for p, u in zip(model.parameters(), d):
        if p.dim() <= 1:
            assert not u.any()
        else:
            w, v = p.detach().reshape(p.shape[0], -1), u.reshape(p.shape[0], -1)
            assert torch.allclose(v.norm(dim=1), w.norm(dim=1), rtol=1e-5)


def test_landscape_chunks_resume_and_the_centre_is_the_trained_loss(experiment):
    root, cfg = experiment
    trial = Folder(root) / f"trials/{cfg.trial_id}"
    assert run_landscape(str(root), [cfg.trial_id], SPEC) == {cfg.trial_id: 25}
    table = pl.read_parquet(root / "trials" / cfg.trial_id / "landscape.parquet")
    assert table.columns == ["x", "y", "loss", "accuracy"] and table.height == 25
    centre = table.filter((pl.col("x") == 0) & (pl.col("y") == 0))
    # independent: the checkpoint's weights, eval mode, the same seeded subset of the training data
    data = load_dataset("digits", device="cpu")
    model = build_model(cfg.arch, in_channels=1, num_classes=10)
    state = torch.load(io.BytesIO((root / "trials" / cfg.trial_id / "checkpoint" / "state.pt").read_bytes()),
                       weights_only=True)
    model.load_state_dict(state["model"])
    model.eval()
    idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(SPEC.seed))[:SPEC.samples]
    with torch.no_grad():
        loss = float(make_loss(cfg.loss)(model(data.train.x[idx]), data.train.y[idx]))
    assert centre["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert table["loss"].max() > loss  # the trained weights sit low in their neighbourhood
    chunks = sorted((root / "trials" / cfg.trial_id / "landscape").iterdir())
    assert len(chunks) == 4  # 25 points in chunks of 7
    chunks[1].unlink()
    kept = {p: p.stat().st_mtime_ns for p in chunks if p.exists()}
    assert missing_chunks(trial, SPEC) == [7]
    run_landscape(str(root), [cfg.trial_id], SPEC)
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # only the missing chunk was computed
    assert pl.read_parquet(root / "trials" / cfg.trial_id / "landscape.parquet").equals(table)
    assert missing_chunks(trial, LandscapeSpec(n=5, span=0.5, samples=64, seed=4, chunk=7)) == [0, 7, 14, 21]
    status = root / "trials" / cfg.trial_id / "status.json"
    saved = status.read_text()
    status.write_text(json.dumps({**json.loads(saved), "steps": 40}))  # as if the trial trained further
    assert missing_chunks(trial, SPEC) == [0, 7, 14, 21] and not merged(trial, SPEC)
    status.write_text(saved)
    merged_at = (root / "trials" / cfg.trial_id / "landscape.parquet").stat().st_mtime_ns
    run_landscape(str(root), [cfg.trial_id], SPEC)  # nothing to do: nothing rewritten
    assert (root / "trials" / cfg.trial_id / "landscape.parquet").stat().st_mtime_ns == merged_at


def test_init_weights_are_rebuilt_from_the_seed(experiment):
    root, cfg = experiment
    probe = LandscapeProbe(Folder(root) / f"trials/{cfg.trial_id}", LandscapeSpec(at="init", samples=8), device="cpu")
    torch.manual_seed(cfg.seed)
    fresh = build_model(cfg.arch, in_channels=1, num_classes=10)
    assert probe.step == 0 and all(torch.equal(a, b) for a, b in zip(probe.w0, fresh.parameters()))


def test_cli_refuses_bad_settings_and_unknown_trials(experiment, capsys):
    root, cfg = experiment
    assert main(["--experiment", str(root), "--trial", cfg.trial_id, "--n", "1"]) == 2
    assert "landscape.n: 1 must be an integer >= 2" in capsys.readouterr().err
    assert main(["--experiment", str(root), "--trial", "../escape"]) == 2
    assert "'../escape' is not a trial id" in capsys.readouterr().err
    assert main(["--experiment", str(root), "--trial", "never-trained"]) == 2
    assert "never-trained/checkpoint/state.pt does not exist" in capsys.readouterr().err


def test_a_grid_yaml_chooses_trials_and_settings():
    raw = {"axes": {"arch": ["resnet14"], "shortcut": [True, False], "seed": [0, 1]},
           "landscape": {"match": {"seed": [0], "shortcut": False}, "n": 11, "samples": 100}}
    spec = parse_grid(raw)
    chosen, settings = spec.landscape_trials(expand(spec))
    assert [t.trial_id for t in chosen] == ["resnet14-noshort_digits_ce_bs128_lr0.1_seed0"]
    assert settings == LandscapeSpec(n=11, samples=100)
    with pytest.raises(GridError, match="landscape: unknown field"):
        parse_grid({**raw, "landscape": {"size": 3}})
    with pytest.raises(GridError, match=r"landscape.seed: 0.5 must be an integer in \[0, 2\*\*63\)"):
        parse_grid({**raw, "landscape": {"seed": 0.5}})
    with pytest.raises(GridError, match="landscape.at: 'middle' is not allowed"):
        parse_grid({**raw, "landscape": {"at": "middle"}})
    assert parse_grid({"axes": raw["axes"]}).landscape_trials(expand(spec)) == ([], None)
