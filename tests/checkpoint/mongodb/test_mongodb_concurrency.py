"""4 processes x 25 threads write their own conversations at once; afterwards every checkpoint
of every thread is read back and checked."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backends._mongo_server import mongo_uri
from tests.checkpoint.mongodb.helpers import Conversation

PROCESSES, THREADS, TURNS = 4, 25, 8
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
async def test_four_processes_times_25_threads(saver: Any) -> None:
    uri = mongo_uri()
    start = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.checkpoint.mongodb._concurrent_worker",
            uri, saver.db.name, str(p), str(THREADS), str(TURNS),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for p in range(PROCESSES)
    ]
    outputs = [await proc.communicate() for proc in procs]
    elapsed = time.perf_counter() - start
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode()[-3000:]
    written: dict[str, list[str]] = {}
    for out, _ in outputs:
        written.update(json.loads(out))
    assert len(written) == PROCESSES * THREADS

    def verify() -> int:
        checked = 0
        for thread_id, ids in written.items():
            expected = Conversation(saver, thread_id)
            listed = list(saver.list({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}))
            assert [t.config["configurable"]["checkpoint_id"] for t in listed] == ids[::-1]
            for n, tup in enumerate(reversed(listed)):
                values = tup.checkpoint["channel_values"]
                assert values["turn"] == n
                assert values["messages"] == [
                    expected.message(role, k) for k in range(n + 1) for role in ("user", "ai")
                ]
                assert tup.pending_writes == [(f"task-{n}", "messages", {"n": n}), (f"task-{n}", "turn", n)]
                parent = tup.parent_config["configurable"]["checkpoint_id"] if tup.parent_config else None
                assert parent == (ids[n - 1] if n else None)
                checked += 1
            latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
            assert latest.config["configurable"]["checkpoint_id"] == ids[-1]
        return checked

    checked = await asyncio.to_thread(verify)
    assert checked == PROCESSES * THREADS * TURNS
    print(f"\n{PROCESSES}x{THREADS} writers, {checked} checkpoints in {elapsed:.1f} s; all verified")
