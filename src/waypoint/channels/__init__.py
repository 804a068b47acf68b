"""Channels: the named slots a graph's nodes read and write."""

from waypoint.channels.base import MISSING, BaseChannel
from waypoint.channels.binop import BinaryOperatorAggregate, register_log_reducer
from waypoint.channels.delta import DeltaChannel
from waypoint.channels.ephemeral_value import EphemeralValue
from waypoint.channels.last_value import AnyValue, LastValue, LastValueAfterFinish
from waypoint.channels.named_barrier_value import NamedBarrierValue, NamedBarrierValueAfterFinish
from waypoint.channels.topic import Topic
from waypoint.channels.untracked_value import UntrackedValue

__all__ = [
    "MISSING",
    "AnyValue",
    "BaseChannel",
    "BinaryOperatorAggregate",
    "DeltaChannel",
    "EphemeralValue",
    "LastValue",
    "LastValueAfterFinish",
    "NamedBarrierValue",
    "NamedBarrierValueAfterFinish",
    "Topic",
    "UntrackedValue",
    "register_log_reducer",
]
