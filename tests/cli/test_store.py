"""store export / import: namespaces copied between store backends in the export format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import fail, run

ITEMS = {
    (("users", "alice", "memories"), "m1"): {"text": "likes tea", "tags": ["drink"], "score": 0.5},
    (("users", "alice", "memories"), "m2"): {"text": "lives in Oslo", "since": 2019, "ok": True},
    (("users", "bob", "memories"), "m1"): {"text": "prefers email", "budget": 12.5, "big": 2**40},
    (("docs",), "readme"): {"title": "hello", "nested": {"a": [1, 2, {"b": None}]}},
}


def _items(store: Any) -> dict[tuple[tuple[str, ...], str], Any]:
    return {(tuple(i.namespace), i.key): i.value for i in store.search((), limit=1000)}


@pytest.fixture
def source(tmp_path: Path) -> str:
    from waypoint.store.sqlite import SqliteStore

    path = tmp_path / "store.db"
    with SqliteStore.from_conn_string(path) as store:
        for (ns, key), value in ITEMS.items():
            store.put(ns, key, value)
    return f"sqlite:///{path}"


def test_store_export_import_between_sqlite_postgres_and_mongodb(source: str, tmp_path: Path, pg_url: str, mongo_url: str) -> None:
    from waypoint.store.mongodb import MongoDBStore
    from waypoint.store.postgres import PostgresStore
    from waypoint.store.sqlite import SqliteStore

    out = tmp_path / "store.jsonl"
    assert run("store", "export", "--out", str(out), "--json", url=source).json["items"] == 4
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["kind"] == "store" and set(lines[-1]) == {"sha256"}
    assert {tuple(r["namespace"]) for r in lines[1:-1]} == {ns for ns, _ in ITEMS}

    sqlite_target = f"sqlite:///{tmp_path / 'copy.db'}"
    for target in (sqlite_target, pg_url, mongo_url):
        data = run("store", "import", str(out), "--json", url=target).json
        assert (data["items"], data["namespaces"]) == (4, 3)
    with SqliteStore.from_conn_string(tmp_path / "copy.db") as store:
        assert _items(store) == ITEMS
    with PostgresStore.from_conn_string(pg_url) as store:
        assert _items(store) == ITEMS
    with MongoDBStore.from_conn_string(mongo_url, db_name=mongo_url.rsplit("/", 1)[1].split("?")[0]) as store:
        assert _items(store) == ITEMS

    alice = tmp_path / "alice.jsonl"
    assert run("store", "export", "-o", str(alice), "-n", "users.alice", "--json", url=source).json["items"] == 2


def test_store_import_refuses_damaged_or_checkpoint_files(source: str, tmp_path: Path, sqlite_db: str) -> None:
    out, tampered = tmp_path / "store.jsonl", tmp_path / "tampered.jsonl"
    run("store", "export", "--out", str(out), url=source)
    tampered.write_text(out.read_text().replace("users", "admins", 1))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert "failed its SHA-256 check" in fail("store", "import", str(tampered), url=target)
    checkpoints = tmp_path / "bob.jsonl"
    run("export", "chat-bob", "--out", str(checkpoints), url=sqlite_db)
    assert "holds a 'checkpoints' export, not 'store': use 'waypoint import'" in fail("store", "import", str(checkpoints), url=target)
    assert "holds a 'store' export, not 'checkpoints': use 'waypoint store import'" in fail("import", str(out), url=target)
    assert not (tmp_path / "target.db").exists()
