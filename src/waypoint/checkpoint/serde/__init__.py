"""Serialization: msgpack with exact round trips, safe loading, optional encryption."""

from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.encrypted import EncryptedSerializer
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

__all__ = ["EncryptedSerializer", "JsonPlusSerializer", "SerializerProtocol"]
