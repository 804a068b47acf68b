"""The serializer protocol every saver and store stores values through."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class SerializerProtocol(Protocol):
    """Turns a Python value into ``(type_tag, bytes)`` and back.

    ``loads_typed`` must never import a module or call an arbitrary callable; anything it
    cannot rebuild safely raises ``waypoint.errors.SerializationError``.
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]: ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any: ...
