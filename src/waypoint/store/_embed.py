"""Semantic-index plumbing shared by every store: embedder adaptation and field paths.

``index={"dims": 64, "embed": ..., "fields": ["text"]}`` configures a store for semantic search.
``embed`` may be any of:

- a sync function ``list[str] -> list[list[float]]``;
- an async function of the same shape;
- an object with ``embed_documents(texts)`` and optionally ``embed_query(text)``,
  ``aembed_documents``, ``aembed_query`` (LangChain ``Embeddings`` fit, duck-typed);
- a ``"provider:model"`` string, resolved with LangChain's ``init_embeddings`` if installed.

:func:`ensure_embeddings` turns each into an :class:`Embedder` with all four methods, so a
store's sync and async faces both work whatever the user passed.

Field paths say which text of a value is embedded: ``"$"`` (the whole value as JSON), ``"text"``,
``"a.b"``, ``"tags[*]"`` (each element separately), ``"items[0].name"``, ``"items[-1]"`` and
``"meta.{title,summary}"`` (several keys). Each text found becomes one vector; an item's score
is the best of its vectors. Missing paths and ``None`` yield nothing; non-string values are
embedded as JSON. This module is pure Python (no numpy, no I/O).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import json
import re
import struct
from typing import Any, Awaitable, Callable, Iterator, Mapping, NamedTuple, Sequence

from waypoint.errors import ConfigError
from waypoint.store._hybrid import keyword_language

Vector = list[float]
Step = tuple[str, Any]  # ("key", name) | ("keys", names) | ("index", i) | ("each", None)

_FIELD = re.compile(r"\{(?P<names>[^{}\[\].]+)\}|(?P<name>[^.\[\]{},]+)")
_INDEX = re.compile(r"\[(?P<index>\*|-?\d+)\]")


def parse_field_path(path: str) -> tuple[Step, ...]:
    """Parse a field path into steps; ``"$"`` (whole value) is the empty tuple.

    Raises ConfigError naming the path and the accepted syntax.
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(f"invalid index field path {path!r}: use a non-empty str like 'text'")
    if path == "$":
        return ()
    text = path[2:] if path.startswith("$.") else path
    steps: list[Step] = []
    pos, expect_field = 0, True
    while pos < len(text):
        if expect_field:
            m = _FIELD.match(text, pos)
            if m is None:
                break
            if m.group("names") is not None:
                names = tuple(n.strip() for n in m.group("names").split(","))
                if not all(names):
                    break
                steps.append(("keys", names))
            else:
                steps.append(("key", m.group("name")))
            pos, expect_field = m.end(), False
        elif text[pos] == "[":
            m = _INDEX.match(text, pos)
            if m is None:
                break
            idx = m.group("index")
            steps.append(("each", None) if idx == "*" else ("index", int(idx)))
            pos = m.end()
        elif text[pos] == ".":
            pos, expect_field = pos + 1, True
        else:
            break
    else:
        if not expect_field:
            return tuple(steps)
    raise ConfigError(
        f"invalid index field path {path!r}: use '$', dotted keys ('a.b'), list indexes "
        "('items[0]', 'items[-1]'), every element ('tags[*]') or several keys ('m.{a,b}')"
    )


def _walk(current: Any, steps: Sequence[Step]) -> Iterator[Any]:
    if not steps:
        yield current
        return
    (kind, arg), rest = steps[0], steps[1:]
    if kind in ("key", "keys"):
        if isinstance(current, Mapping):
            for name in (arg,) if kind == "key" else arg:
                if name in current:
                    yield from _walk(current[name], rest)
    elif isinstance(current, (list, tuple)):
        if kind == "each":
            for element in current:
                yield from _walk(element, rest)
        elif -len(current) <= arg < len(current):
            yield from _walk(current[arg], rest)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def get_text_at_path(value: Any, path: str | tuple[Step, ...]) -> list[str]:
    """The texts a field path selects from a value (possibly several, possibly none)."""
    steps = parse_field_path(path) if isinstance(path, str) else path
    return [t for t in map(_as_text, _walk(value, steps)) if t is not None]


class Embedder:
    """One face over every accepted ``embed`` shape: sync and async, documents and queries."""

    def __init__(
        self,
        embed_documents: Callable[[list[str]], Any],
        aembed_documents: Callable[[list[str]], Awaitable[Any]],
        embed_query: Callable[[str], Any],
        aembed_query: Callable[[str], Awaitable[Any]],
        source: Any = None,
    ) -> None:
        self.embed_documents = embed_documents
        self.aembed_documents = aembed_documents
        self.embed_query = embed_query
        self.aembed_query = aembed_query
        self.source = source

    def __repr__(self) -> str:
        return f"Embedder({self.source!r})"


