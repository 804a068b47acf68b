"""A fresh PostgreSQL database per factory (shared by the saver and store registrations)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

PLAIN_URL = os.environ.get("WAYPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""The machine's PostgreSQL (no pgvector), as an admin URL."""


@contextmanager
def fresh_database(admin_url: str, prefix: str, *, file_copy: bool = False) -> Iterator[str]:
    """A new empty database ``<prefix>_<random>`` on the server of ``admin_url`` (its URL);
    dropped on exit. ``file_copy`` creates it with ``STRATEGY FILE_COPY`` on PostgreSQL 15+.
    Skips the test if the server is unavailable, unless ``WAYPOINT_TEST_REQUIRE_ALL`` is set."""
    try:
        admin = psycopg.Connection.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("WAYPOINT_TEST_REQUIRE_ALL"):
            raise
        pytest.skip(f"PostgreSQL unavailable at {admin_url}: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    strategy = " STRATEGY FILE_COPY" if file_copy and admin.info.server_version >= 150000 else ""
    with admin:
        admin.execute(f"CREATE DATABASE {name}{strategy}")  # name is ours, not user input
        # no commit waits for the disk: tests never crash the server, and on this machine's
        # disk a synchronous commit costs ~0.3 ms, thousands of times per test run
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
        try:
            yield make_conninfo(admin_url, dbname=name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
