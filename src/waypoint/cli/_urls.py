"""Database URLs: ``sqlite:///path.db``, ``postgresql://...``, ``mongodb://...``.

``open_saver(url)`` / ``open_store(url)`` are context managers yielding a ready checkpoint saver
or store. Every failure a user can cause (an unknown scheme, a missing SQLite file, an
unreachable server) becomes one :class:`CliError` with a one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.checkpoint.serde.base import SerializerProtocol

SCHEMES = ("sqlite", "postgresql", "postgres", "mongodb", "mongodb+srv")
LANGGRAPH = "langgraph+"  # langgraph+sqlite:///old.db, langgraph+postgresql://...: LangGraph's tables, read-only
CONNECT_TIMEOUT_S = 5
DEFAULT_MONGO_DB = "checkpointing_db"


class CliError(click.ClickException):
    """An error reported as one line (``Error: ...``) with exit status 1."""


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL: ``kind`` is ``sqlite``, ``postgres`` or ``mongodb``."""

    raw: str
    kind: str
    target: str  # sqlite: the file path; others: the URL itself

    @property
    def redacted(self) -> str:
        return redact(self.raw)


def redact(url: str) -> str:
    """``url`` without its password (safe to print or record in an export header)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_url(url: str | None) -> DbUrl:
    """Parse a database URL; a missing or unknown one is a CliError naming the choices."""
    if not url:
        raise CliError("no database URL: pass --url or set WAYPOINT_URL (sqlite:///file.db, postgresql://..., mongodb://...)")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme.startswith(LANGGRAPH) and sep:
        inner = parse_url(url[len(LANGGRAPH):])
        if inner.kind == "mongodb":
            raise CliError("langgraph+ URLs read LangGraph's SQLite or PostgreSQL tables: use langgraph+sqlite:///old.db or langgraph+postgresql://...")
        return DbUrl(url, "langgraph-" + inner.kind, inner.target)
    if not sep or scheme not in SCHEMES:
        raise CliError(
            f"unknown database URL scheme in {redact(url)!r}: use sqlite:///path.db, "
            "postgresql://user@host/db or mongodb://host/db"
        )
    if scheme == "sqlite":
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db" (SQLAlchemy's convention)
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise CliError(f"no file in {url!r}: use sqlite:///path/to/file.db")
        return DbUrl(url, "sqlite", path)
    if scheme in ("postgresql", "postgres"):
        return DbUrl(url, "postgres", url)
    return DbUrl(url, "mongodb", url)


def make_serde() -> SerializerProtocol:
    """JsonPlusSerializer, wrapped in AES-GCM encryption when ``WAYPOINT_AES_KEY`` is set."""
    from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

    inner = JsonPlusSerializer()
    if os.environ.get("WAYPOINT_AES_KEY"):
        from waypoint.checkpoint.serde.encrypted import EncryptedSerializer

        return EncryptedSerializer(inner)
    return inner


def _sqlite_path(db: DbUrl, create: bool) -> str:
    path = Path(db.target)
    if not create and not path.exists():
        raise CliError(f"no such SQLite database file: {db.target}")
    if create and not path.parent.exists():
        raise CliError(f"directory does not exist for SQLite database: {path.parent}")
    return str(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _extra(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise CliError(f"{extra} support is not installed: pip install 'waypoint-graph[{extra}]'") from None


def _mongo_client(db: DbUrl) -> Any:
    _extra("pymongo", "mongodb")
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    options = {} if "serverselectiontimeoutms" in db.target.lower() else {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_S * 1000}
    try:
        client: Any = MongoClient(db.target, **options)
        client.admin.command("ping")
    except PyMongoError as exc:
        raise CliError(f"cannot connect to {db.redacted}: {_first_line(exc)}") from None
    return client


def _pg_connect(db: DbUrl) -> Any:
    _extra("psycopg", "postgres")
    import psycopg

    try:
        return psycopg.Connection.connect(db.target, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise CliError(f"cannot connect to {db.redacted}: {_first_line(exc)}") from None


def _mongo_db_name(db: DbUrl, default: str) -> str:
    from pymongo.uri_parser import parse_uri

    return parse_uri(db.target).get("database") or default


@contextmanager
def open_saver(url: str | None, *, create: bool = False) -> Iterator[BaseCheckpointSaver]:
    """A ready checkpoint saver for ``url``; ``create`` allows a new SQLite file."""
    db = parse_url(url)
    serde = make_serde()
    if db.kind.startswith("langgraph-"):
        yield from _open_langgraph(db, serde, create)
        return
    if db.kind == "sqlite":
        from waypoint.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(_sqlite_path(db, create), serde=serde) as saver:
            saver.setup()
            yield saver
    elif db.kind == "postgres":
        from waypoint.checkpoint.postgres import PostgresSaver

        with _pg_connect(db) as conn:
            saver = PostgresSaver(conn, serde=serde)
            saver.setup()
            yield saver
    else:
        from waypoint.checkpoint.mongodb import MongoDBSaver

        client = _mongo_client(db)
        try:
            saver = MongoDBSaver(client, _mongo_db_name(db, DEFAULT_MONGO_DB), serde=serde)
            saver.setup()
            yield saver
        finally:
            client.close()


def _open_langgraph(db: DbUrl, serde: SerializerProtocol, create: bool) -> Iterator[BaseCheckpointSaver]:
    """A read-only saver over a LangGraph database's own tables."""
    from waypoint.checkpoint.langgraph_db import LangGraphPostgresReader, LangGraphSqliteReader

    if create:
        raise CliError(f"{db.redacted} is a LangGraph database, read-only here: write to a waypoint URL (sqlite:///..., postgresql://..., mongodb://...)")
    if db.kind == "langgraph-sqlite":
        reader = LangGraphSqliteReader(_sqlite_path(db, False), serde=serde)
        try:
            yield reader
        finally:
            reader.close()
    else:
        with _pg_connect(db) as conn:
            yield LangGraphPostgresReader(conn, serde=serde)


