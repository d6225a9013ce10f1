"""One driver per experiment: a lock file with the holder's host and pid; stale locks are taken over."""
from __future__ import annotations

import errno
import json
import os
import socket
import uuid
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


def _publish(path: Path, me: dict) -> None:
    """Create the lock with its holder already written: a hard link of a written temporary file (atomic);
    where the filesystem has no hard links, an exclusive create and a write. Raises FileExistsError."""
    mine = path.with_name(f"{LOCK}.{me['host']}.{me['pid']}.{uuid.uuid4().hex}.tmp")
    mine.write_text(json.dumps(me))
    try:
        os.link(mine, path)
    except FileExistsError:
        raise
    except OSError as e:  # vfat, some FUSE bucket mounts and SMB shares: no hard links
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, json.dumps(me).encode())
        os.close(fd)
    finally:
        mine.unlink(missing_ok=True)


@contextmanager
def driver_lock(experiment: Path):
    """Hold <experiment>/.driver.lock while the block runs; refuse if a live driver holds it."""
    path, me = experiment / LOCK, {"host": socket.gethostname(), "pid": os.getpid()}
    for _ in range(2):
        try:
            _publish(path, me)
            break
        except FileExistsError:
            holder = _holder(path)
            live = holder and holder != me and (holder.get("host") != me["host"] or _alive(holder["pid"]))
            if live:  # (a holder equal to me is a dead driver whose pid this process reuses)
                raise LockedError(f"experiment {experiment} is in use by the driver {holder.get('host')}:"
                                  f"{holder.get('pid')}; wait for it to finish, or remove {path} if that "
                                  f"driver is gone") from None
            path.unlink(missing_ok=True)  # stale: its driver on this host is dead (or the file is malformed)
    else:
        raise LockedError(f"experiment {experiment}: could not take {path}; retry")
    try:
        yield
    finally:
        if _holder(path) == me:
            path.unlink(missing_ok=True)
