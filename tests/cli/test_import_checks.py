"""What import and store import check before they write: one read of the file, duplicate
threads, numbers and nesting JSON cannot hold, and store imports that are all or nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import fail, run
from tests.cli.test_transfer import _lines, _rewrite


def _raw_rewrite(path: Path, lines: list[str]) -> None:
    """Write raw record lines (header included) and a correct checksum line."""
    body = "".join(line + "\n" for line in lines)
    path.write_text(body + json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest()}) + "\n")


def test_a_thread_twice_in_one_file_is_refused_by_name(sqlite_db: str, tmp_path: Path) -> None:
    out, twice = tmp_path / "bob.jsonl", tmp_path / "twice.jsonl"
    run("export", "chat-bob", "chat-carol", "-o", str(out), url=sqlite_db)
    objs = _lines(out)
    bob = [o for o in objs[1:-1]]
    bob = bob[: next(i for i, o in enumerate(bob) if o.get("thread_id") == "chat-carol")]
    _rewrite(twice, [objs[0], *objs[1:-1], *bob, objs[-1]])
    target = f"sqlite:///{tmp_path / 'target.db'}"
    line = fail("import", str(twice), url=target)
    assert "thread 'chat-bob' appears twice" in line, line
    assert run("threads", "--json", url=target).json["threads"] == []  # refused before writing


def test_import_reads_the_file_once_so_a_pipe_works(sqlite_db: str, tmp_path: Path) -> None:
    out = tmp_path / "two.jsonl"
    run("export", "chat-bob", "chat-carol", "-o", str(out), url=sqlite_db)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    # /dev/stdin on a pipe can be read only once: what is checked is what is imported
    done = run("import", "/dev/stdin", "--json", url=target, stdin=out.read_text()).json
    assert (done["threads"], done["checkpoints"]) == (2, 8)
    tampered = out.read_text().replace('"thread_id":"chat-bob"', '"thread_id":"chat-eve"')
    assert "failed its SHA-256 check" in fail_stdin("import", "/dev/stdin", url=f"sqlite:///{tmp_path / 't2.db'}", stdin=tampered)


def fail_stdin(*args: str, url: str, stdin: str) -> str:
    result = run(*args, url=url, ok=False, stdin=stdin)
    assert result.code != 0 and result.err.startswith("Error: "), result
    return result.err.strip()


@pytest.mark.parametrize("command", [("import",), ("store", "import")])
def test_huge_integers_and_deep_nesting_are_named_errors(command: tuple[str, ...], tmp_path: Path) -> None:
    kind = "checkpoints" if command == ("import",) else "store"
    head = json.dumps({"format": "waypoint-export", "version": 1, "kind": kind, "source": "x", "created_at": "now"})
    first = '{"type":"thread","thread_id":"t"}' if kind == "checkpoints" else '{"type":"item","namespace":["a"],"key":"k","value":{"tag":"json","data":"e30="}}'
    target = f"sqlite:///{tmp_path / 'target.db'}"
    big, deep = tmp_path / "big.jsonl", tmp_path / "deep.jsonl"
    _raw_rewrite(big, [head, first, '{"type":"checkpoint","v":' + "9" * 5000 + "}"])
    line = fail(*command, str(big), url=target)
    assert f"{big}: line 3 holds an integer of more than 4300 digits" in line, line
    _raw_rewrite(deep, [head, first, '{"type":"x","a":' + "[" * 100_000 + "]" * 100_000 + "}"])
    line = fail(*command, str(deep), url=target)
    assert f"{deep}: line 3 is nested too deeply" in line, line


def _store_file(path: Path, n_good: int, bad: dict[str, Any] | None) -> None:
    from waypoint.cli._export import typed
    from waypoint.cli._urls import make_serde

    serde = make_serde()
    head = {"format": "waypoint-export", "version": 1, "kind": "store", "source": "x", "created_at": "now"}
    recs: list[dict[str, Any]] = [
        {"type": "item", "namespace": ["bulk", f"n{i % 3}"], "key": f"k{i}", "value": typed(serde, {"i": i}),
         "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00"}
        for i in range(n_good)
    ]
    if bad is not None:
        recs.append({"type": "item", "namespace": ["bulk", "n0"], "key": "bad", "created_at": "", "updated_at": "", **bad})
    _raw_rewrite(path, [json.dumps(o, separators=(",", ":")) for o in [head, *recs]])


def _count(url: str) -> int:
    from tests.cli.test_store import _items
    from waypoint.cli._urls import open_store

    with open_store(url) as store:
        return len(_items(store))


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_store_import_is_all_or_nothing(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from waypoint.cli._urls import make_serde

    target = f"sqlite:///{tmp_path / 'target.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
    undecodable = tmp_path / "undecodable.jsonl"
    _store_file(undecodable, 600, {"value": {"tag": "msgpack", "data": base64.b64encode(b"\xc1\xc1").decode()}})
    line = fail("store", "import", str(undecodable), url=target)
    assert "line 602" in line and "malformed item record" in line, line
    not_a_dict = tmp_path / "not_a_dict.jsonl"
    tag, data = make_serde().dumps_typed([1, 2])
    _store_file(not_a_dict, 600, {"value": {"tag": tag, "data": base64.b64encode(data).decode()}})
    assert "value must be a dict" in fail("store", "import", str(not_a_dict), url=target)
    reserved = tmp_path / "reserved.jsonl"
    _store_file(reserved, 600, None)
    objs = _lines(reserved)
    objs[-2]["namespace"] = ["waypoint", "x"]
    _rewrite(reserved, objs)
    assert "reserved" in fail("store", "import", str(reserved), url=target)
    assert _count(target) == 0  # nothing of the 600 good items was written

    good = tmp_path / "good.jsonl"
    _store_file(good, 601, None)
    assert run("store", "import", str(good), "--json", url=target).json["items"] == 601
    assert _count(target) == 601


def test_store_import_that_fails_while_writing_restores_what_it_replaced(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL refuses a NUL character in JSON only at write time, after a first batch of 500 went in."""
    from waypoint.cli._export import typed
    from waypoint.cli._urls import make_serde, open_store

    with open_store(pg_url, create=True) as store:
        store.put(("bulk", "n2"), "k5", {"i": "old"})
    path = tmp_path / "nul.jsonl"
    _store_file(path, 601, {"value": typed(make_serde(), {"text": "a\x00b"})})
    line = fail("store", "import", str(path), url=pg_url)
    assert "store import failed and the 500 item(s) written were restored" in line and "NUL character" in line, line
    with open_store(pg_url) as store:
        assert [(i.namespace, i.key, i.value) for i in store.search((), limit=1000)] == [(("bulk", "n2"), "k5", {"i": "old"})]