def _store_class(db: DbUrl) -> Any:
    try:
        if db.kind == "sqlite":
            from waypoint.store.sqlite import SqliteStore

            return SqliteStore
        if db.kind == "postgres":
            from waypoint.store.postgres import PostgresStore

            return PostgresStore
        from waypoint.store.mongodb import MongoDBStore

        return MongoDBStore
    except ImportError as exc:
        raise CliError(f"the {db.kind} store is not available in this installation: {_first_line(exc)}") from None


@contextmanager
def open_store(url: str | None, *, create: bool = False, index: Any = None) -> Iterator[Any]:
    """A ready ``BaseStore`` for ``url`` (no TTL sweeper; ``index`` as the stores take it)."""
    db = parse_url(url)
    if db.kind.startswith("langgraph-"):
        raise CliError(f"{db.redacted} is a LangGraph database: its store is read by `waypoint migrate --from {db.redacted} --to <url>`")
    cls = _store_class(db)
    if db.kind == "sqlite":
        with cls.from_conn_string(_sqlite_path(db, create), index=index) as store:
            store.setup()
            yield store
    elif db.kind == "postgres":
        with _pg_connect(db) as conn:
            store = cls(conn, index=index)
            store.setup()
            yield store
    else:
        from waypoint.store.mongodb import DEFAULT_DB_NAME

        client = _mongo_client(db)
        try:
            store = cls(client, _mongo_db_name(db, DEFAULT_DB_NAME), index=index)
            store.setup()
            yield store
        finally:
            client.close()


@contextmanager
def open_langgraph_store(url: str) -> Iterator[Any]:
    """A read-only reader of the store tables of a ``langgraph+`` database URL."""
    from waypoint.store.langgraph_db import LangGraphPostgresStoreReader, LangGraphSqliteStoreReader

    db = parse_url(url)
    if db.kind == "langgraph-sqlite":
        reader = LangGraphSqliteStoreReader(_sqlite_path(db, False))
        try:
            yield reader
        finally:
            reader.close()
    else:
        with _pg_connect(db) as conn:
            yield LangGraphPostgresStoreReader(conn)


__all__ = ["CliError", "DbUrl", "make_serde", "open_langgraph_store", "open_saver", "open_store", "parse_url", "redact"]
