"""Copy the long-term memory of a LangGraph database into a waypoint store.

LangGraph's ``SqliteStore`` and ``PostgresStore`` keep items in a ``store`` table (``prefix`` =
the namespace joined by ``.``, ``key``, ``value`` JSON, ``created_at``, ``updated_at``,
``expires_at``, ``ttl_minutes``) and their embeddings in ``store_vectors`` (one row per
``(prefix, key, field_name)``: a float32 blob for sqlite-vec, a pgvector ``vector`` for
PostgreSQL). ``LangGraphSqliteStoreReader`` / ``LangGraphPostgresStoreReader`` read both, read-only,
in pages; :func:`copy_store` writes every live item through a waypoint store's ``batch`` and
reads each one back.

Vectors are copied, not recomputed: the target store is opened with an index whose embedder is
a :class:`VectorReplay`, which hands each text of a put the vector LangGraph stored for it (the
text is only the routing key, so nothing is sent to an embedding model and the target ranks
exactly as the source did). A store opened with your own index (another model or dims) gets
``vectors="embed"``: every item is embedded again by that store. Nothing here imports ``langgraph``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple

from waypoint.errors import ConfigError, StorageError
from waypoint.store._embed import get_text_at_path
from waypoint.store._items import GetOp, PutOp

PAGE = 500
"""Items read from the source per round trip (and written per target batch at most)."""

TIME_SLACK = timedelta(milliseconds=1)  # MongoDB keeps milliseconds


class StoreCopyError(StorageError):
    """An item or vector of a LangGraph store could not be copied or did not read back equal."""


class LangGraphItem(NamedTuple):
    """One row of LangGraph's ``store`` table with its vectors ``[(field_name, vector)]``."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    ttl_minutes: float | None
    vectors: list[tuple[str, list[float]]]


def _time(raw: Any) -> datetime | None:
    """LangGraph's timestamps: datetimes (PostgreSQL) or text such as ``2026-01-02 03:04:05``
    (SQLite's CURRENT_TIMESTAMP, UTC) or an ISO string with an offset."""
    if raw is None:
        return None
    when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


class _StoreReader(ABC):
    """Pages of ``LangGraphItem`` in (prefix, key) order; backends supply ``_fetch`` and the
    vector decoding."""

    mark = "?"
    vector_sql = "embedding"

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """The rows of ``sql`` (placeholders in ``mark`` style) on the source database."""

    @abstractmethod
    def _has_table(self, name: str) -> bool:
        """Whether the source database has table ``name``."""

    @abstractmethod
    def _vector(self, raw: Any) -> list[float]:
        """One stored embedding (as ``vector_sql`` selects it) as a list of floats."""

    def has_store(self) -> bool:
        """Whether the database holds LangGraph's ``store`` table."""
        return self._has_table("store")

    def counts(self) -> tuple[int, int]:
        """``(items, vectors)`` in the source, expired items included."""
        if not self.has_store():
            return 0, 0
        [(items,)] = self._fetch("SELECT count(*) FROM store", ())
        vectors = self._fetch("SELECT count(*) FROM store_vectors", ())[0][0] if self._has_table("store_vectors") else 0
        return int(items), int(vectors)

    def dims(self) -> int | None:
        """The size of the stored vectors (None without any)."""
        if not self._has_table("store_vectors"):
            return None
        rows = self._fetch(f"SELECT {self.vector_sql} FROM store_vectors WHERE embedding IS NOT NULL LIMIT 1", ())
        return len(self._vector(rows[0][0])) if rows else None

    def pages(self, size: int = PAGE) -> Iterator[list[LangGraphItem]]:
        """Every item, ``size`` per page, each with its vectors (one query each per page)."""
        if not self.has_store():
            return
        m, vectors = self.mark, self._has_table("store_vectors")
        after: tuple[str, str] | None = None
        while True:
            where = f"WHERE (prefix, key) > ({m}, {m}) " if after else ""
            rows = self._fetch(
                "SELECT prefix, key, value, created_at, updated_at, expires_at, ttl_minutes FROM store "
                f"{where}ORDER BY prefix, key LIMIT {int(size)}", after or ())
            if not rows:
                return
            first, last = (rows[0][0], rows[0][1]), (rows[-1][0], rows[-1][1])
            found: dict[tuple[str, str], list[tuple[str, list[float]]]] = {}
            if vectors:
                for prefix, key, field, emb in self._fetch(
                    f"SELECT prefix, key, field_name, {self.vector_sql} FROM store_vectors WHERE "
                    f"(prefix, key) >= ({m}, {m}) AND (prefix, key) <= ({m}, {m}) AND embedding IS NOT NULL "
                    "ORDER BY prefix, key, field_name", (*first, *last)):
                    found.setdefault((prefix, key), []).append((field, self._vector(emb)))
            yield [self._item(row, found.get((row[0], row[1]), [])) for row in rows]
            if len(rows) < size:
                return
            after = last

    def _item(self, row: Sequence[Any], vectors: list[tuple[str, list[float]]]) -> LangGraphItem:
        prefix, key, value, created, updated, expires, ttl = row
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).decode()
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise StoreCopyError(f"LangGraph store item {prefix!r}/{key!r} holds a {type(value).__name__}, not a JSON object")
        return LangGraphItem(
            tuple(prefix.split(".")), key, value, _time(created) or _time(updated),  # type: ignore[arg-type]
            _time(updated) or _time(created), _time(expires), None if ttl is None else float(ttl), vectors)


