"""``import`` and ``migrate`` re-bind encrypted values to where they land (issue 19 #3).

Encrypted values are sealed to their thread, namespace, channel or write and version. Moving a
thread legitimately (``import --force`` builds it under a temporary thread id and swaps it in;
``migrate`` writes it into another database) must seal every value again for its new place,
never leave one sealed for the old place (which would then read as a moved ciphertext).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli import _graph
from tests.cli.conftest import run
from tests.cli.test_transfer import _open
from waypoint.checkpoint.serde.encrypted import EncryptedSerializer

KEY = os.urandom(32).hex()


def _history(url: str, thread: str) -> list[tuple[Any, ...]]:
    with _open(url) as saver:
        _use_key(saver)
        graph = _graph.build(saver)
        return [(s.config["configurable"]["checkpoint_id"], s.values, s.next)
                for s in graph.get_state_history(_graph.config(thread))]


def _use_key(saver: Any) -> None:
    import dataclasses

    saver.serde = EncryptedSerializer(key=KEY)
    if hasattr(saver, "_ctx"):
        saver._ctx = dataclasses.replace(saver._ctx, serde=saver.serde)


def _fill(url: str, threads: dict[str, str]) -> None:
    with _open(url) as saver:
        if hasattr(saver, "setup"):
            saver.setup()
        _use_key(saver)
        graph = _graph.build(saver)
        for thread, text in threads.items():
            _graph.start(graph, thread, text)
            _graph.resume(graph, thread)


def _target(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_import_force_and_migrate_reseal_encrypted_threads(kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOINT_AES_KEY", KEY)
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source, {"t1": "the new text", "t2": "second"})
    target = _target(kind, tmp_path, request)
    _fill(target, {"t1": "the original text"})

    export = tmp_path / "t1.jsonl"
    run("export", "t1", "-o", str(export), url=source)
    run("import", str(export), "--force", url=target)  # built under a temporary id, swapped in
    assert _history(target, "t1") == _history(source, "t1")
    assert run("show", "t1", "--json", url=target).json["values"]["messages"][0]["content"] == "the new text"

    other = f"sqlite:///{tmp_path / 'other.db'}" if kind != "sqlite" else request.getfixturevalue("pg_url")
    _fill(other, {"t1": "replaced by the migration"})
    run("migrate", "--from", source, "--to", other, "--force")
    for thread in ("t1", "t2"):
        assert _history(other, thread) == _history(source, thread)
