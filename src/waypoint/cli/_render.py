"""Output: Rich tables and trees for people, ``--json`` for scripts.

``jsonable`` turns any decoded checkpoint value into JSON-safe data (dataclasses and pydantic
models as dicts, sets and tuples as lists, datetimes as ISO strings, bytes as base64, anything
else as its repr), so ``--json`` never fails on a value it cannot represent exactly.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from waypoint.cli._inspect import CheckpointRow, is_internal


def console(stderr: bool = False) -> Console:
    """A console that is 160 columns wide when not on a terminal (unless COLUMNS says)."""
    stream = sys.stderr if stderr else sys.stdout
    width = int(os.environ.get("COLUMNS") or 0) or (None if stream.isatty() else 160)
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if hasattr(value, "_asdict"):
        return jsonable(value._asdict())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return jsonable(dump(mode="json"))
        except Exception:
            pass
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        try:
            return [jsonable(v) for v in value]
        except Exception:
            pass
    if type(value).__module__ in ("uuid", "decimal", "pathlib", "zoneinfo") or hasattr(value, "__fspath__"):
        return str(value)
    return repr(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _writes_text(writes: list[dict[str, str]]) -> str:
    by_node: dict[str, list[str]] = {}
    for w in writes:
        if not is_internal(w["channel"]):
            by_node.setdefault(w["node"], []).append(w["channel"])
    return "; ".join(f"{node}: {', '.join(dict.fromkeys(chs))}" for node, chs in by_node.items())


def threads_table(rows: list[dict[str, Any]], total: int | None, cursor: str | None) -> None:
    title = f"{len(rows)} of {total} thread(s)" if total is not None else f"{len(rows)} thread(s)"
    table = Table(title=title, title_justify="left")
    for name, justify in (("thread", "left"), ("checkpoints", "right"), ("step", "right"), ("next", "left"), ("updated at", "left"), ("bytes", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            escape(r["thread_id"]), str(r["checkpoints"]), "" if r["latest_step"] is None else str(r["latest_step"]),
            escape(", ".join(r["next"])), r["updated_at"][:19].replace("T", " "), human_bytes(r["bytes"]),
        )
    console().print(table)
    if cursor is not None:
        console().print(f"more: --after {cursor}", markup=False, highlight=False)


def row_json(r: CheckpointRow) -> dict[str, Any]:
    return {
        "checkpoint_id": r.checkpoint_id, "parent_id": r.parent_id, "checkpoint_ns": r.ns, "step": r.step,
        "source": r.source, "created_at": r.ts, "next": list(r.next), "writes": r.writes,
        "bytes": r.bytes, "channel_bytes": r.channel_bytes, "write_bytes": r.write_bytes,
    }


def history_table(thread_id: str, rows: list[CheckpointRow]) -> None:
    table = Table(title=f"thread {escape(thread_id)}: {len(rows)} checkpoint(s), newest first", title_justify="left")
    for name, justify in (("step", "right"), ("checkpoint", "left"), ("source", "left"), ("next", "left"), ("writes", "left"), ("bytes", "right")):
        table.add_column(name, justify=justify, no_wrap=name in ("checkpoint", "bytes"))  # type: ignore[arg-type]
    for r in rows:
        table.add_row(str(r.step), r.checkpoint_id, r.source, escape(", ".join(r.next)), escape(_writes_text(r.writes)), human_bytes(r.bytes))
    console().print(table)


def show_tree(data: dict[str, Any]) -> None:
    tree = Tree(
        f"[bold]thread {escape(data['thread_id'])}[/bold]  checkpoint {data['checkpoint_id']}  "
        f"step {data['step']} ({escape(str(data['source']))})  {data['created_at']}"
    )
    values = tree.add("[bold]values[/bold]")
    for channel, value in data["values"].items():
        values.add(f"[cyan]{escape(channel)}[/cyan] = " + escape(_short(value, 2000)))
    tree.add(f"[bold]next[/bold]: {escape(', '.join(data['next'])) or '()'}")
    tasks = tree.add(f"[bold]tasks[/bold] ({len(data['tasks'])})")
    for t in data["tasks"]:
        node = tasks.add(f"{escape(t['name'])} [dim]{t['id']}[/dim]")
        for i in t["interrupts"]:
            node.add(f"[yellow]interrupt[/yellow] {escape(_short(getattr(i, 'value', i), 200))}")
        if t["error"] is not None:
            node.add(f"[red]error[/red] {escape(_short(t['error'], 200))}")
        if t["writes"]:
            node.add("wrote " + escape(", ".join(t["writes"])))
    writes = tree.add(f"[bold]pending writes[/bold] ({len(data['pending_writes'])})")
    for w in data["pending_writes"]:
        writes.add(f"{escape(w['node'])} → {escape(w['channel'])} = {escape(_short(w['value'], 120))}")
    interrupts = tree.add(f"[bold]interrupts[/bold] ({len(data['interrupts'])})")
    for i in data["interrupts"]:
        interrupts.add(f"{escape(str(i['node']))} [dim]{i['id']}[/dim]: {escape(_short(i['value'], 200))}")
    console().print(tree)


def diff_tree(data: dict[str, Any]) -> None:
    tree = Tree(
        f"[bold]thread {escape(data['thread_id'])}[/bold]  {data['from']} (step {data['from_step']}) → "
        f"{data['to']} (step {data['to_step']})  {len(data['channels'])} channel(s) changed"
    )
    if not data["lineage"]:
        tree.add("[dim]the first checkpoint is not an ancestor of the second: writers unknown[/dim]")
    for ch in data["channels"]:
        who = ", ".join(f"{w['node']}@{w['step']}" for w in ch["written_by"]) or "?"
        node = tree.add(f"[cyan]{escape(ch['channel'])}[/cyan] ({ch['change']}) written by {escape(who)}")
        d = ch["diff"]
        if d["kind"] == "list":
            for item in d["removed"]:
                node.add(f"[red]- {escape(_short(item, 200))}[/red]")
            for item in d["added"]:
                node.add(f"[green]+ {escape(_short(item, 200))}[/green]")
            if not d["removed"] and not d["added"]:
                node.add("[dim](same items)[/dim]")
        elif d["kind"] == "dict":
            for k, v in d["removed"].items():
                node.add(f"[red]- {escape(str(k))}: {escape(_short(v, 200))}[/red]")
            for k, v in d["added"].items():
                node.add(f"[green]+ {escape(str(k))}: {escape(_short(v, 200))}[/green]")
            for k, v in d["changed"].items():
                node.add(f"~ {escape(str(k))}: {escape(_short(v['before'], 90))} → {escape(_short(v['after'], 90))}")
        else:
            node.add(f"{escape(_short(d['before'], 120))} → {escape(_short(d['after'], 120))}")
    console().print(tree)


def stats_tables(data: dict[str, Any]) -> None:
    out = console()
    if "storage_bytes" in data:  # the counters' summary
        about = "about " if data["estimated"] else ""
        size = "" if data["storage_bytes"] is None else f", {human_bytes(data['storage_bytes'])} stored"
        out.print(f"{about}{data['threads']} thread(s), {about}{data['checkpoints']} checkpoint(s){size}")
        out.print(f"from {data['source']}; --scan for exact payload per thread, channel and day", markup=False, highlight=False)
        return
    out.print(f"{data['threads']} thread(s), {data['checkpoints']} checkpoint(s), {human_bytes(data['bytes'])} of serialized payload")
    for title, key, cols in (
        ("largest threads", "largest_threads", ("thread_id", "checkpoints", "bytes")),
        ("bytes per channel", "channels", ("channel", "bytes")),
        ("growth per day", "growth", ("day", "checkpoints", "bytes")),
    ):
        table = Table(title=title, title_justify="left")
        for c in cols:
            table.add_column(c.replace("_", " "), justify="left" if c in ("thread_id", "channel", "day") else "right")
        for r in data[key]:
            table.add_row(*(human_bytes(r[c]) if c == "bytes" else escape(str(r[c])) for c in cols))
        out.print(table)


def message(text: str) -> None:
    """A one-line result for people (stdout)."""
    console().print(text, markup=False, highlight=False)


__all__ = [
    "console", "diff_tree", "emit_json", "history_table", "human_bytes", "jsonable", "message",
    "row_json", "show_tree", "stats_tables", "threads_table",
]
