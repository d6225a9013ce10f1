"""Provenance written next to every artefact: the code version and the machine (no torch, no Ray)."""
from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path


def code_version() -> str:
    """`git describe --always --dirty` of this checkout, or "unknown" outside a git clone."""
    try:
        code = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        code = ""
    return code or "unknown"


def machine() -> dict:
    """Code version, Python version and host: the part of the provenance every artefact shares."""
    return {"code_version": code_version(), "python": platform.python_version(), "host": socket.gethostname()}
