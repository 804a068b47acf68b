"""The data of each page, read through the saver and store APIs the ``waypoint`` command uses
(``cli._inspect`` / ``cli._walk``); no queries of its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.cli import _inspect, _listing, _walk
from waypoint.cli._inspect import INTERRUPT, ids
from waypoint.errors import CheckpointReadError
from waypoint.ui import _tree, _values

THREADS_PER_PAGE = 25
HISTORY_PER_PAGE = 200


def parse_filter(text: str) -> dict[str, Any]:
    """``key=value`` pairs separated by spaces or commas; a value that parses as JSON is taken
    as such (``step=3``, ``tier=2``, ``user="bob"``)."""
    out: dict[str, Any] = {}
    for pair in text.replace(",", " ").split():
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"metadata filter expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def thread_rows(saver: BaseCheckpointSaver, *, after: str | None, q: str, filter: Mapping[str, Any]) -> dict[str, Any]:
    """One page of threads, most recently updated first (keyset paging by the database over
    its thread summary), each with its newest checkpoint summarized from its row, pending
    writes' channels and trigger channels: no thread's state is read."""
    page = _walk.summaries(
        saver, after=_listing.decode_cursor(after), limit=THREADS_PER_PAGE + 1, contains=q or None, filter=filter
    )
    more = len(page) > THREADS_PER_PAGE
    page = page[:THREADS_PER_PAGE]
    rows = []
    for s in page:
        row: dict[str, Any] = {"thread_id": s.thread_id}
        if isinstance(s.error, CheckpointReadError):
            row["error"] = _values.unreadable(s.error)
            rows.append(row)
            continue
        if s.error is not None:
            raise s.error
        t = s.latest
        if t is None:
            continue
        meta = t.metadata or {}
        row.update(
            checkpoint_id=ids(t)[2], step=meta.get("step"), next=list(_inspect.next_nodes(t)),
            interrupts=sum(1 for _, ch, _ in t.pending_writes or () if ch == INTERRUPT),
            bytes=s.bytes, updated_at=str(t.checkpoint.get("ts", ""))[:19].replace("T", " "),
            metadata={k: v for k, v in meta.items() if k not in ("parents", "step", "source", "writes")},
        )
        rows.append(row)
    last = page[-1] if more and page else None
    return {"rows": rows, "next_after": _listing.encode_cursor(last.newest_id, last.thread_id) if last else None}


def history(saver: BaseCheckpointSaver, thread_id: str, ns: str, before: str | None) -> dict[str, Any]:
    """The newest ``HISTORY_PER_PAGE`` checkpoints (older than ``before``) laid out as a tree;
    values are not read."""
    headers = _walk.headers(saver, thread_id, ns, before=before or None, limit=HISTORY_PER_PAGE + 1)
    more = len(headers) > HISTORY_PER_PAGE
    headers = headers[:HISTORY_PER_PAGE]
    tree = _tree.layout(headers)
    return {
        "tree": tree,
        "newest": tree.nodes[0].checkpoint_id if tree.nodes and not before else None,
        "older": tree.nodes[-1].checkpoint_id if more and tree.nodes else None,
    }


def checkpoint(saver: BaseCheckpointSaver, thread_id: str, ns: str, checkpoint_id: str | None) -> dict[str, Any]:
    """Every channel value, tasks, pending writes, interrupts, metadata and config."""
    t = _inspect.resolve(saver, thread_id, checkpoint_id, ns)
    data = _inspect.show(t)
    internal = {k: v for k, v in t.checkpoint["channel_values"].items() if _inspect.is_internal(k)}
    data["channels"] = [_values.channel(k, v) for k, v in sorted(data["values"].items())]
    data["internal"] = [_values.channel(k, v) for k, v in sorted(internal.items())]
    data["config_text"] = json.dumps(t.config, indent=2)
    data["metadata_text"] = _values.pretty(data["metadata"])
    data["pending"] = [{**w, "text": _values.pretty(w["value"])} for w in data["pending_writes"]]
    data["interrupt_views"] = [{**i, "text": _values.pretty(i["value"])} for i in data["interrupts"]]
    data["task_views"] = [
        {**task, "error_text": None if task["error"] is None else _values.pretty(task["error"]),
         "interrupt_texts": [_values.pretty(getattr(i, "value", i)) for i in task["interrupts"]]}
        for task in data["tasks"]
    ]
    return data


def diff(saver: BaseCheckpointSaver, thread_id: str, ns: str, a: str, b: str) -> dict[str, Any]:
    """The CLI's ``diff`` of checkpoints ``a`` and ``b``, with each side's text."""
    ta, tb = _inspect.resolve(saver, thread_id, a, ns), _inspect.resolve(saver, thread_id, b, ns)
    data = _inspect.diff(saver, ta, tb)
    va, vb = ta.checkpoint["channel_values"], tb.checkpoint["channel_values"]
    for c in data["channels"]:
        d = c["diff"]
        if d["kind"] == "list":
            c["common"] = d["common_prefix"]
            c["left"] = _values.pretty(d["removed"])
            c["right"] = _values.pretty(d["added"])
        else:
            c["left"] = "" if c["channel"] not in va else _values.pretty(va[c["channel"]])
            c["right"] = "" if c["channel"] not in vb else _values.pretty(vb[c["channel"]])
    return data


# --- store -------------------------------------------------------------------------------------


def namespace_tree(namespaces: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    """Namespaces as nested ``{label, path, children}`` nodes."""
    root: dict[str, Any] = {"children": {}}
    for ns in sorted(namespaces):
        node = root
        for i, label in enumerate(ns):
            node = node["children"].setdefault(label, {"label": label, "path": ".".join(ns[: i + 1]), "children": {}})

    def flatten(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**child, "children": flatten(child)} for child in node["children"].values()]

    return flatten(root)


def store_page(store: Any, namespace: str, query: str, filter: Mapping[str, Any], offset: int, limit: int = 50) -> dict[str, Any]:
    """Namespaces, and the items under ``namespace`` (a prefix) matching ``filter`` and, when
    the store has an index, ranked by ``query``."""
    prefix = tuple(p for p in namespace.split(".") if p)
    namespaces = store.list_namespaces(limit=1000)
    indexed = getattr(store, "index_config", None) is not None
    if query and not indexed:
        raise ValueError("this store has no vector index: semantic search needs one (filter by namespace or value instead)")
    items = store.search(prefix, query=query or None, filter=dict(filter) or None, limit=limit + 1, offset=offset)
    more = len(items) > limit
    return {
        "tree": namespace_tree([tuple(n) for n in namespaces]),
        "indexed": indexed,
        "items": [
            {
                "namespace": ".".join(it.namespace), "key": it.key, "text": _values.pretty(it.value),
                "created_at": str(it.created_at)[:19], "updated_at": str(it.updated_at)[:19],
                "score": getattr(it, "score", None),
            }
            for it in items[:limit]
        ],
        "next_offset": offset + limit if more else None,
    }


__all__ = ["checkpoint", "diff", "history", "parse_filter", "store_page", "thread_rows"]
