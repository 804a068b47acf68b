"""The ``waypoint`` commands (Click). Each command parses its options, opens the database, calls
the pure functions of ``_inspect`` / ``_transfer`` / ``_retention`` and renders the result."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import click

from waypoint.cli import _export, _inspect, _listing, _mainmod, _render, _retention, _transfer, _walk
from waypoint.cli._urls import CliError, make_serde, open_saver, open_store, parse_url
from waypoint.errors import CheckpointReadError

URL_HELP = "Database URL: sqlite:///file.db, postgresql://user@host/db or mongodb://host/db; langgraph+sqlite:///old.db or langgraph+postgresql://... reads a LangGraph database (read-only) (default: $WAYPOINT_URL)."


def _dist_version() -> str:
    """The installed distribution's version (``waypoint-graph``; ``waypoint`` in old installs)."""
    from importlib.metadata import PackageNotFoundError, version

    for name in ("waypoint-graph", "waypoint"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "unknown (not installed as a distribution)"


def _json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)


def _url(ctx: click.Context) -> str:
    return ctx.obj["url"]


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON (42, true, "x") is taken as such."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{option} expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _split(values: tuple[str, ...]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr when it is a terminal (nothing when piped); yields an
    ``advance(name, n=1)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[item]}"),
        console=_render.console(stderr=True), transient=True, disable=not sys.stderr.isatty(),
    )
    with bar:
        task = bar.add_task(label, total=total, item="")
        yield lambda name, n=1: bar.update(task, advance=n, item=name)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--url", "-u", envvar="WAYPOINT_URL", help=URL_HELP)
@click.option("--import", "-I", "modules", multiple=True, metavar="MODULE",
              help="Import MODULE first so its classes (dataclasses, models) in checkpoints can be decoded. Repeatable.")
@click.option("--main", "main_program", metavar="PROGRAM.py|MODULE",
              help="Load classes the writing program defined in its __main__ from this file or module (its "
                   "`if __name__ == '__main__'` block does not run).")
@click.version_option(version=_dist_version(), prog_name="waypoint")
@click.pass_context
def cli(ctx: click.Context, url: str | None, modules: tuple[str, ...], main_program: str | None) -> None:
    """Inspect, export, migrate and prune waypoint checkpoints.

    LangChain's messages and documents load without options; import your own classes with
    -I MODULE. Set the AES key in WAYPOINT_AES_KEY to read checkpoints written with
    EncryptedSerializer.
    """
    if (modules or main_program) and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # modules of the project the command runs in
    for name in ("waypoint.types", "waypoint.graph.message", *modules):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if name in modules:
                raise CliError(f"cannot import module {name!r}: {exc}") from None
    if main_program:
        _mainmod.adopt(main_program)
    ctx.obj = {"url": url}


# --- read commands -------------------------------------------------------------------------------


@cli.command()
@click.option("--filter", "-f", "filters", multiple=True, metavar="KEY=VALUE", help="Only threads with a checkpoint whose metadata has KEY=VALUE. Repeatable.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Threads per page.")
@click.option("--after", metavar="CURSOR", help="Start after this cursor (printed by the previous page).")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0), help="Threads to skip (costs as many rows as it skips; prefer --after).")
@click.option("--count", "with_count", is_flag=True, help="Also count every matching thread (an index-only count without --filter; with one, every thread is checked).")
@_json_option
@click.pass_context
def threads(ctx: click.Context, filters: tuple[str, ...], limit: int, after: str | None, offset: int, with_count: bool, as_json: bool) -> None:
    """List threads, most recently updated first: checkpoints, latest step, next nodes, last
    update and stored bytes.

    One page costs a few indexed queries, whatever the number of threads. Bytes are what the
    database stores for the thread (checkpoint rows, values, log chunks, pending writes).
    """
    damaged = _walk.Damaged()
    filter = parse_pairs(filters, "--filter")
    with open_saver(_url(ctx)) as saver:
        rows, cursor = _listing.threads(saver, filter, damaged, after=after, limit=limit, offset=offset)
        total = _listing.count_threads(saver, filter) if with_count else None
    if as_json:
        data: dict[str, Any] = {"limit": limit, "offset": offset, "after": after, "next": cursor, "threads": rows}
        if with_count:
            data["total"] = total
        _render.emit_json(data)
    else:
        _render.threads_table(rows, total, cursor)
    _walk.report(damaged)



