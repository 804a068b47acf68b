"""A checkpoint workload run by worker processes in the SQL savers' concurrency tests."""

from __future__ import annotations

import time
from typing import Any

from waypoint.checkpoint.base import LogHint, empty_checkpoint


def open_saver(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from waypoint.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    import psycopg

    from waypoint.checkpoint.postgres import PostgresSaver

    return PostgresSaver(psycopg.Connection.connect(target, autocommit=True))


def write_threads(kind: str, target: str, prefix: str, n_threads: int, n_checkpoints: int, start_at: float = 0.0) -> int:
    """Write ``n_threads`` threads of ``n_checkpoints`` each (a log channel and a counter),
    starting at wall-clock ``start_at`` so that every worker process writes at once."""
    saver = open_saver(kind, target)
    time.sleep(max(0.0, start_at - time.time()))
    written = 0
    for t in range(n_threads):
        thread = f"{prefix}-{t}"
        config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        items: list[str] = []
        log_v = step_v = None
        for i in range(n_checkpoints):
            prev, base = len(items), log_v
            items = items + [f"{thread}:{i}", "x" * 50]
            log_v, step_v = saver.get_next_version(log_v), saver.get_next_version(step_v)
            cp = empty_checkpoint()
            cp["channel_values"] = {"log": items, "step": i}
            cp["channel_versions"] = {"log": log_v, "step": step_v}
            cp["versions_seen"] = {"node": {"log": log_v}}
            cp["updated_channels"] = ["log", "step"]
            cp["channel_logs"] = {"log": LogHint(base, prev)}
            md = {"source": "loop", "step": i, "parents": {}, "worker": prefix}
            config = saver.put(config, cp, md, {"log": log_v, "step": step_v})
            written += 1
    close = getattr(saver, "close", None)
    if close is not None:
        close()
    conn = getattr(saver, "conn", None)
    if kind == "postgres" and conn is not None:
        conn.close()
    return written


def expected_log(thread: str, i: int) -> list[str]:
    out: list[str] = []
    for j in range(i + 1):
        out += [f"{thread}:{j}", "x" * 50]
    return out


def verify_threads(saver: Any, prefix: str, n_threads: int, n_checkpoints: int) -> int:
    """Check every checkpoint of every thread; returns how many were verified."""
    checked = 0
    for t in range(n_threads):
        thread = f"{prefix}-{t}"
        listed = list(saver.list({"configurable": {"thread_id": thread}}))
        assert len(listed) == n_checkpoints, (thread, len(listed))
        for tup in listed:
            i = tup.checkpoint["channel_values"]["step"]
            assert tup.metadata["step"] == i and tup.metadata["worker"] == prefix
            assert tup.checkpoint["channel_values"]["log"] == expected_log(thread, i), (thread, i)
            checked += 1
        steps = [x.checkpoint["channel_values"]["step"] for x in listed]
        assert steps == list(range(n_checkpoints - 1, -1, -1))
    return checked