class LangGraphSqliteStoreReader(_StoreReader):
    """Reads the tables of LangGraph's ``SqliteStore`` (vectors are sqlite-vec float32 blobs).

    Opened read-only; ``path`` may also be an open ``sqlite3`` connection."""

    def __init__(self, path: Any) -> None:
        self._own = isinstance(path, str)
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False) if self._own else path

    def close(self) -> None:
        if self._own:
            self.conn.close()

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(sql, list(params)).fetchall()

    def _has_table(self, name: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def _vector(self, raw: Any) -> list[float]:
        data = bytes(raw)
        return list(struct.unpack(f"<{len(data) // 4}f", data))


class LangGraphPostgresStoreReader(_StoreReader):
    """Reads the tables of LangGraph's ``PostgresStore`` over an open psycopg connection
    (vectors are pgvector ``vector``/``halfvec`` values, read as text)."""

    mark = "%s"
    vector_sql = "embedding::text"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(sql, list(params)).fetchall()

    def _has_table(self, name: str) -> bool:
        return self._fetch("SELECT to_regclass(%s)", (name,))[0][0] is not None

    def _vector(self, raw: Any) -> list[float]:
        return [float(x) for x in json.loads(raw)]


# --- vectors ------------------------------------------------------------------------------------

_ELEMENT = re.compile(r"^(?P<path>.*\[\*\].*)\.(?P<n>\d+)$")


def waypoint_field(field_name: str) -> tuple[str, int]:
    """LangGraph's vector ``field_name`` as a waypoint field path and the position of its text
    among the path's texts: ``tags[*].1`` -> ``("tags[*]", 1)``, ``text`` -> ``("text", 0)``."""
    m = _ELEMENT.match(field_name)
    return (m.group("path"), int(m.group("n"))) if m else (field_name, 0)


class VectorReplay:
    """The embedder of a store that receives copied vectors: each text of a put maps to the
    vector the source stored for it (registered per batch). Search queries cannot be embedded:
    open the store again with your model to search."""

    def __init__(self) -> None:
        self.table: dict[str, list[float]] = {}
        self.served = 0

    def register(self, item: LangGraphItem) -> list[str] | Literal[False]:
        """Route the item's vectors; returns the put's ``index`` (its field paths, or False)."""
        paths: list[str] = []
        for field, vector in item.vectors:
            path, n = waypoint_field(field)
            texts = get_text_at_path(item.value, path)
            if n >= len(texts):
                raise StoreCopyError(
                    f"LangGraph store item {item.namespace!r}/{item.key!r} has a vector for field "
                    f"{field!r}, but its value has no text there; nothing was written for it")
            self.table[texts[n]] = vector
            if path not in paths:
                paths.append(path)
        return paths or False

    def collides(self, item: LangGraphItem) -> bool:
        """Whether one of the item's texts is already routed to another vector in this batch."""
        for field, vector in item.vectors:
            path, n = waypoint_field(field)
            texts = get_text_at_path(item.value, path)
            if n < len(texts) and self.table.get(texts[n], vector) != vector:
                return True
        return False

    def __call__(self, texts: list[str]) -> list[list[float]]:
        try:
            out = [self.table[t] for t in texts]
        except KeyError as exc:
            raise StoreCopyError(f"no copied vector for the text {str(exc)[:80]}: the source embedded other fields") from None
        self.served += len(out)
        return out


# --- the copy -----------------------------------------------------------------------------------


@contextmanager
def _clock(store: Any, when: datetime) -> Iterator[None]:
    """Run the store's writes as of ``when`` (so an item keeps LangGraph's timestamps). The
    SQL stores read ``_clock``; the MongoDB store its context's ``clock``."""
    fixed: Callable[[], datetime] = lambda: when  # noqa: E731
    if hasattr(store, "_ctx"):
        old = store._ctx
        store._ctx = replace(old, clock=fixed)
        try:
            yield
        finally:
            store._ctx = old
    else:
        old = store._clock
        store._clock = fixed
        try:
            yield
        finally:
            store._clock = old


def _grouped(items: list[LangGraphItem], when: Callable[[LangGraphItem], datetime]) -> Iterator[tuple[datetime, list[LangGraphItem]]]:
    groups: dict[datetime, list[LangGraphItem]] = {}
    for item in items:
        groups.setdefault(when(item), []).append(item)
    yield from sorted(groups.items(), key=lambda g: g[0])


def _put_current(store: Any, items: list[LangGraphItem], replay: VectorReplay | None, embed: bool) -> None:
    """Put each item's value, TTL and vectors as of its ``updated_at`` (one batch per run of
    items whose texts route to one vector each)."""
    batch: list[PutOp] = []

    def flush() -> None:
        if batch:
            store.batch(batch)
            batch.clear()
            if replay is not None:
                replay.table.clear()

    for item in items:
        if replay is not None:
            if replay.collides(item):
                flush()
            index: Any = replay.register(item)
        else:
            index = None if embed else False
        batch.append(PutOp(item.namespace, item.key, item.value, index, item.ttl_minutes))
    flush()


STEP_BACK = timedelta(milliseconds=2)  # a refresh read happens this long before the expiry


def _refresh_expiry(store: Any, items: list[LangGraphItem]) -> None:
    """Give items LangGraph's expiry, which reads moved past ``updated_at + ttl``.

    A waypoint read at time ``t`` moves a live item's expiry to ``t + ttl``, and sees the item
    only while it is live; so the expiry is walked forward by reads less than one TTL apart:
    one read when the last read came within a TTL of the last write, more for longer gaps."""
    current = {n: i.updated_at + timedelta(minutes=i.ttl_minutes or 0) for n, i in enumerate(items)}
    while current:
        steps: dict[datetime, list[int]] = {}
        for n, expiry in current.items():
            item = items[n]
            goal = item.expires_at - timedelta(minutes=item.ttl_minutes or 0)  # type: ignore[operator]
            steps.setdefault(min(goal, expiry - STEP_BACK), []).append(n)
        for when, group in sorted(steps.items()):
            with _clock(store, when):
                store.batch([GetOp(items[n].namespace, items[n].key, refresh_ttl=True) for n in group])
            for n in group:
                item = items[n]
                if when >= item.expires_at - timedelta(minutes=item.ttl_minutes or 0):  # type: ignore[operator]
                    del current[n]
                else:
                    current[n] = when + timedelta(minutes=item.ttl_minutes or 0)


def _same_time(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= TIME_SLACK


def _verify(store: Any, items: list[LangGraphItem]) -> None:
    got = store.batch([GetOp(i.namespace, i.key, refresh_ttl=False) for i in items])
    for item, back in zip(items, got):
        where = f"LangGraph store item {item.namespace!r}/{item.key!r}"
        if back is None:
            raise StoreCopyError(f"{where} was written but does not read back")
        if back.value != item.value:
            raise StoreCopyError(f"{where} reads back a different value")
        if not (_same_time(back.created_at, item.created_at) and _same_time(back.updated_at, item.updated_at)):
            raise StoreCopyError(f"{where} reads back other timestamps ({back.created_at}, {back.updated_at})")


def copy_store(
    reader: _StoreReader, store: Any, *, vectors: Literal["copy", "embed", "skip"] = "copy",
    progress: Callable[..., None] | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Copy every live item of a LangGraph store into ``store`` and read each one back.

    ``vectors="copy"``: ``store`` must have been opened with ``index={"dims": ..., "embed":
    VectorReplay()}`` (see :func:`replay_index`); every stored vector lands unchanged.
    ``"embed"``: ``store`` has your own index and embeds each item again with its fields.
    ``"skip"``: items only. Items keep ``created_at``/``updated_at`` and their TTL (with
    LangGraph's expiry); items already expired are not copied. Existing keys are replaced.
    Returns ``{"items", "vectors", "expired", "verified"}``.
    """
    replay = None
    if vectors == "copy":
        replay = _replay_of(store)
        if replay is None:
            raise ConfigError("vectors='copy' needs a store opened with index=replay_index(dims)")
    elif vectors == "embed" and _index_of(store) is None:
        raise ConfigError("vectors='embed' needs a store opened with an index (dims, embed, fields)")
    now = now or datetime.now(timezone.utc)
    counts = {"items": 0, "vectors": 0, "expired": 0, "verified": 0}
    for page in reader.pages():
        live = [i for i in page if i.expires_at is None or i.expires_at > now]
        counts["expired"] += len(page) - len(live)
        for when, group in _grouped([i for i in live if i.created_at != i.updated_at], lambda i: i.created_at):
            with _clock(store, when):  # the first write fixes created_at
                store.batch([PutOp(i.namespace, i.key, i.value, False, None) for i in group])
        for when, group in _grouped(live, lambda i: i.updated_at):
            with _clock(store, when):
                _put_current(store, group, replay, vectors == "embed")
        refresh = [i for i in live if i.expires_at is not None and i.ttl_minutes is not None
                   and not _same_time(i.expires_at, i.updated_at + timedelta(minutes=i.ttl_minutes))]
        _refresh_expiry(store, refresh)
        _verify(store, live)
        counts["items"] += len(live)
        counts["verified"] += len(live)
        counts["vectors"] += sum(len(i.vectors) for i in live)
        if progress:
            progress(f"{counts['items']} store item(s)", len(live))
    if replay is not None and replay.served != counts["vectors"]:
        raise StoreCopyError(f"{counts['vectors']} vector(s) read from LangGraph but {replay.served} written")
    return counts


def _index_of(store: Any) -> Any:
    return getattr(store, "_index", None) or getattr(getattr(store, "_ctx", None), "index", None)


def _replay_of(store: Any) -> VectorReplay | None:
    index = _index_of(store)
    source = getattr(getattr(index, "embedder", None), "source", None)
    return source if isinstance(source, VectorReplay) else None


def replay_index(dims: int) -> dict[str, Any]:
    """The ``index`` to open a target store with for ``copy_store(..., vectors="copy")``."""
    return {"dims": dims, "embed": VectorReplay(), "fields": ["$"]}


__all__ = [
    "LangGraphItem", "LangGraphPostgresStoreReader", "LangGraphSqliteStoreReader", "StoreCopyError",
    "VectorReplay", "copy_store", "replay_index", "waypoint_field",
]
