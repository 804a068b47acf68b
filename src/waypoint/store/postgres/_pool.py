"""``PoolConfig``: LangGraph's connection-pool settings for ``from_conn_string``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from waypoint.errors import ConfigError


class PoolConfig(TypedDict, total=False):
    """Settings of the pool ``from_conn_string(pool_config=...)`` opens instead of one
    connection: ``min_size`` (default 1), ``max_size`` (default: ``min_size``), ``kwargs``
    (extra ``connect()`` arguments for each connection); any other key is passed to
    ``psycopg_pool.ConnectionPool`` / ``AsyncConnectionPool`` as is (e.g. ``timeout``)."""

    min_size: int
    max_size: int | None
    kwargs: dict[str, Any]


def pool_arguments(pool_config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for psycopg_pool's pool classes from a ``PoolConfig``: connections
    are opened in autocommit mode (waypoint runs its own transactions) unless ``kwargs`` say
    otherwise."""
    if not isinstance(pool_config, Mapping):
        raise ConfigError(f"pool_config must be a dict (PoolConfig), got {pool_config!r}")
    pc = dict(pool_config)
    kwargs = pc.pop("kwargs", None) or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"pool_config kwargs must be a dict of connect() arguments, got {kwargs!r}")
    return {
        "min_size": pc.pop("min_size", 1),
        "max_size": pc.pop("max_size", None),
        "kwargs": {"autocommit": True, **kwargs},
        "open": False,  # opened explicitly by from_conn_string, closed on exit
        **pc,
    }


__all__ = ["PoolConfig", "pool_arguments"]
