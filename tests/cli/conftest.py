"""CLI test fixtures: the real ``waypoint`` command in a subprocess, and databases filled by
real graph runs (SQLite files, PostgreSQL databases, MongoDB databases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.cli import _graph

ROOT = Path(__file__).resolve().parents[2]

# threads every read test sees: two finished, two waiting at the approval interrupt
THREADS = {
    "chat-alice-1": {"user": "alice"},
    "chat-alice-2": {"user": "alice"},
    "chat-bob": {"user": "bob"},
    "chat-carol": {"user": "carol", "tier": 2},
}
FINISHED = {"chat-alice-1", "chat-bob"}


class Result:
    """A finished CLI run."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def run(*args: str, url: str | None = None, ok: bool = True, cwd: Path | None = None, timeout: float = 120, stdin: str | None = None) -> Result:
    """``python -m waypoint.cli ARGS`` (the console script's code) with a fixed width;
    ``stdin`` is written to the command's standard input (a pipe)."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")}
    env.pop("WAYPOINT_URL", None)
    env.pop("WAYPOINT_DEBUG", None)
    if url is not None:
        env["WAYPOINT_URL"] = url
    proc = subprocess.run(
        [sys.executable, "-m", "waypoint.cli", *args], capture_output=True, text=True, env=env,
        cwd=cwd or ROOT, timeout=timeout, input=stdin,
    )
    result = Result(proc)
    if ok:
        assert result.code == 0, result
    return result


def fail(*args: str, url: str | None = None, cwd: Path | None = None) -> str:
    """Run a command that must fail with one clear line on stderr; returns that line."""
    result = run(*args, url=url, ok=False, cwd=cwd)
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    assert "Traceback" not in result.err
    return lines[0]


def sqlite_saver(path: Path) -> Any:
    from waypoint.checkpoint.sqlite import SqliteSaver

    return SqliteSaver.from_conn_string(path)


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with THREADS (read-only for tests: copy it before changing it)."""
    path = tmp_path_factory.mktemp("cli") / "source.db"
    with sqlite_saver(path) as saver:
        _graph.populate(saver, THREADS, FINISHED)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_copy(sqlite_db: str, tmp_path: Path) -> str:
    """A private copy of ``sqlite_db`` a test may change."""
    import sqlite3

    src = sqlite3.connect(sqlite_db.removeprefix("sqlite:///"))
    dst_path = tmp_path / "copy.db"
    dst = sqlite3.connect(dst_path)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{dst_path}"


def _pg_url(conninfo: str) -> str:
    """The URL of the database ``fresh_database`` made (it yields a conninfo string)."""
    from psycopg.conninfo import conninfo_to_dict

    from tests.backends.postgres_saver import ADMIN_URL

    parts = urlsplit(ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + str(conninfo_to_dict(conninfo)["dbname"]), parts.query, ""))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own (dropped afterwards)."""
    from tests.backends.postgres_saver import fresh_database

    with fresh_database() as conninfo:
        yield _pg_url(conninfo)


@pytest.fixture(scope="session")
def pg_db() -> Iterator[str]:
    """A PostgreSQL database with THREADS (read-only for tests)."""
    from tests.backends.postgres_saver import fresh_database
    from waypoint.checkpoint.postgres import PostgresSaver

    with fresh_database() as conninfo:
        url = _pg_url(conninfo)
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            _graph.populate(saver, THREADS, FINISHED)
        yield url


@pytest.fixture
def mongo_url() -> Iterator[str]:
    """A MongoDB URL naming a fresh database (dropped afterwards)."""
    from pymongo import MongoClient

    from tests.backends._mongo_server import mongo_uri, new_db_name

    uri, name = mongo_uri(), new_db_name()
    parts = urlsplit(uri)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    with MongoClient(uri) as client:
        client.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> str:
    """The populated database of each backend the read commands are checked on."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
