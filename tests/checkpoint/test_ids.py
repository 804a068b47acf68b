"""Checkpoint ids and channel versions."""

from __future__ import annotations

import uuid

from waypoint.checkpoint.base import new_checkpoint_id, next_version


def test_ids_sort_in_creation_order_and_are_unique() -> None:
    ids = [new_checkpoint_id() for _ in range(20000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7


def test_versions_compare_as_strings() -> None:
    v = None
    out = []
    for _ in range(1000):
        v = next_version(v)
        out.append(v)
    assert out == sorted(out)
