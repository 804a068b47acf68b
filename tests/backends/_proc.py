"""Start, await and stop a test server process (shared by ``_mongo_server`` and
``_pgvector_server``): a free loopback port, a readiness probe with a deadline, and a stop at
interpreter exit (SIGTERM, SIGKILL after 15 s) that also removes the server's directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(name: str, proc: subprocess.Popen, root: Path, probe: Callable[[], None]) -> None:
    """Call ``probe`` until it stops raising (60 s at most); fail with the tail of
    ``root/server.log`` if the server exits first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} test server exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            probe()
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{name} test server did not become ready in 60 s")


def stop(proc: subprocess.Popen, root: Path) -> None:
    """Terminate ``proc`` (kill it after 15 s) and remove ``root``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(root, ignore_errors=True)
