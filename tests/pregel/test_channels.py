"""Channel semantics, including the item-log prefix tracking reducer channels feed savers."""

from __future__ import annotations

import operator

import pytest

from waypoint.channels import (
    MISSING,
    AnyValue,
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    NamedBarrierValue,
    Topic,
)
from waypoint.errors import EmptyChannelError, InvalidUpdateError
from waypoint.types import Overwrite


def test_last_value() -> None:
    ch = LastValue(int, key="k")
    assert not ch.is_available()
    with pytest.raises(EmptyChannelError):
        ch.get()
    assert ch.update([1]) and ch.get() == 1
    assert not ch.update([])
    with pytest.raises(InvalidUpdateError, match="'k'"):
        ch.update([1, 2])
    restored = ch.from_checkpoint(ch.checkpoint())
    assert restored.get() == 1 and restored is not ch
    any_value = AnyValue(int)
    assert any_value.update([1, 2]) and any_value.get() == 2


def test_binop_list_initial_value_and_prefix_tracking() -> None:
    ch = BinaryOperatorAggregate(list[str], operator.add, key="log")
    assert ch.get() == [] and ch.log_prefix == 0
    ch.update([["a"], ["b"]])
    assert ch.get() == ["a", "b"] and ch.log_prefix == 0
    ch.mark_log()
    assert ch.log_prefix == 2
    ch.update([["c"]])
    ch.update([["d"]])
    assert ch.log_prefix == 2  # still relative to the last mark
    ch.update([Overwrite(["x"])])
    assert ch.get() == ["x"] and ch.log_prefix == 0


def test_binop_generic_reducer_prefix_by_identity() -> None:
    def keep_last_two(a: list, b: list) -> list:
        return (a + b)[-2:]

    items = [object(), object(), object()]
    ch = BinaryOperatorAggregate(list, keep_last_two).from_checkpoint(items[:2])
    assert ch.log_prefix == 2
    ch.update([[items[2]]])
    assert ch.log_prefix == 0  # the list shifted: nothing at the same position

    def append_only(a: list, b: list) -> list:
        return [*a, *b]

    ch = BinaryOperatorAggregate(list, append_only).from_checkpoint(items[:1])
    ch.update([[items[1]]])
    assert ch.log_prefix == 1


def test_binop_restore_never_aliases_the_saver_list() -> None:
    stored = ["a"]
    ch = BinaryOperatorAggregate(list, operator.add).from_checkpoint(stored)
    assert ch.get() == stored and ch.get() is not stored


def test_binop_non_list_values() -> None:
    ch = BinaryOperatorAggregate(int, operator.add)
    assert ch.get() == 0
    ch.update([2, 3])
    assert ch.get() == 5


def test_ephemeral_value() -> None:
    ch = EphemeralValue(str)
    assert ch.update(["x"]) and ch.get() == "x"
    assert ch.update([]) and not ch.is_available()
    assert not ch.update([])
    with pytest.raises(InvalidUpdateError):
        ch.update(["a", "b"])
    assert EphemeralValue(str, guard=False).update(["a", "b"])


def test_topic() -> None:
    ch = Topic(str)
    ch.update(["a", ["b", "c"]])
    assert ch.get() == ["a", "b", "c"]
    assert ch.update([]) and not ch.is_available()
    acc = Topic(str, accumulate=True)
    acc.update(["a"])
    acc.update(["b"])
    assert acc.get() == ["a", "b"]
    assert acc.checkpoint() == ["a", "b"]
    assert Topic(str).checkpoint() is MISSING


def test_named_barrier() -> None:
    ch = NamedBarrierValue(str, {"a", "b"})
    ch.update(["a"])
    assert not ch.is_available()
    saved = ch.checkpoint()
    ch.update(["b"])
    assert ch.is_available()
    assert ch.consume() and not ch.is_available()
    assert ch.from_checkpoint(saved).seen == {"a"}
    with pytest.raises(InvalidUpdateError, match="'z'"):
        ch.update(["z"])
