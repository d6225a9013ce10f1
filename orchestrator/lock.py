"""One driver per experiment: a lock file with the holder's host and pid; stale locks are taken over."""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path

LOCK = ".driver.lock"


class LockedError(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock's {"host", "pid"}, or None when it is unreadable or malformed (then it counts as stale)."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) or isinstance(holder["pid"], bool):
        return None
    return holder


@contextmanager
def driver_lock(experiment: Path):
    """Hold <experiment>/.driver.lock while the block runs; refuse if a live driver holds it."""
    path, me = experiment / LOCK, {"host": socket.gethostname(), "pid": os.getpid()}
    mine = path.with_name(f"{LOCK}.{me['pid']}.tmp")
    mine.write_text(json.dumps(me))
    try:
        for _ in range(2):
            try:
                os.link(mine, path)  # atomic: the lock appears with its holder written, or not at all
                break
            except FileExistsError:
                holder = _holder(path)
                if holder and (holder.get("host") != me["host"] or _alive(int(holder.get("pid", 0)))):
                    raise LockedError(f"experiment {experiment} is in use by the driver {holder.get('host')}:"
                                      f"{holder.get('pid')}; wait for it to finish, or remove {path} if that "
                                      f"driver is gone") from None
                path.unlink(missing_ok=True)  # stale: its driver on this host is dead (or the file is malformed)
        else:
            raise LockedError(f"experiment {experiment}: could not take {path}; retry")
    finally:
        mine.unlink(missing_ok=True)
    try:
        yield
    finally:
        if (_holder(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)
