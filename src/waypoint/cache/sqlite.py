"""``SqliteCache``: a cache in a SQLite file, shared by processes using the same path."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

from waypoint import _sqlite
from waypoint._process import ForkAware
from waypoint.cache import _ttl
from waypoint.cache._ttl import expired, expiry
from waypoint.cache.base import BaseCache, FullKey, Namespace, ValueT
from waypoint.checkpoint.serde.base import SerializerProtocol

__all__ = ["SqliteCache"]

_OWNER = "SqliteCache"
_SCHEMA = """CREATE TABLE IF NOT EXISTS waypoint_cache (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    expiry REAL,
    type TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (ns, key)
)"""
_CHUNK = 400  # (ns, key) pairs per SELECT: 800 parameters, under every SQLite build's limit


def _ns_text(ns: Sequence[str]) -> str:
    return json.dumps(list(ns), separators=(",", ":"))


class SqliteCache(ForkAware, BaseCache[ValueT]):
    """``SqliteCache(path="cache.db")``: entries in table ``waypoint_cache`` of that file
    (created when missing); expired entries are skipped on read and deleted.

    One connection per instance (WAL journal, 30 s busy timeout), used under a lock; async
    methods run the sync ones in a worker thread. A forked child reopens the file itself.
    """

    def __init__(self, *, path: str | PathLike[str], serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.path = str(path)
        self.lock = threading.RLock()
        self.conn = self._open()
        self._watch_fork()

    def _open(self) -> Any:
        conn = _sqlite.open_connection(self.path)
        _sqlite.configure(conn, _OWNER)
        with _sqlite.guarded(_OWNER):
            conn.execute(_SCHEMA)
        return conn

    def _after_fork(self) -> None:
        self.conn = self._open()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        out: dict[FullKey, ValueT] = {}
        if not keys:
            return out
        wanted = {(_ns_text(ns), key): (tuple(ns), key) for ns, key in keys}
        pairs = list(wanted)
        rows: list[tuple[Any, ...]] = []
        with self.lock, _sqlite.guarded(_OWNER):
            self._check_fork()
            for i in range(0, len(pairs), _CHUNK):
                chunk = pairs[i : i + _CHUNK]
                marks = ",".join("(?, ?)" for _ in chunk)
                params = [p for pair in chunk for p in pair]
                rows.extend(self.conn.execute(
                    "SELECT ns, key, expiry, type, value FROM waypoint_cache "
                    f"WHERE (ns, key) IN (VALUES {marks})", params,
                ).fetchall())
            now = _ttl.now()
            stale = [(ns, key) for ns, key, at, _t, _v in rows if expired(at, now)]
            if stale:
                self.conn.executemany("DELETE FROM waypoint_cache WHERE ns = ? AND key = ?", stale)
        for ns, key, at, tag, raw in rows:
            if not expired(at, now):
                out[wanted[(ns, key)]] = self.serde.loads_typed((tag, raw))
        return out

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        return await asyncio.to_thread(self.get, keys)

    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        rows = [(_ns_text(ns), key, expiry(ttl), *self.serde.dumps_typed(value))
                for (ns, key), (value, ttl) in pairs.items()]
        if not rows:
            return
        with self.lock, _sqlite.guarded(_OWNER):
            self._check_fork()
            with _sqlite.transaction(self.conn, "BEGIN IMMEDIATE", _OWNER):
                self.conn.executemany(
                    "INSERT OR REPLACE INTO waypoint_cache (ns, key, expiry, type, value) "
                    "VALUES (?, ?, ?, ?, ?)", rows,
                )

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        await asyncio.to_thread(self.set, pairs)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self.lock, _sqlite.guarded(_OWNER):
            self._check_fork()
            if namespaces is None:
                self.conn.execute("DELETE FROM waypoint_cache")
            else:
                self.conn.executemany(
                    "DELETE FROM waypoint_cache WHERE ns = ?", [(_ns_text(ns),) for ns in namespaces]
                )

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        await asyncio.to_thread(self.clear, namespaces)

    def close(self) -> None:
        """Close the connection (the file and its entries stay)."""
        with self.lock:
            self.conn.close()
