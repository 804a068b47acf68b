"""``waypoint migrate --from langgraph+...``: the store half (items and their vectors).

The threads move through ``_transfer.migrate``; this copies LangGraph's ``store`` and
``store_vectors`` tables into the target's waypoint store with
:func:`waypoint.store.langgraph_db.copy_store`, vectors copied unchanged (the target's index gets
the source's dims), every item read back and compared.
"""

from __future__ import annotations

from typing import Any, Callable

from waypoint.cli._urls import CliError, open_langgraph_store, open_store


def migrate_store(src_url: str, dst_url: str, *, dry_run: bool = False,
                  progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """Copy a LangGraph database's store into ``dst_url``'s store; ``{"items", "vectors",
    "expired", "verified"}`` (``dry_run``: the source's counts, nothing written)."""
    from waypoint.errors import ConfigError, StorageError
    from waypoint.store.langgraph_db import copy_store, replay_index

    with open_langgraph_store(src_url) as reader:
        items, vectors = reader.counts()
        if dry_run or not items:
            return {"items": items, "vectors": vectors, "expired": 0, "verified": 0}
        dims = reader.dims()
        try:
            with open_store(dst_url, create=True, index=replay_index(dims) if dims else None) as store:
                return copy_store(reader, store, vectors="copy" if dims else "skip", progress=progress)
        except (ConfigError, StorageError) as exc:
            raise CliError(f"store migration failed: {str(exc).splitlines()[0]}") from None


__all__ = ["migrate_store"]
