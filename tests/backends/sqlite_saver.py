"""Registers the SQLite checkpoint savers (sync and aiosqlite) with the conformance suites."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver


@asynccontextmanager
async def _sqlite() -> AsyncIterator[Any]:
    tmp = Path(tempfile.mkdtemp(prefix="wp-sqlite-"))
    try:
        saver = SqliteSaver(tmp / "checkpoints.db")
        saver.setup()
        try:
            yield saver
        finally:
            saver.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def _sqlite_async() -> AsyncIterator[Any]:
    tmp = Path(tempfile.mkdtemp(prefix="wp-sqlite-"))
    try:
        async with AsyncSqliteSaver.from_conn_string(tmp / "checkpoints.db") as saver:
            await saver.asetup()
            yield saver
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def saver_factories() -> dict[str, Any]:
    return {"sqlite": _sqlite, "sqlite-async": _sqlite_async}
