"""A MongoDB-wire server for the tests: SecantusDB (test extra, GPL-2.0, never a runtime dep).

No ``mongod`` is installable on the CI machines. SecantusDB speaks the MongoDB wire protocol on
WiredTiger and reports a single-node replica set, so transactions work. One server per test
session, started lazily on a free loopback port in a temporary directory and stopped at
interpreter exit (SIGTERM, SIGKILL after 15 s). ``WAYPOINT_TEST_MONGODB_URI`` points every
Mongo test at a real MongoDB instead. Shared by every Mongo-backed suite (savers, stores).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_lock = threading.Lock()
_uri: str | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mongo_uri() -> str:
    """URI of the session's MongoDB-compatible server, starting SecantusDB once if needed."""
    global _uri
    env = os.environ.get("WAYPOINT_TEST_MONGODB_URI")
    if env:
        return env
    with _lock:
        if _uri is not None:
            return _uri
        root = Path(tempfile.mkdtemp(prefix="wp-secantus-"))
        port = _free_port()
        log = open(root / "server.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(root / "data"), "--log-level", "WARNING"],
            cwd=root,  # the launcher auto-discovers ./secantusd.toml: keep it in our own directory
            stdout=log, stderr=subprocess.STDOUT,
        )
        atexit.register(_stop, proc, root)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        _wait_ready(uri, proc, root)
        _uri = uri
        return uri


def _wait_ready(uri: str, proc: subprocess.Popen, root: Path) -> None:
    from pymongo import MongoClient

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"SecantusDB test server exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
                client.admin.command("ping")
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("SecantusDB test server did not answer ping in 60 s")


def _stop(proc: subprocess.Popen, root: Path) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(root, ignore_errors=True)


def new_db_name() -> str:
    """A fresh database name for one test (drop it when done)."""
    return f"wp_test_{secrets.token_hex(6)}"
