"""Call a backend's sync or async face through one interface, so each test is written once.

``await api.call(obj, "put", ...)`` runs ``obj.put(...)`` in a worker thread (sync mode; async
backends must serve their sync face from a non-loop thread) or awaits ``obj.aput(...)``.
Generator methods (``list``, ``search`` results are lists already) are drained to a list.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any


class Api:
    def __init__(self, mode: str) -> None:
        assert mode in ("sync", "async")
        self.mode = mode

    def __repr__(self) -> str:
        return f"Api({self.mode})"

    async def call(self, obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":

            def run() -> Any:
                result = getattr(obj, method)(*args, **kwargs)
                if inspect.isgenerator(result) or (
                    hasattr(result, "__iter__") and hasattr(result, "__next__")
                ):
                    return list(result)
                return result

            return await asyncio.to_thread(run)
        result = getattr(obj, "a" + method)(*args, **kwargs)
        if inspect.isasyncgen(result) or hasattr(result, "__anext__"):
            return [x async for x in result]
        return await result
