"""threads, history, show, diff and stats against databases made by real graph runs."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.cli.conftest import FINISHED, THREADS, fail, run


def _history(db: str, thread: str) -> list[dict]:
    return run("history", thread, "--json", url=db).json["checkpoints"]


def test_threads_json_lists_every_thread_with_counts_steps_and_bytes(db: str) -> None:
    data = run("threads", "--json", "--count", url=db).json
    assert data["total"] == len(THREADS) and data["next"] is None
    rows = {r["thread_id"]: r for r in data["threads"]}
    assert set(rows) == set(THREADS)
    for thread_id, row in rows.items():
        done = thread_id in FINISHED
        assert row["checkpoints"] == (5 if done else 3)
        assert row["latest_step"] == (3 if done else 1)
        assert row["next"] == ([] if done else ["approve"])
        assert row["namespaces"] == 1
        assert row["bytes"] > 100
        assert datetime.fromisoformat(row["updated_at"]) <= datetime.now(timezone.utc)
    stamps = [r["updated_at"] for r in data["threads"]]
    assert stamps == sorted(stamps, reverse=True)
    # bytes are what the database stores for the thread: at least its payload, and a finished
    # thread (more checkpoints, messages and writes) stores more than a waiting one
    assert rows["chat-bob"]["bytes"] >= sum(r["bytes"] for r in _history(db, "chat-bob"))
    assert rows["chat-bob"]["bytes"] > rows["chat-carol"]["bytes"]


def test_threads_filters_on_metadata_and_pages(db: str) -> None:
    alice = run("threads", "--json", "--count", "--filter", "user=alice", url=db).json
    assert {r["thread_id"] for r in alice["threads"]} == {"chat-alice-1", "chat-alice-2"}
    assert alice["total"] == 2
    tier = run("threads", "--json", "-f", "tier=2", "-f", "user=carol", url=db).json  # 2 is the int 2
    assert [r["thread_id"] for r in tier["threads"]] == ["chat-carol"]
    assert run("threads", "--json", "--count", "-f", "tier=\"2\"", url=db).json["total"] == 0
    everything = [r["thread_id"] for r in run("threads", "--json", url=db).json["threads"]]
    page = run("threads", "--json", "--count", "--limit", "2", "--offset", "1", url=db).json
    assert [r["thread_id"] for r in page["threads"]] == everything[1:3]
    assert page["total"] == 4
    # keyset pages: each page's "next" cursor starts the following one, until the last
    first = run("threads", "--json", "--limit", "3", url=db).json
    rest = run("threads", "--json", "--limit", "3", "--after", first["next"], url=db).json
    assert [r["thread_id"] for r in first["threads"] + rest["threads"]] == everything and rest["next"] is None
    assert "malformed --after cursor" in fail("threads", "--after", "nocolon", url=db)


def test_threads_table(db: str) -> None:
    out = run("threads", url=db).out
    assert "4 thread(s)" in out and "more:" not in out
    assert "more: --after " in run("threads", "--limit", "1", url=db).out
    for word in ("thread", "checkpoints", "step", "next", "updated at", "bytes", *THREADS):
        assert word in out
    carol = next(line for line in out.splitlines() if "chat-carol" in line)
    assert "approve" in carol and ("kB" in carol or " B" in carol)


def test_history_lists_checkpoints_newest_first_with_writes(db: str) -> None:
    rows = _history(db, "chat-alice-1")
    assert [r["step"] for r in rows] == [3, 2, 1, 0, -1]
    assert [r["source"] for r in rows] == ["loop"] * 4 + ["input"]
    assert [r["next"] for r in rows] == [[], ["finish"], ["approve"], ["draft"], ["__start__"]]
    assert [r["parent_id"] for r in rows[:-1]] == [r["checkpoint_id"] for r in rows[1:]]
    assert rows[-1]["parent_id"] is None
    at_interrupt = {(w["node"], w["channel"]) for w in rows[2]["writes"]}
    assert {("approve", "__interrupt__"), ("approve", "messages"), ("approve", "count")} <= at_interrupt
    assert {(w["node"], w["channel"]) for w in rows[3]["writes"]} >= {("draft", "messages"), ("draft", "count")}
    assert rows[0]["writes"] == []  # the final checkpoint has no pending writes
    assert all(r["bytes"] > 0 for r in rows)
    # each step appends one message: its bytes grow by about one message, not the whole list
    assert max(r["channel_bytes"].get("messages", 0) for r in rows[:3]) < 60


def test_history_table_and_limit(db: str) -> None:
    out = run("history", "chat-carol", url=db).out
    assert "thread chat-carol: 3 checkpoint(s)" in out
    assert "approve: __interrupt__" in out and "draft: messages, count" in out
    assert "input" in out and "loop" in out
    assert len(run("history", "chat-carol", "--limit", "1", "--json", url=db).json["checkpoints"]) == 1


def test_show_the_latest_checkpoint_of_an_interrupted_thread(db: str) -> None:
    data = run("show", "chat-carol", "--json", url=db).json
    assert data["step"] == 1 and data["source"] == "loop"
    assert data["values"] == {
        "messages": [
            {"role": "user", "content": "hello from chat-carol", "id": "user-chat-carol"},
            {"role": "ai", "content": "draft 0", "id": "ai-0"},
        ],
        "count": 1,
    }
    assert data["next"] == ["approve"]
    [task] = data["tasks"]
    assert task["name"] == "approve" and task["error"] is None
    assert [i["value"] for i in task["interrupts"]] == [{"question": "approve the draft?", "count": 1}]
    [intr] = data["interrupts"]
    assert intr["node"] == "approve" and intr["value"]["count"] == 1 and len(intr["id"]) == 32
    assert [(w["node"], w["channel"]) for w in data["pending_writes"]] == [("approve", "__interrupt__")]
    assert data["metadata"]["user"] == "carol" and data["metadata"]["tier"] == 2

    tree = run("show", "chat-carol", url=db).out
    for text in ("values", "messages", "count = 1", "next: approve", "tasks (1)", "interrupt", "approve the draft?", "pending writes (1)", "interrupts (1)"):
        assert text in tree


def test_show_a_past_checkpoint_by_id_suffix_and_channels(db: str) -> None:
    rows = _history(db, "chat-bob")
    step0 = rows[3]["checkpoint_id"]
    data = run("show", "chat-bob", step0[-12:], "--json", url=db).json
    assert data["checkpoint_id"] == step0 and data["step"] == 0 and data["next"] == ["draft"]
    assert data["tasks"][0]["name"] == "draft" and set(data["tasks"][0]["writes"]) >= {"messages", "count"}
    only = run("show", "chat-bob", "--channel", "count", "--json", url=db).json
    assert only["values"] == {"count": 3}
    internal = run("show", "chat-bob", step0, "--all", "--json", url=db).json
    assert "branch:to:draft" in internal["values"]
    assert "no channel 'nope'" in fail("show", "chat-bob", "-c", "nope", url=db)


def test_diff_shows_changed_channels_value_diffs_and_writers(db: str) -> None:
    rows = _history(db, "chat-alice-1")
    first, last = rows[3]["checkpoint_id"], rows[0]["checkpoint_id"]  # step 0 -> step 3
    data = run("diff", "chat-alice-1", first, last, "--json", url=db).json
    assert data["from_step"] == 0 and data["to_step"] == 3 and data["lineage"] is True
    by = {c["channel"]: c for c in data["channels"]}
    assert set(by) == {"messages", "count"}
    msgs = by["messages"]["diff"]
    assert msgs["kind"] == "list" and msgs["common_prefix"] == 1 and msgs["removed"] == []
    assert [m["id"] for m in msgs["added"]] == ["ai-0", "human-1", "done-2"]
    assert [(w["node"], w["step"]) for w in by["messages"]["written_by"]] == [("draft", 1), ("approve", 2), ("finish", 3)]
    assert by["count"]["diff"] == {"kind": "value", "before": 0, "after": 3}

    out = run("diff", "chat-alice-1", first, last, url=db).out
    assert "messages (changed) written by draft@1, approve@2, finish@3" in out
    assert "+ " in out and "published" in out and "0 → 3" in out


def test_stats_from_the_database_counters(db: str) -> None:
    data = run("stats", "--json", url=db).json
    # never analyzed (a fresh test database): PostgreSQL counts exactly too
    assert (data["threads"], data["checkpoints"], data["estimated"]) == (4, 16, False)
    assert data["storage_bytes"] > 1000 and data["source"]
    out = run("stats", url=db).out
    assert "4 thread(s), 16 checkpoint(s)" in out and "stored" in out and "--scan" in out


def test_stats_scan_totals_threads_channels_growth(db: str) -> None:
    data = run("stats", "--scan", "--json", "--top", "2", url=db).json
    assert data["threads"] == 4 and data["checkpoints"] == 16
    payload = sum(r["bytes"] for thread in THREADS for r in _history(db, thread))
    assert data["bytes"] == payload
    assert len(data["largest_threads"]) == 2
    assert {r["thread_id"] for r in data["largest_threads"]} <= FINISHED
    channels = {r["channel"]: r["bytes"] for r in data["channels"]}
    assert channels["messages"] > 0 and channels["(pending writes)"] > 0
    assert sum(channels.values()) == data["bytes"]
    today = datetime.now(timezone.utc).date().isoformat()
    assert data["growth"][-1]["day"] == today and sum(g["checkpoints"] for g in data["growth"]) == 16
    out = run("stats", "--scan", url=db).out
    for text in ("4 thread(s), 16 checkpoint(s)", "largest threads", "bytes per channel", "growth per day", "messages"):
        assert text in out


def test_help_says_what_bytes_are() -> None:
    def text(cmd: str) -> str:
        return " ".join(run(cmd, "--help").out.split())

    assert "serialized payload bytes" in text("history")
    assert "serialized payload" in text("stats")
    assert "Bytes are what the database stores" in text("threads")
