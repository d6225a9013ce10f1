import json
import socket
import subprocess
import sys

import pytest

from orchestrator.grid import main
from orchestrator.lock import LOCK, LockedError, driver_lock


def _write(path, host, pid):
    path.write_text(json.dumps({"host": host, "pid": pid}))


def test_live_driver_refused_stale_taken_over_released(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write(tmp_path / LOCK, socket.gethostname(), sleeper.pid)
        with pytest.raises(LockedError, match=rf"in use by the driver .*:{sleeper.pid}; wait .* or remove"):
            with driver_lock(tmp_path):
                pass
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == sleeper.pid  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    with driver_lock(tmp_path):  # its holder is dead now: stale
        assert json.loads((tmp_path / LOCK).read_text())["pid"] != sleeper.pid
    assert not (tmp_path / LOCK).exists()
    _write(tmp_path / LOCK, "another-host", 1)
    with pytest.raises(LockedError, match="another-host:1"):
        with driver_lock(tmp_path):
            pass


def test_second_driver_exits_2_without_touching_the_experiment(tmp_path, capsys):
    (tmp_path / "smoke").mkdir()
    _write(tmp_path / "smoke" / LOCK, "another-host", 4242)
    assert main(["--grid", "smoke", "--storage", str(tmp_path)]) == 2
    assert "in use by the driver another-host:4242" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "smoke").iterdir()) == [LOCK]
