"""migrate: 100 threads from SQLite to PostgreSQL, verified checkpoint by checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import _graph
from tests.cli.conftest import fail, run, sqlite_saver

N = 100


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> str:
    """100 small threads (every fifth one finished) made by real graph runs."""
    path = tmp_path_factory.mktemp("migrate") / "hundred.db"
    threads = {f"t{i:03d}": {"user": f"u{i % 7}"} for i in range(N)}
    with sqlite_saver(path) as saver:
        _graph.populate(saver, threads, {t for i, t in enumerate(threads) if i % 5 == 0})
    return f"sqlite:///{path}"


def test_migrate_100_threads_verifies_and_reports_counts(hundred: str, pg_url: str) -> None:
    checkpoints = 80 * 3 + 20 * 5
    dry = run("migrate", "--from", hundred, "--to", pg_url, "--dry-run", "--json").json
    assert (dry["dry_run"], dry["threads"], dry["checkpoints"], dry["verified"]) == (True, N, checkpoints, 0)
    assert run("threads", "--json", url=pg_url).json["threads"] == []  # a dry run writes nothing

    out = run("migrate", "--from", hundred, "--to", pg_url).out
    assert f"migrated {N} thread(s), {checkpoints} checkpoint(s)" in out
    assert f"verified {checkpoints} checkpoint(s) identical" in out

    source = {r["thread_id"]: r for r in run("threads", "--json", "--limit", "500", url=hundred).json["threads"]}
    target = {r["thread_id"]: r for r in run("threads", "--json", "--limit", "500", url=pg_url).json["threads"]}
    # same counts, steps, next nodes and timestamps (bytes are each database's own storage)
    assert {t: {**r, "bytes": None} for t, r in target.items()} == {t: {**r, "bytes": None} for t, r in source.items()}
    assert all(r["bytes"] > 0 for r in target.values())

    again_dry = run("migrate", "--from", hundred, "--to", pg_url, "--dry-run").out
    assert f"would migrate {N} thread(s)" in again_dry and f"{N} thread(s) already exist in the target (pass --force" in again_dry
    line = fail("migrate", "--from", hundred, "--to", pg_url, "--threads", "t001,t002")
    assert "thread 't001' (and 1 more) already exists in the target: pass --force" in line
    again = run("migrate", "--from", hundred, "--to", pg_url, "--threads", "t001,t002", "--force", "--json").json
    assert (again["threads"], again["existing"], again["verified"]) == (2, 2, 6)


def test_migrate_a_subset_and_unknown_threads(hundred: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'subset.db'}"
    data = run("migrate", "--from", hundred, "--to", target, "--threads", "t000", "--threads", "t003", "--json").json
    assert (data["threads"], data["checkpoints"], data["verified"]) == (2, 8, 8)
    assert [r["thread_id"] for r in run("threads", "--json", url=target).json["threads"]] == ["t003", "t000"]
    assert "thread 'nope' not found in the source" in fail("migrate", "--from", hundred, "--to", target, "--threads", "nope")


def test_migrate_threads_with_subgraph_namespaces(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "nested.db"
    with sqlite_saver(source) as saver:
        assert _graph.build_nested(saver).invoke({"n": 1}, _graph.config("nested")) == {"n": 20, "log": ["p1", "p2:20"]}
        child_ns = next(t.config["configurable"]["checkpoint_ns"] for t in saver.list(None) if t.config["configurable"]["checkpoint_ns"])
    data = run("migrate", "--from", f"sqlite:///{source}", "--to", pg_url, "--json").json
    assert (data["threads"], data["checkpoints"], data["verified"]) == (1, 9, 9)
    [row] = run("threads", "--json", url=pg_url).json["threads"]
    assert (row["checkpoints"], row["namespaces"], row["latest_step"]) == (9, 2, 3)
    inner = run("history", "nested", "--ns", child_ns, "--json", url=pg_url).json["checkpoints"]
    assert [r["step"] for r in inner] == [2, 1, 0, -1] and inner[1]["next"] == ["c2"]
    assert run("show", "nested", "--ns", child_ns, "--json", url=pg_url).json["values"] == {"n": 20, "note": "c1:2"}