@cli.command()
@click.argument("thread")
@click.option("--ns", default="", help="Checkpoint namespace (a subgraph's); default: the root graph.")
@click.option("--limit", type=click.IntRange(min=1), help="Show only the newest N checkpoints.")
@_json_option
@click.pass_context
def history(ctx: click.Context, thread: str, ns: str, limit: int | None, as_json: bool) -> None:
    """A thread's checkpoints, newest first: step, source, next nodes, writes, bytes.

    Bytes are serialized payload bytes (new channel values and pending writes), not on-disk size.
    """
    with open_saver(_url(ctx)) as saver:
        rows = _inspect.history(saver, thread, ns)[:limit]
    if as_json:
        _render.emit_json({"thread_id": thread, "checkpoints": [_render.row_json(r) for r in rows]})
    else:
        _render.history_table(thread, rows)



@cli.command()
@click.argument("thread")
@click.argument("checkpoint", required=False)
@click.option("--ns", default="", help="Checkpoint namespace; default: the root graph.")
@click.option("--channel", "-c", "channels", multiple=True, help="Show only this channel. Repeatable.")
@click.option("--all", "include_internal", is_flag=True, help="Include the engine's internal channels.")
@_json_option
@click.pass_context
def show(ctx: click.Context, thread: str, checkpoint: str | None, ns: str, channels: tuple[str, ...], include_internal: bool, as_json: bool) -> None:
    """A checkpoint (default: the latest; an id or a unique prefix or suffix of one): values,
    next, tasks, pending writes and interrupts."""
    with open_saver(_url(ctx)) as saver:
        data = _inspect.show(_inspect.resolve(saver, thread, checkpoint, ns), channels, include_internal)
    if as_json:
        _render.emit_json(data)
    else:
        _render.show_tree(data)


@cli.command()
@click.argument("thread")
@click.argument("a")
@click.argument("b")
@click.option("--ns", default="", help="Checkpoint namespace; default: the root graph.")
@click.option("--all", "include_internal", is_flag=True, help="Include the engine's internal channels.")
@_json_option
@click.pass_context
def diff(ctx: click.Context, thread: str, a: str, b: str, ns: str, include_internal: bool, as_json: bool) -> None:
    """What changed from checkpoint A to checkpoint B: channels, value diffs, and which node
    wrote each change (ids, or unique prefixes or suffixes of ids)."""
    with open_saver(_url(ctx)) as saver:
        ta, tb = _inspect.resolve(saver, thread, a, ns), _inspect.resolve(saver, thread, b, ns)
        data = _inspect.diff(saver, ta, tb, include_internal)
    if as_json:
        _render.emit_json(data)
    else:
        _render.diff_tree(data)