def run_coroutine_sync(awaitable: Awaitable[Any]) -> Any:
    """Wait for an awaitable from sync code: ``asyncio.run`` here, or on a helper thread when
    this thread already runs an event loop (whose loop we must not block re-entrantly)."""

    async def wrap() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrap())
    with concurrent.futures.ThreadPoolExecutor(1, "waypoint-embed") as pool:
        return pool.submit(asyncio.run, wrap()).result()


def _is_async_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(type(fn).__call__)


def _from_callable(fn: Callable[..., Any]) -> Embedder:
    if _is_async_callable(fn):

        def docs(texts: list[str]) -> Any:
            return run_coroutine_sync(fn(texts))

        async def adocs(texts: list[str]) -> Any:
            return await fn(texts)

    else:

        def docs(texts: list[str]) -> Any:
            out = fn(texts)
            return run_coroutine_sync(out) if inspect.isawaitable(out) else out

        async def adocs(texts: list[str]) -> Any:
            out = await asyncio.to_thread(fn, texts)
            return await out if inspect.isawaitable(out) else out

    def query(text: str) -> Any:
        return docs([text])[0]

    async def aquery(text: str) -> Any:
        return (await adocs([text]))[0]

    return Embedder(docs, adocs, query, aquery, source=fn)


def _from_object(obj: Any) -> Embedder:
    sync_docs = getattr(obj, "embed_documents", None)
    async_docs = getattr(obj, "aembed_documents", None)
    sync_query = getattr(obj, "embed_query", None)
    async_query = getattr(obj, "aembed_query", None)

    def docs(texts: list[str]) -> Any:
        if sync_docs is not None:
            return sync_docs(texts)
        return run_coroutine_sync(async_docs(texts))  # type: ignore[misc]

    async def adocs(texts: list[str]) -> Any:
        if async_docs is not None:
            return await async_docs(texts)
        return await asyncio.to_thread(sync_docs, texts)  # type: ignore[arg-type]

    def query(text: str) -> Any:
        if sync_query is not None:
            return sync_query(text)
        if async_query is not None and sync_docs is None:
            return run_coroutine_sync(async_query(text))
        return docs([text])[0]

    async def aquery(text: str) -> Any:
        if async_query is not None:
            return await async_query(text)
        if sync_query is not None:
            return await asyncio.to_thread(sync_query, text)
        return (await adocs([text]))[0]

    return Embedder(docs, adocs, query, aquery, source=obj)


def _from_provider_string(spec: str) -> Embedder:
    try:
        from langchain.embeddings import init_embeddings  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            f"index embed={spec!r} names a provider model, which needs LangChain: "
            "`pip install langchain` plus the provider package, or pass an embedding "
            "function or Embeddings object instead"
        ) from exc
    return _from_object(init_embeddings(spec))


def ensure_embeddings(embed: Any) -> Embedder:
    """Adapt any accepted ``embed`` value (see module docs) to an :class:`Embedder`."""
    if isinstance(embed, Embedder):
        return embed
    if isinstance(embed, str):
        return _from_provider_string(embed)
    if hasattr(embed, "embed_documents") or hasattr(embed, "aembed_documents"):
        return _from_object(embed)
    if callable(embed):
        return _from_callable(embed)
    raise ConfigError(
        f"index embed={embed!r} is not usable: pass a function list[str] -> list[list[float]] "
        "(sync or async), an object with embed_documents/embed_query, or 'provider:model'"
    )


