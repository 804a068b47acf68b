"""A MongoDB-wire server for the tests: SecantusDB (test extra, GPL-2.0, never a runtime dep).

No ``mongod`` is installable on the CI machines. SecantusDB speaks the MongoDB wire protocol on
WiredTiger and reports a single-node replica set, so transactions work. One server per test
session, started lazily on a free loopback port in a temporary directory and stopped at
interpreter exit (SIGTERM, SIGKILL after 15 s). ``WAYPOINT_TEST_MONGODB_URI`` points every
Mongo test at a real MongoDB instead. Shared by every Mongo-backed suite (savers, stores).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from tests.backends._proc import free_port, stop, wait_ready

_lock = threading.Lock()
_uri: str | None = None


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
        port = free_port()
        log = open(root / "server.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(root / "data"), "--log-level", "WARNING"],
            cwd=root,  # the launcher auto-discovers ./secantusd.toml: keep it in our own directory
            stdout=log, stderr=subprocess.STDOUT,
        )
        atexit.register(stop, proc, root)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        wait_ready("SecantusDB", proc, root, lambda: _ping(uri))
        _uri = uri
        return uri


def _ping(uri: str) -> None:
    from pymongo import MongoClient

    with MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
        client.admin.command("ping")


def new_db_name(prefix: str = "wp_test") -> str:
    """A fresh database name for one test (drop it when done)."""
    return f"{prefix}_{secrets.token_hex(6)}"


@asynccontextmanager
async def sync_client_db(prefix: str) -> AsyncIterator[tuple[Any, str]]:
    """A ``MongoClient`` on the session's server and a fresh database name; the database is
    dropped and the client closed on exit."""
    from pymongo import MongoClient

    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name(prefix)
    client: MongoClient = MongoClient(uri)
    try:
        yield client, name
    finally:
        await asyncio.to_thread(client.drop_database, name)
        client.close()


@asynccontextmanager
async def async_backend(cls: Any, prefix: str, **kwargs: Any) -> AsyncIterator[Any]:
    """``cls.from_conn_string`` (an async saver or store) on a fresh database of the session's
    server, dropped on exit."""
    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name(prefix)
    async with cls.from_conn_string(uri, name, **kwargs) as backend:
        try:
            yield backend
        finally:
            await backend.client.drop_database(name)
