"""The smoke grid on a real two-node Ray cluster on this machine (a head and one worker node)."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from workers.shards import read_trajectory

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_nodes(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths have a length limit
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.mark.slow
def test_smoke_grid_runs_on_both_nodes_with_shared_storage(two_nodes, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "orchestrator.grid", "--grid", "smoke", "--storage", str(tmp_path),
                           "--address", two_nodes.address], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    nodes = set()
    for trial in sorted((tmp_path / "smoke" / "trials").iterdir()):
        assert json.loads((trial / "status.json").read_text())["state"] == "completed"
        assert read_trajectory(trial / "trajectory", ["step"])["step"].tolist() == list(range(40))
        nodes.add(json.loads((trial / "config.json").read_text())["provenance"]["ray_node_id"])
    assert len(nodes) == 2  # one trial on each node (1 CPU each, 1 CPU per trial)