class IndexSpec(NamedTuple):
    """A validated ``IndexConfig``: ``dims``, the adapted ``embedder``, default ``fields``
    and their parsed ``paths``. ``config`` is the user-facing dict with defaults filled."""

    dims: int
    embedder: Embedder
    fields: tuple[str, ...]
    paths: dict[str, tuple[Step, ...]]
    config: dict[str, Any]

    def fields_for_put(self, index: Any) -> tuple[str, ...]:
        """Fields a put embeds: defaults for ``None``, none for ``False``, else the list."""
        if index is None:
            return self.fields
        if index is False:
            return ()
        return tuple(index)

    def texts(self, value: Mapping[str, Any], fields: Sequence[str]) -> list[tuple[str, str]]:
        """``(field path, text)`` pairs to embed for a value, in field order."""
        out: list[tuple[str, str]] = []
        for field in fields:
            steps = self.paths.get(field)
            if steps is None:
                steps = parse_field_path(field)
            out.extend((field, text) for text in get_text_at_path(value, steps))
        return out

    def check(self, vectors: Any, count: int, what: str) -> list[Vector]:
        """Validate an embedder's output: ``count`` vectors of ``dims`` numbers each."""
        rows = _fast_rows(vectors, count, self.dims)
        if rows is not None:
            return rows
        try:
            rows = [[float(x) for x in v] for v in vectors]
        except TypeError as exc:
            raise ConfigError(
                f"the index embedder returned {type(vectors).__name__} for {what}; "
                "it must return a list of vectors (lists of floats)"
            ) from exc
        if len(rows) != count:
            raise ConfigError(f"the index embedder returned {len(rows)} vectors for {count} {what}")
        for row in rows:
            if len(row) != self.dims:
                raise ConfigError(
                    f"index dims={self.dims} but the embedder returned a {len(row)}-dimensional "
                    "vector; set dims to the model's output size"
                )
        return rows

    def block(self, vectors: Any, count: int, what: str) -> Any:
        """:meth:`check`, returning one ``(count, dims)`` float32 numpy array (for stores that
        encode vectors with numpy). Lists of Python floats are packed with :mod:`struct` (a
        row at a time: about a third of the cost of ``numpy.array`` on nested lists, and no
        float64 copy in between); anything else goes through :meth:`check`."""
        import numpy as np  # deferred: importing the store interface does not load numpy

        packed = _packed(vectors, count, self.dims)
        if packed is not None:
            return np.frombuffer(packed, dtype="<f4").reshape(count, self.dims)
        numeric = isinstance(vectors, np.ndarray) and vectors.dtype.kind in "fiu"
        rows = vectors if numeric and vectors.shape == (count, self.dims) else \
            self.check(vectors, count, what)
        with np.errstate(over="ignore"):  # beyond float32: inf, as a float32 column stores it
            return np.array(rows, dtype=np.float32).reshape(count, self.dims)


def _packed(vectors: Any, count: int, dims: int) -> bytes | None:
    """``count`` lists of ``dims`` numbers as little-endian float32 bytes; None for any other
    shape or content (strings, complex numbers, floats beyond float32's range), which then
    take the checked path."""
    if type(vectors) is not list or len(vectors) != count or count == 0:
        return None
    pack = _row_struct(dims).pack
    try:
        out = b"".join([pack(*row) for row in vectors if type(row) is list])
    except (struct.error, TypeError, OverflowError):  # wrong length, not numbers, too large
        return None
    return out if len(out) == 4 * count * dims else None  # a row that was not a list


@functools.lru_cache(maxsize=8)
def _row_struct(dims: int) -> struct.Struct:
    return struct.Struct(f"<{dims}f")


def _fast_rows(vectors: Any, count: int, dims: int) -> list[Vector] | None:
    """``vectors`` as lists of numbers, checked by numpy, when they are a well-formed
    ``(count, dims)`` block of numbers; None otherwise (the slow path then names the problem).

    Lists of lists holding floats are returned as they are (every backend converts vectors to
    its own format, so copying each number here would be wasted work)."""
    if count == 0:
        return None
    import numpy as np  # deferred: importing the store interface does not load numpy

    try:
        arr = np.asarray(vectors)
    except Exception:
        return None
    if arr.shape != (count, dims) or arr.dtype.kind not in "fiub":  # numbers only, no objects
        return None
    if arr.dtype.kind == "f" and type(vectors) is list and all(type(v) is list for v in vectors):
        return vectors
    rows: list[Vector] = arr.astype(np.float64, copy=False).tolist()
    return rows


def validate_fields(fields: Any, where: str) -> tuple[str, ...]:
    """Check a list of field paths (index config ``fields`` or ``put(index=[...])``)."""
    if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
        raise ConfigError(f"{where} must be a list of field paths like ['text'], got {fields!r}")
    for field in fields:
        parse_field_path(field)
    return tuple(fields)


def normalize_index(index: Mapping[str, Any] | None) -> IndexSpec | None:
    """Validate an ``IndexConfig`` (``dims``, ``embed``, optional ``fields``, default ``["$"]``)."""
    if index is None:
        return None
    if not isinstance(index, Mapping):
        raise ConfigError(f"index must be a dict with dims, embed and fields, got {index!r}")
    dims = index.get("dims")
    if not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0:
        raise ConfigError(f"index dims={dims!r}: give the embedding size as a positive int")
    if index.get("embed") is None:
        raise ConfigError("index has no 'embed': pass an embedding function or Embeddings object")
    embedder = ensure_embeddings(index["embed"])
    raw_fields = index.get("fields")
    fields = validate_fields(["$"] if raw_fields is None else raw_fields, "index fields")
    paths = {f: parse_field_path(f) for f in fields}
    keyword_language(index)  # validates the hybrid-search keys ("hybrid", "language")
    config = {**index, "dims": dims, "fields": list(fields)}
    return IndexSpec(dims, embedder, fields, paths, config)
