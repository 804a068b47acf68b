"""A 1,000-turn conversation on MongoDB: every document stays far below the 16 MB BSON limit,
storage grows linearly, and reading the latest state costs pages of messages, not checkpoints."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import bson

from tests.checkpoint.mongodb.helpers import Conversation
from waypoint.checkpoint.log import PAGE_SIZE
from waypoint.checkpoint.mongodb import _core

TURNS = 1000
EARLY = 250
TICKS = 500


def _measure(saver: Any, recorded: Any, thread_id: str) -> tuple[int, int, float, int]:
    """(documents read, requests, median seconds, messages) of get_tuple(latest)."""
    cfg = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    tup, rec = recorded(_core.get_tuple(saver._ctx, cfg))
    times = []
    for _ in range(9):
        start = time.perf_counter()
        saver.get_tuple(cfg)
        times.append(time.perf_counter() - start)
    return rec.docs, len(rec.requests), statistics.median(times), len(tup.checkpoint["channel_values"]["messages"])


def _sizes(saver: Any) -> dict[str, tuple[int, int, int]]:
    """collection -> (documents, total BSON bytes, largest document bytes)."""
    out = {}
    for name in saver.db.list_collection_names():
        sizes = [len(bson.encode(doc)) for doc in saver.db[name].find()]
        out[name] = (len(sizes), sum(sizes), max(sizes, default=0))
    return out


async def test_a_thousand_turns_stay_small_and_cheap_to_read(saver: Any, recorded: Any) -> None:
    conv = Conversation(saver, "long")
    for _ in range(EARLY):
        conv.turn(run_id="run-1")
    early = _measure(saver, recorded, "long")
    early_bytes = sum(total for _, total, _ in _sizes(saver).values())
    for _ in range(TURNS - EARLY):
        conv.turn(run_id="run-1")
    late = _measure(saver, recorded, "long")
    sizes = _sizes(saver)

    # 1. every document of every collection is far below 16 MB
    largest = max(big for _, _, big in sizes.values())
    assert largest < 1024 * 1024, sizes
    # 2. storage is linear in turns; the message pages hold about the payload itself
    total = sum(t for _, t, _ in sizes.values())
    assert total < 4.6 * early_bytes, (total, early_bytes)
    payload = sum(len(bson.encode({"m": m})) for m in conv.messages)
    pages = sizes[saver._ctx.names.pages]
    assert pages[0] == math.ceil(2 * TURNS / PAGE_SIZE)
    assert pages[1] < 1.5 * payload, (pages[1], payload)
    # 3. reading the latest state reads its pages plus a constant: head, checkpoint, blobs, writes
    early_pages, late_pages = math.ceil(2 * EARLY / PAGE_SIZE), math.ceil(2 * TURNS / PAGE_SIZE)
    assert early[3] == 2 * EARLY and late[3] == 2 * TURNS
    assert early[0] - early_pages == late[0] - late_pages <= 4, (early, late)
    assert early[1] == late[1] == 5  # round trips: head, checkpoint, blobs, pages, writes

    # 4. TICKS more checkpoints that leave the messages alone: the read cost does not move
    for _ in range(TICKS):
        conv.tick()
    more = _measure(saver, recorded, "long")
    assert more[0] == late[0] and more[1] == late[1]  # (time is printed, not asserted: benchmarks measure it)
    print(
        f"\n{TURNS} turns: {sum(c for c, _, _ in sizes.values())} documents, {total / 1e6:.2f} MB "
        f"(message payload {payload / 1e6:.2f} MB, pages {pages[1] / 1e6:.2f} MB), largest document "
        f"{largest} B; get_tuple(latest): {early[0]} docs / {early[2] * 1e3:.1f} ms at {EARLY} turns, "
        f"{late[0]} docs / {late[2] * 1e3:.1f} ms at {TURNS}, {more[0]} docs / {more[2] * 1e3:.1f} ms "
        f"after {TICKS} more checkpoints"
    )
