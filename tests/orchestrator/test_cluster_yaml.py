import copy
import re
from pathlib import Path

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).resolve().parents[2] / "cluster.yaml"


def test_cluster_yaml_passes_rays_validator():
    config = yaml.safe_load(CLUSTER.read_text())
    validate_config(prepare_config(copy.deepcopy(config)))


def test_cluster_yaml_is_safe_and_shaped_as_documented():
    text = CLUSTER.read_text()
    config = yaml.safe_load(text)
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|password", text, re.IGNORECASE)
    assert "0.0.0.0" not in text and "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])
    nodes = config["available_node_types"]
    assert nodes[config["head_node_type"]]["resources"] == {"CPU": 0}  # the head runs no trials
    workers = [n for name, n in nodes.items() if name != config["head_node_type"]]
    assert len(workers) >= 2
    assert all(n["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot" for n in workers)
    assert "security_group" not in str(config["provider"])  # Ray's default group: SSH only from outside
