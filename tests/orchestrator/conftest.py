"""A real two-node Ray cluster on this machine (a head and one worker node, 1 CPU each)."""
import tempfile

import pytest


@pytest.fixture
def two_nodes(monkeypatch):
    """(cluster, worker node); token auth off and a short RAY_TMPDIR in this process and its children."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths have a length limit
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster, worker
    cluster.shutdown()
