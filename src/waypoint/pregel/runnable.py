"""A compiled graph as a LangChain ``Runnable``, without making LangChain a dependency.

LangGraph's ``Pregel`` subclasses ``Runnable``; waypoint must import without langchain-core,
so it cannot. Instead ``Pregel`` (through this mixin) implements the Runnable methods that
matter natively (``invoke/ainvoke/stream/astream`` in ``main.py``, ``batch/abatch``,
``with_config``, ``get_graph``), is registered as a *virtual* subclass of ``Runnable`` as soon
as LangChain is in the process (so ``isinstance(graph, Runnable)``, ``prompt | graph``,
``graph.as_tool()`` and Runnable-typed fields accept it), and borrows the rest of Runnable's
API (``astream_events``, ``pipe``, ``with_retry``, ``as_tool``, ...) from ``Runnable`` itself:
those methods are written against ``self.invoke``/``self.astream``, which a graph has.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from waypoint.errors import LangChainRequiredError

_REGISTERED: set[type] = set()


def _imported() -> bool:
    """LangChain is already imported (its objects can exist): never imports it."""
    return sys.modules.get("langchain_core") is not None


def register(cls: type) -> None:
    """Make ``cls`` a virtual subclass of LangChain's Runnable when LangChain is imported."""
    if cls in _REGISTERED or not _imported():
        return
    from langchain_core.runnables import Runnable

    Runnable.register(cls)
    _REGISTERED.add(cls)


def _runnable_attr(name: str) -> Any:
    """Runnable's own attribute ``name`` (a function or property), or None."""
    if name.startswith("__") or not _imported():
        return None
    from langchain_core.runnables import Runnable

    for klass in Runnable.__mro__:
        if name in klass.__dict__ and klass.__module__.startswith("langchain_core"):
            return klass.__dict__[name]
    return None


class RunnableMixin:
    """Runnable behaviour of ``Pregel``."""

    name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)

    def __getattr__(self, name: str) -> Any:
        # only reached for names the graph lacks: Runnable's API, bound to this graph
        attr = _runnable_attr(name)
        if attr is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        register(type(self))
        return attr.__get__(self, type(self)) if hasattr(attr, "__get__") else attr

    def __or__(self, other: Any) -> Any:
        return self._runnable_op("__or__")(self, other)

    def __ror__(self, other: Any) -> Any:
        return self._runnable_op("__ror__")(self, other)

    @staticmethod
    def _runnable_op(name: str) -> Any:
        if not _imported():
            raise LangChainRequiredError("Composing a graph with `|` needs langchain-core")
        from langchain_core.runnables import Runnable

        return getattr(Runnable, name)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """The graph's name (``compile(name=...)``), as Runnable.get_name."""
        base = name or self.name
        return f"{base}{suffix}" if suffix else base

    def batch(
        self,
        inputs: Sequence[Any],
        config: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """``invoke`` each input (in threads); ``config`` is one config or one per input."""
        configs = _configs(config, len(inputs))

        def one(pair: tuple[Any, Any]) -> Any:
            try:
                return self.invoke(pair[0], pair[1], **kwargs)  # type: ignore[attr-defined]
            except Exception as exc:
                if return_exceptions:
                    return exc
                raise

        if len(inputs) <= 1:
            return [one(p) for p in zip(inputs, configs)]
        limit = max((c or {}).get("max_concurrency") or len(inputs) for c in configs)
        with ThreadPoolExecutor(max_workers=min(limit, len(inputs))) as pool:
            return list(pool.map(one, zip(inputs, configs)))

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async twin of ``batch`` (concurrent ``ainvoke`` calls)."""
        configs = _configs(config, len(inputs))
        limit = max((c or {}).get("max_concurrency") or len(inputs) for c in configs) or 1
        gate = asyncio.Semaphore(limit)

        async def one(inp: Any, cfg: Any) -> Any:
            async with gate:
                return await self.ainvoke(inp, cfg, **kwargs)  # type: ignore[attr-defined]

        return await asyncio.gather(*(one(i, c) for i, c in zip(inputs, configs)),
                                    return_exceptions=return_exceptions)

    # --- the graph's own LangChain run (see waypoint._langchain.start_graph_run) --------------

    def _traced(self, lc_run: Any, loop: Any, items: Iterator[Any]) -> Iterator[Any]:
        """``items`` of a run, reporting the run's end (or error) to its LangChain run."""
        try:
            yield from items
            self._outcome(loop)  # type: ignore[attr-defined]
        except BaseException as exc:
            lc_run.end(None, exc)
            raise
        lc_run.end(self._result(loop), None)  # type: ignore[attr-defined]

    async def _atraced(self, lc_run: Any, loop: Any, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Async twin of ``_traced``."""
        try:
            async for item in items:
                yield item
            self._outcome(loop)  # type: ignore[attr-defined]
        except BaseException as exc:
            await lc_run.end(None, exc)
            raise
        await lc_run.end(self._result(loop), None)  # type: ignore[attr-defined]


def _configs(config: Any, n: int) -> list[Any]:
    if isinstance(config, Sequence) and not isinstance(config, dict):
        if len(config) != n:
            raise ValueError(f"batch() got {len(config)} configs for {n} inputs")
        return list(config)
    return [config] * n
