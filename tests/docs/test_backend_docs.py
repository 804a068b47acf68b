"""The Python examples of the backend pages run as written.

SQLite pages run in a temporary directory. PostgreSQL pages run against a fresh database of
their own: the examples' URL (the machine's ``test`` database) is rewritten to it, so running
them never leaves tables behind in a shared database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from psycopg.conninfo import conninfo_to_dict

from tests.backends._pgvector_server import pgvector_url
from tests.backends._postgres import PLAIN_URL
from tests.backends._postgres import fresh_database as _fresh_database

DOCS = Path(__file__).resolve().parents[2] / "docs" / "backends"
SQLITE_PAGES = ["sqlite.md", "sqlite-store.md"]
POSTGRES_PAGES = ["postgres.md", "postgres-store.md"]


def blocks(page: str) -> list[str]:
    found = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)
    assert found, f"{page} has no python examples"
    return found


def run(code: str, cwd: Path, label: str) -> None:
    script = cwd / f"{label}.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(DOCS.parents[1])})
    assert proc.returncode == 0, f"{label} failed:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("page", SQLITE_PAGES)
def test_sqlite_pages(page: str, tmp_path: Path) -> None:
    for i, code in enumerate(blocks(page)):
        run(code, tmp_path, f"{page.replace('.', '_').replace('-', '_')}_{i}")


@pytest.mark.parametrize("page", POSTGRES_PAGES)
def test_postgres_pages(page: str, tmp_path: Path) -> None:
    # the store page searches by vector, so it runs on the pgvector server
    admin = pgvector_url() if page == "postgres-store.md" else PLAIN_URL
    with _fresh_database(admin, "wp_docs") as conninfo:
        db = conninfo_to_dict(conninfo)["dbname"]
        host_db = admin.split("@", 1)[1].rsplit("/", 1)[0] + f"/{db}"
        for i, code in enumerate(blocks(page)):
            code = code.replace("127.0.0.1:5432/test", host_db)
            run(code, tmp_path, f"{page.replace('.', '_').replace('-', '_')}_{i}")


@pytest.mark.parametrize("page", ["mongodb.md", "mongodb-store.md"])
def test_mongodb_pages(page: str, tmp_path: Path) -> None:
    from pymongo import MongoClient

    from tests.backends._mongo_server import mongo_uri, new_db_name

    uri, db = mongo_uri(), new_db_name()
    try:
        for i, code in enumerate(blocks(page)):
            code = code.replace('"mongodb://localhost:27017"', repr(uri)).replace('db_name="agents"', f"db_name={db!r}")
            run(code, tmp_path, f"{page.replace('.', '_').replace('-', '_')}_{i}")
    finally:
        with MongoClient(uri) as client:
            client.drop_database(db)
