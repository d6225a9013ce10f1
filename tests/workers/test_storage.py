"""Trials on remote storage through pyarrow filesystems (exercised with file:// URIs here)."""
import json
import shutil

import pytest

from workers.config import TrialConfig
from workers.shards import list_shards
from workers.storage import Folder
from workers.train import run_trial

BASE = dict(dataset="digits", steps=40, batch_size=64, shard_steps=20, sketch_dim=128, grad_sample=16,
            device="cpu", lr=0.1)


def test_folder_round_trip_listing_and_refusals(tmp_path):
    remote = Folder(f"file://{tmp_path}/store")
    assert remote.read_bytes("a/b.json") is None and remote.listdir("a") == []
    remote.write_bytes("a/b.json", b"{}")
    remote.write_bytes("a/c.bin", b"xyz")
    assert remote.read_bytes("a/c.bin") == b"xyz" and remote.listdir("a") == ["b.json", "c.bin"]
    remote.delete("a/b.json")
    assert remote.listdir("a") == ["c.bin"] and (tmp_path / "store" / "a" / "c.bin").read_bytes() == b"xyz"
    assert Folder(str(tmp_path)).location == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="'nosuchscheme://x' is not a usable storage location"):
        Folder("nosuchscheme://x")


def test_mirrored_trial_survives_the_loss_of_its_node(tmp_path):
    cfg = TrialConfig(**BASE)
    run_trial(cfg, tmp_path / "plain")  # the reference: an undisturbed local run
    remote = Folder(f"file://{tmp_path}/remote") / "trials/t"

    def crash_after_first_checkpoint(step, ckpt, metrics):
        raise RuntimeError("node lost")

    with pytest.raises(RuntimeError, match="node lost"):
        run_trial(cfg, tmp_path / "node1", mirror=remote, on_checkpoint=crash_after_first_checkpoint)
    assert json.loads(remote.read_bytes("status.json"))["state"] == "failed"
    assert remote.listdir("trajectory") == ["part-000000000.parquet"]
    shutil.rmtree(tmp_path / "node1")  # the node and its disk are gone
    status = run_trial(cfg, tmp_path / "node2", mirror=remote)  # a new node continues from the remote copy
    assert status["state"] == "completed" and status["steps"] == 40
    names = [p.name for _, p in list_shards(tmp_path / "plain" / "trajectory")]
    assert remote.listdir("trajectory") == names == ["part-000000000.parquet", "part-000000020.parquet"]
    for name in names:
        assert remote.read_bytes(f"trajectory/{name}") == (tmp_path / "plain" / "trajectory" / name).read_bytes()
    assert remote.read_bytes("epochs.parquet") == (tmp_path / "plain" / "epochs.parquet").read_bytes()
    assert json.loads(remote.read_bytes("status.json"))["state"] == "completed"
