"""Checkpoint ids and channel versions."""

from __future__ import annotations

import uuid

from waypoint.checkpoint.base import new_checkpoint_id, next_version


def test_ids_sort_in_creation_order_and_are_unique() -> None:
    ids = [new_checkpoint_id() for _ in range(20000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 6


def test_ids_interleave_by_time_with_langgraph_uuid6() -> None:
    # LangGraph's runtime names checkpoints with uuid6; a thread written by both runtimes
    # must list in creation order, whichever runtime wrote each checkpoint.
    from waypoint.checkpoint.base.id import uuid6

    ids = []
    for i in range(200):
        ids.append(new_checkpoint_id() if i % 2 else str(uuid6(clock_seq=i)))
    assert ids == sorted(ids)


def test_versions_compare_as_strings() -> None:
    v = None
    out = []
    for _ in range(1000):
        v = next_version(v)
        out.append(v)
    assert out == sorted(out)
