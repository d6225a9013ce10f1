"""The smoke grid on a real two-node Ray cluster on this machine (a head and one worker node)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workers.shards import read_trajectory

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_smoke_grid_runs_on_both_nodes_with_shared_storage(two_nodes, tmp_path):
    cluster, _ = two_nodes
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "orchestrator.grid", "--grid", "smoke", "--storage", str(tmp_path),
                           "--address", cluster.address], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    nodes = set()
    for trial in sorted((tmp_path / "smoke" / "trials").iterdir()):
        assert json.loads((trial / "status.json").read_text())["state"] == "completed"
        assert read_trajectory(trial / "trajectory", ["step"])["step"].tolist() == list(range(40))
        nodes.add(json.loads((trial / "config.json").read_text())["provenance"]["ray_node_id"])
    assert len(nodes) == 2  # one trial on each node (1 CPU each, 1 CPU per trial)