@cli.command()
@click.option("--scan", "full_scan", is_flag=True, help="Exact payload report (largest threads, bytes per channel, growth per day): reads every checkpoint.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="With --scan: how many of the largest threads.")
@click.option("--days", default=14, show_default=True, type=click.IntRange(min=1), help="With --scan: days of growth to show.")
@_json_option
@click.pass_context
def stats(ctx: click.Context, full_scan: bool, top: int, days: int, as_json: bool) -> None:
    """Threads, checkpoints and stored bytes from the database's own counters (instant at any
    size; "estimated" says when a figure comes from planner statistics).

    With --scan: exact totals of serialized payload, the largest threads, bytes per channel and
    growth per day, reading every checkpoint once (cost grows with the database).
    """
    damaged = _walk.Damaged()
    with open_saver(_url(ctx)) as saver:
        data = _listing.stats_scan(saver, top, days, damaged) if full_scan else _listing.stats(saver)
    if as_json:
        _render.emit_json(data)
    else:
        _render.stats_tables(data)
    _walk.report(damaged)



# --- export / import / migrate -------------------------------------------------------------------


def _summary(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        _render.emit_json(data)
    else:
        _render.message(text)


@cli.command(name="export")
@click.argument("thread_ids", nargs=-1, metavar="THREAD...")
@click.option("--all", "all_threads", is_flag=True, help="Export every thread.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write (JSON Lines).")
@_json_option
@click.pass_context
def export_cmd(ctx: click.Context, thread_ids: tuple[str, ...], all_threads: bool, out: str, as_json: bool) -> None:
    """Write threads to a versioned, checksummed JSON Lines file (see docs/cli.md)."""
    if bool(thread_ids) == all_threads:
        raise CliError("name the threads to export, or pass --all")
    serde = make_serde()
    with open_saver(_url(ctx)) as saver:
        wanted = _transfer.all_thread_ids(saver) if all_threads else list(dict.fromkeys(thread_ids))
        for t in wanted:
            if not _inspect.thread_exists(saver, t):
                raise CliError(f"thread {t!r} not found")
        damaged = _walk.Damaged()
        with progress("export", len(wanted)) as advance:
            def records() -> Iterator[dict[str, Any]]:
                for t in wanted:
                    recs = _transfer.thread_records(saver, t, serde)
                    try:  # the thread's whole listing is read before its first record
                        first = next(recs)
                    except CheckpointReadError as exc:
                        damaged.add(exc, t)
                    else:
                        yield first
                        yield from recs
                    advance(t)

            n = _export.write_file(out, _export.header("checkpoints", parse_url(_url(ctx)).redacted), records())
    done = len(wanted) - len(damaged.errors)
    _summary(as_json, {"out": out, "threads": done, "records": n}, f"exported {done} thread(s) ({n} records) to {out}")
    _walk.report(damaged)


@cli.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace threads that already exist in the target.")
@_json_option
@click.pass_context
def import_cmd(ctx: click.Context, file: str, force: bool, as_json: bool) -> None:
    """Restore an export into the database at --url; each thread is all or nothing."""
    with _export.opened(file, "checkpoints") as source:  # a damaged file never opens the database
        with open_saver(_url(ctx), create=True) as saver, progress("import", None) as advance:
            data = _transfer.import_file(saver, source, make_serde(), force=force, progress=advance)
    _summary(as_json, data, f"imported {data['threads']} thread(s), {data['checkpoints']} checkpoint(s), {data['writes']} write(s) from {file}")


@cli.command()
@click.option("--from", "src_url", required=True, help="Source database URL.")
@click.option("--to", "dst_url", required=True, help="Target database URL.")
@click.option("--threads", "thread_ids", multiple=True, metavar="ID[,ID...]", help="Only these threads (default: all). Repeatable.")
@click.option("--dry-run", is_flag=True, help="Count what would be copied; write nothing.")
@click.option("--force", is_flag=True, help="Replace threads that already exist in the target.")
@_json_option
def migrate(src_url: str, dst_url: str, thread_ids: tuple[str, ...], dry_run: bool, force: bool, as_json: bool) -> None:
    """Copy threads between backends, then read every checkpoint back from the target and
    compare it with the source (values, metadata, parent, pending writes, history order).

    From a langgraph+ URL, LangGraph's store items and vectors move too (unless --threads)."""
    serde = make_serde()
    wanted = _split(thread_ids) or None
    damaged = _walk.Damaged()
    with open_saver(src_url) as src, open_saver(dst_url, create=True) as dst:
        with progress("migrate", len(wanted) if wanted else None) as advance:
            data = _transfer.migrate(src, dst, serde, wanted, dry_run=dry_run, force=force, progress=advance, damaged=damaged)
    if parse_url(src_url).kind.startswith("langgraph-") and not wanted:  # LangGraph's store moves too
        from waypoint.cli._lgstore import migrate_store

        with progress("migrate store", None) as advance:
            data["store"] = migrate_store(src_url, dst_url, dry_run=dry_run, progress=advance)
    if dry_run:
        text = f"dry run: would migrate {data['threads']} thread(s), {data['checkpoints']} checkpoint(s), {data['writes']} write(s)"
        if data["existing"]:
            text += f"; {data['existing']} thread(s) already exist in the target ({'replaced' if force else 'pass --force to replace'})"
    else:
        text = (f"migrated {data['threads']} thread(s), {data['checkpoints']} checkpoint(s), {data['writes']} write(s); "
                f"verified {data['verified']} checkpoint(s) identical")
    if "store" in data:
        st = data["store"]
        text += (f"; store: {st['items']} item(s), {st['vectors']} vector(s)"
                 + ("" if dry_run else f", verified {st['verified']} item(s)"))
    _summary(as_json, data, text)
    _walk.report(damaged)


# --- retention -----------------------------------------------------------------------------------


def _confirm(yes: bool, what: str) -> None:
    if yes:
        return
    if sys.stdin.isatty():
        click.confirm(f"{what}?", abort=True, err=True)
        return
    raise CliError(f"refusing to {what} without confirmation: pass --yes (or --dry-run to preview)")


@cli.command()
@click.option("--keep-last", type=click.IntRange(min=1), help="Keep the newest N checkpoints per namespace of each thread.")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS", help="Drop checkpoints older than DAYS (a thread's latest always stays).")
@click.option("--thread", "thread_ids", multiple=True, help="Only this thread (default: all). Repeatable.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted.")
@_json_option
@click.pass_context
def prune(ctx: click.Context, keep_last: int | None, older_than: float | None, thread_ids: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Drop old checkpoints through the saver's prune; kept checkpoints stay readable."""
    with open_saver(_url(ctx)) as saver:
        plan = _retention.prune_plan(saver, list(thread_ids), keep_last=keep_last, older_than_days=older_than)
        if not dry_run:
            with progress("prune", sum(1 for p in plan if p["delete"])) as advance:
                _retention.run_prune(saver, plan, advance)
    deleted = sum(p["delete"] for p in plan)
    touched = sum(1 for p in plan if p["delete"])
    verb = "would delete" if dry_run else "deleted"
    _summary(as_json, {"dry_run": dry_run, "deleted": deleted, "threads": plan},
             f"{'dry run: ' if dry_run else ''}{verb} {deleted} checkpoint(s) from {touched} of {len(plan)} thread(s)")


@cli.command()
@click.option("--thread", "thread_ids", multiple=True, help="Delete this thread. Repeatable.")
@click.option("--metadata", "pairs", multiple=True, metavar="KEY=VALUE", help="Delete every thread with a checkpoint whose metadata has KEY=VALUE (all pairs must match). Repeatable.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_json_option
@click.pass_context
def delete(ctx: click.Context, thread_ids: tuple[str, ...], pairs: tuple[str, ...], dry_run: bool, yes: bool, as_json: bool) -> None:
    """Erase whole threads (checkpoints, blobs, writes), by id or by metadata."""
    with open_saver(_url(ctx)) as saver:
        plan = _retention.delete_plan(saver, list(thread_ids), parse_pairs(pairs, "--metadata"))
        if not dry_run and plan:
            _confirm(yes, f"delete {len(plan)} thread(s)")
            with progress("delete", len(plan)) as advance:
                _retention.run_delete(saver, plan, advance)
    n = sum(p["checkpoints"] for p in plan)
    verb = "would delete" if dry_run else "deleted"
    names = ", ".join(p["thread_id"] for p in plan[:5]) + (", ..." if len(plan) > 5 else "")
    _summary(as_json, {"dry_run": dry_run, "threads": plan, "checkpoints": n},
             f"{'dry run: ' if dry_run else ''}{verb} {len(plan)} thread(s), {n} checkpoint(s)" + (f": {names}" if plan else ""))


# --- web inspector -------------------------------------------------------------------------------


def _load_graph(ref: str) -> Any:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise CliError(f"--graph expects MODULE:ATTR (e.g. myapp.graph:builder), got {ref!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"--graph: cannot import module {module_name!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(f"--graph: module {module_name!r} has no attribute {attr!r}") from None
    return obj


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep 127.0.0.1 unless you know why).")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port (default: a free one).")
@click.option("--graph", "graph_ref", metavar="MODULE:ATTR", help="Your compiled graph or StateGraph builder, needed to act on threads.")
@click.option("--allow-writes", is_flag=True, help="Allow resuming interrupts, update_state and forks (needs --graph).")
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, graph_ref: str | None, allow_writes: bool) -> None:
    """Serve the web inspector: threads, history trees, checkpoints, diffs, store.

    Prints the URL with its access token; every request needs that token. Read-only unless
    started with --graph and --allow-writes. A graph compiled with a store that has a vector
    index lends it to the store page (semantic search). Needs the 'ui' extra.
    """
    if allow_writes and not graph_ref:
        raise CliError("--allow-writes needs --graph MODULE:ATTR: writes go through your graph's API")
    try:
        from waypoint.ui import serve
    except ImportError as exc:
        raise CliError(f"the web inspector needs the 'ui' extra (pip install 'waypoint-graph[ui]'): {exc}") from None
    graph = _load_graph(graph_ref) if graph_ref else None
    url = _url(ctx)
    own_store = getattr(graph, "store", None)  # a graph compiled with an indexed store: semantic search
    if own_store is not None and getattr(own_store, "index_config", None) is None:
        own_store = None
    if own_store is None and parse_url(url).kind.startswith("langgraph-"):
        own_store = False  # a LangGraph database: its threads only (its store moves with `migrate`)
    with open_saver(url) as saver, (nullcontext(own_store or None) if own_store is not None else open_store(url)) as st:
        serve(saver, st, host=host, port=port, graph=graph, allow_writes=allow_writes, title=parse_url(url).redacted)


# --- store ---------------------------------------------------------------------------------------


@cli.group()
def store() -> None:
    """Export and import long-term memory store items (same file format, kind "store")."""


def _namespace(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(".") if part)


@store.command(name="export")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write.")
@click.option("--namespace", "-n", "namespaces", multiple=True, metavar="A.B", help="Only items under this namespace prefix (labels joined by '.'). Repeatable.")
@_json_option
@click.pass_context
def store_export(ctx: click.Context, out: str, namespaces: tuple[str, ...], as_json: bool) -> None:
    """Write store items to a checksummed JSON Lines file."""
    with open_store(_url(ctx)) as st, progress("store export", None) as advance:
        def records() -> Iterator[dict[str, Any]]:
            for rec in _transfer.store_records(st, [_namespace(n) for n in namespaces], make_serde()):
                advance(".".join(rec["namespace"]))
                yield rec

        n = _export.write_file(out, _export.header("store", parse_url(_url(ctx)).redacted), records())
    _summary(as_json, {"out": out, "items": n}, f"exported {n} item(s) to {out}")


@store.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@_json_option
@click.pass_context
def store_import(ctx: click.Context, file: str, as_json: bool) -> None:
    """Put every item of a store export into the store at --url (existing keys are replaced)."""
    with _export.opened(file, "store") as source:  # a damaged file never opens the database
        with open_store(_url(ctx), create=True) as st, progress("store import", None) as advance:
            data = _transfer.import_store(st, source, make_serde(), progress=advance)
    _summary(as_json, data, f"imported {data['items']} item(s) in {data['namespaces']} namespace(s) from {file}")


__all__ = ["cli", "parse_pairs"]
