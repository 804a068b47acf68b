"""Moving threads and store items between backends through the export records.

``thread_records`` turns a thread into records (oldest checkpoint first); ``ThreadImporter``
replays records into any saver with the same ids, versions, metadata and pending writes, giving
the saver item-log hints so list channels stay incremental. ``import_file`` and ``migrate``
import each thread all or nothing: a new thread is deleted again when anything fails midway,
and a thread that replaces an existing one (``--force``) is written under a temporary id and
swapped in only once complete (``_replace``), so a failure never costs the existing thread.
``verify_thread`` compares every checkpoint of a thread in two savers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

from waypoint.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointTuple,
    LogHint,
)
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.cli import _export
from waypoint.cli._inspect import ids, parent_id, thread_config, thread_exists
from waypoint.cli._replace import discard, swap, temp_id
from waypoint.cli._urls import CliError
from waypoint.errors import CheckpointReadError

STORE_PAGE = 500
Progress = Callable[[str], None]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def common_prefix(a: list[Any], b: list[Any]) -> int:
    n, k = min(len(a), len(b)), 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


# --- checkpoints -> records ----------------------------------------------------------------------


def thread_records(saver: BaseCheckpointSaver, thread_id: str, serde: SerializerProtocol) -> Iterator[dict[str, Any]]:
    """A thread's records: its checkpoints oldest first, each preceded by the blobs it
    introduces and followed by its pending writes (one record per task)."""
    keys = sorted((ids(t)[2], ids(t)[1]) for t in saver.list(thread_config(thread_id)))
    if not keys:
        raise CliError(f"thread {thread_id!r} not found")
    yield {"type": "thread", "thread_id": thread_id}
    emitted: set[tuple[str, str, str]] = set()
    last: dict[tuple[str, str], tuple[str, Any]] = {}
    for cid, ns in keys:
        t = saver.get_tuple(thread_config(thread_id, ns, cid))
        if t is None:
            raise CliError(f"checkpoint {cid} of thread {thread_id!r} disappeared during the export")
        cp = t.checkpoint
        values = cp["channel_values"]
        for channel, version in cp["channel_versions"].items():
            key = (ns, channel, str(version))
            if key in emitted or channel not in values:
                continue
            emitted.add(key)
            value = values[channel]
            rec: dict[str, Any] = {"type": "blob", "ns": ns, "channel": channel, "version": str(version)}
            prev = last.get((ns, channel))
            k = common_prefix(prev[1], value) if prev and type(prev[1]) is list and type(value) is list else 0
            if k:
                rec["base"] = {"version": prev[0], "prefix": k}  # type: ignore[index]
                rec.update(_export.typed(serde, value[k:]))
            else:
                rec.update(_export.typed(serde, value))
            last[(ns, channel)] = (str(version), value)
            yield rec
        yield {
            "type": "checkpoint", "ns": ns, "id": cid, "parent_id": parent_id(t), "v": cp.get("v", 1),
            "ts": cp.get("ts"), "channel_versions": cp["channel_versions"],
            "versions_seen": cp["versions_seen"], "updated_channels": cp.get("updated_channels"),
            "metadata": _export.typed(serde, dict(t.metadata or {})),
        }
        tasks: dict[str, list[dict[str, Any]]] = {}
        for task_id, channel, value in t.pending_writes or ():
            tasks.setdefault(task_id, []).append({"channel": channel, **_export.typed(serde, value)})
        for task_id, writes in tasks.items():
            yield {"type": "writes", "ns": ns, "checkpoint_id": cid, "task_id": task_id, "task_path": "", "writes": writes}


# --- records -> a saver --------------------------------------------------------------------------


class ThreadImporter:
    """Replays one thread's records into ``saver`` under ``thread_id``; errors name the
    thread as ``name`` (the exported id, when writing under a temporary one)."""

    def __init__(self, saver: BaseCheckpointSaver, thread_id: str, serde: SerializerProtocol, name: str | None = None) -> None:
        self.saver, self.thread_id, self.serde = saver, thread_id, serde
        self.name = thread_id if name is None else name
        self.values: dict[tuple[str, str, str], Any] = {}
        self.bases: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.checkpoints = 0
        self.writes = 0

    def feed(self, rec: dict[str, Any]) -> None:
        kind = rec.get("type")
        try:
            if kind == "blob":
                self._blob(rec)
            elif kind == "checkpoint":
                self._checkpoint(rec)
            elif kind == "writes":
                self._writes(rec)
            else:
                raise CliError(f"unexpected record type {kind!r} in thread {self.name!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise CliError(f"malformed {kind} record in thread {self.name!r}: {_first_line(exc)}") from None

    def _blob(self, rec: dict[str, Any]) -> None:
        key = (rec["ns"], rec["channel"], rec["version"])
        value = _export.untyped(self.serde, rec)
        base = rec.get("base")
        if base is not None:
            prev = self.values[(rec["ns"], rec["channel"], base["version"])]
            value = prev[: base["prefix"]] + value
            self.bases[key] = (base["version"], base["prefix"])
        self.values[key] = value

    def _checkpoint(self, rec: dict[str, Any]) -> None:
        ns, cid, pid = rec["ns"], rec["id"], rec["parent_id"]
        versions = rec["channel_versions"]
        parent = self.versions.get((ns, pid), {}) if pid else {}
        new_versions = {ch: v for ch, v in versions.items() if parent.get(ch) != v}
        values: dict[str, Any] = {}
        logs: dict[str, LogHint] = {}
        for ch, v in new_versions.items():
            key = (ns, ch, str(v))
            if key not in self.values:
                continue  # a version without a value (an emptied channel)
            value = values[ch] = self.values[key]
            if type(value) is not list:
                continue
            pv = parent.get(ch)
            base = self.values.get((ns, ch, str(pv))) if pv is not None else None
            if type(base) is list:
                known = self.bases.get(key)
                k = known[1] if known and known[0] == str(pv) else common_prefix(base, value)
                logs[ch] = LogHint(pv, k)
            else:
                logs[ch] = LogHint(None, 0)
        checkpoint = Checkpoint(
            v=rec["v"], id=cid, ts=rec["ts"], channel_values=values, channel_versions=dict(versions),
            versions_seen={k: dict(v) for k, v in rec["versions_seen"].items()},
            updated_channels=rec.get("updated_channels"), channel_logs=logs,
        )
        metadata = _export.untyped(self.serde, rec["metadata"])
        self.saver.put(thread_config(self.thread_id, ns, pid), checkpoint, metadata, new_versions)
        self.versions[(ns, cid)] = versions
        self.checkpoints += 1

    def _writes(self, rec: dict[str, Any]) -> None:
        writes = [(w["channel"], _export.untyped(self.serde, w)) for w in rec["writes"]]
        config = thread_config(self.thread_id, rec["ns"], rec["checkpoint_id"])
        regular = [w for w in writes if w[0] not in WRITES_IDX_MAP]
        special = [w for w in writes if w[0] in WRITES_IDX_MAP]
        for group in (regular, special):
            if group:
                self.saver.put_writes(config, group, rec["task_id"], rec.get("task_path") or "")
        self.writes += len(writes)


def _import_thread(
    saver: BaseCheckpointSaver,
    thread_id: str,
    recs: Iterable[dict[str, Any]],
    serde: SerializerProtocol,
    done: int,
    *,
    replace: bool = False,
    check: Callable[[str], Any] | None = None,
) -> ThreadImporter:
    """Import one thread all or nothing, then read it back (and run ``check`` on the id it was
    written under). With ``replace`` the thread exists: the new one is built under a temporary
    id and swapped in only when complete, so any failure leaves the existing thread as it was."""
    target = temp_id(thread_id) if replace else thread_id
    imp = ThreadImporter(saver, target, serde, name=thread_id)
    try:
        for rec in recs:
            imp.feed(rec)
        stored = sum(1 for _ in saver.list(thread_config(target)))
        if stored != imp.checkpoints:
            raise CliError(f"{imp.checkpoints} checkpoint(s) written but {stored} read back")
        if check is not None:
            check(target)
    except BaseException as exc:
        discard(saver, target)
        if isinstance(exc, SourceDamaged):
            raise
        reason = exc.message if isinstance(exc, CliError) else _first_line(exc)
        kept = "; the existing thread is unchanged" if replace else ""
        raise CliError(f"thread {thread_id!r} failed and was rolled back{kept} ({done} thread(s) completed before it): {reason}") from None
    if replace:
        swap(saver, target, thread_id)
    return imp


def _sections(recs: Iterator[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(thread id, its records); a thread's records are buffered one thread at a time."""
    current: str | None = None
    batch: list[dict[str, Any]] = []
    for rec in recs:
        if rec.get("type") == "thread":
            if current is not None:
                yield current, batch
            current, batch = str(rec.get("thread_id")), []
        elif current is None:
            raise CliError(f"record of type {rec.get('type')!r} before any thread record: the file is corrupt")
        else:
            batch.append(rec)
    if current is not None:
        yield current, batch


def _thread_ids(source: _export.Verified) -> list[str]:
    """Every thread id of the file, in order: a full pass that parses every record before
    anything is written, refusing a thread that appears twice (it would be merged)."""
    out: dict[str, int] = {}
    for lineno, rec in source.records():
        if rec.get("type") != "thread":
            continue
        thread_id = rec.get("thread_id")
        if not isinstance(thread_id, str) or not thread_id:
            raise CliError(f"{source.name}: line {lineno}: thread record without a thread id: the file is corrupt")
        if thread_id in out:
            raise CliError(
                f"{source.name}: thread {thread_id!r} appears twice (lines {out[thread_id]} and {lineno}): "
                "its checkpoints would be merged; export each thread once"
            )
        out[thread_id] = lineno
    return list(out)


def import_file(saver: BaseCheckpointSaver, source: _export.Verified | str | Path, serde: SerializerProtocol, *, force: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Import a checkpoints export (a path, read once, or an already opened ``Verified``);
    refuses existing threads unless ``force``, which replaces them atomically."""
    if not isinstance(source, _export.Verified):
        with _export.opened(source, "checkpoints") as data:
            return import_file(saver, data, serde, force=force, progress=progress)
    thread_ids = _thread_ids(source)
    existing = [t for t in thread_ids if thread_exists(saver, t)]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CliError(f"thread {existing[0]!r}{more} already exists in the target: pass --force to replace")
    summary = {"source": source.head.get("source"), "threads": 0, "checkpoints": 0, "writes": 0, "thread_ids": []}
    for thread_id, recs in _sections(rec for _, rec in source.records()):
        imp = _import_thread(saver, thread_id, recs, serde, summary["threads"], replace=thread_id in existing)
        summary["threads"] += 1
        summary["checkpoints"] += imp.checkpoints
        summary["writes"] += imp.writes
        summary["thread_ids"].append(thread_id)
        if progress:
            progress(thread_id)
    return summary


# --- migrate -------------------------------------------------------------------------------------


def all_thread_ids(saver: BaseCheckpointSaver) -> list[str]:
    """Every thread id, sorted, read without decoding checkpoints (see ``_walk.thread_ids``)."""
    from waypoint.cli._walk import thread_ids

    return thread_ids(saver)


class SourceDamaged(Exception):
    """A source thread has a corrupt row: the thread is skipped, not the whole command."""

    def __init__(self, error: CheckpointReadError) -> None:
        super().__init__(str(error))
        self.error = error


def _source_records(src: BaseCheckpointSaver, thread_id: str, serde: SerializerProtocol) -> Iterator[dict[str, Any]]:
    try:
        yield from _skip_header(thread_records(src, thread_id, serde))
    except CheckpointReadError as exc:
        raise SourceDamaged(exc) from exc


def _same(a: Any, b: Any, serde: SerializerProtocol) -> bool:
    if a == b:
        return True
    try:
        return serde.dumps_typed(a) == serde.dumps_typed(b)
    except Exception:
        return False


def _compare(a: CheckpointTuple, b: CheckpointTuple, serde: SerializerProtocol) -> str | None:
    """What differs between two tuples of the same checkpoint, or None."""
    if ids(a)[1:] != ids(b)[1:]:
        return f"checkpoint {ids(a)[2]} reads back as {ids(b)[2]}"
    if parent_id(a) != parent_id(b):
        return "parent differs"
    ca, cb = a.checkpoint, b.checkpoint
    for field in ("channel_versions", "versions_seen"):
        if not _same(ca[field], cb[field], serde):
            return f"{field} differ"
    for ch in set(ca["channel_values"]) | set(cb["channel_values"]):
        if (ch in ca["channel_values"]) != (ch in cb["channel_values"]) or not _same(ca["channel_values"].get(ch), cb["channel_values"].get(ch), serde):
            return f"channel {ch!r} differs"
    if not _same(dict(a.metadata or {}), dict(b.metadata or {}), serde):
        return "metadata differs"
    if not _same(list(a.pending_writes or []), list(b.pending_writes or []), serde):
        return "pending writes differ"
    return None


def verify_thread(src: BaseCheckpointSaver, dst: BaseCheckpointSaver, thread_id: str, serde: SerializerProtocol, *, target: str | None = None) -> int:
    """Compare every checkpoint of a thread in both savers (history order included), the
    copy in ``dst`` being stored as ``target`` (default: the same id); returns how many were
    compared, raises CliError at the first difference."""
    n = 0
    copy = thread_config(thread_id if target is None else target)
    for a, b in zip_longest(src.list(thread_config(thread_id)), dst.list(copy)):
        if a is None or b is None:
            raise CliError(f"verification failed for thread {thread_id!r}: the target holds a different number of checkpoints")
        problem = _compare(a, b, serde)
        if problem:
            raise CliError(f"verification failed for thread {thread_id!r} at checkpoint {ids(a)[2]}: {problem}")
        n += 1
    return n


def migrate(src: BaseCheckpointSaver, dst: BaseCheckpointSaver, serde: SerializerProtocol, thread_ids: list[str] | None, *, dry_run: bool = False, force: bool = False, progress: Progress | None = None, damaged: Any = None) -> dict[str, Any]:
    """Copy threads from ``src`` to ``dst`` and verify each; a thread that fails to copy or
    verify is removed from ``dst`` and the migration stops with a CliError. A source thread
    with a corrupt row is skipped and noted in ``damaged`` (a ``_walk.Damaged``)."""
    from waypoint.cli._walk import Damaged

    damaged = Damaged() if damaged is None else damaged
    wanted = list(dict.fromkeys(thread_ids)) if thread_ids else all_thread_ids(src)
    missing = [t for t in wanted if not thread_exists(src, t)]
    if missing:
        raise CliError(f"thread {missing[0]!r} not found in the source")
    existing = [t for t in wanted if thread_exists(dst, t)]
    if existing and not force and not dry_run:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CliError(f"thread {existing[0]!r}{more} already exists in the target: pass --force to replace")
    summary: dict[str, Any] = {"dry_run": dry_run, "threads": 0, "checkpoints": 0, "writes": 0, "verified": 0, "existing": len(existing)}
    for thread_id in wanted:
        if dry_run:
            try:
                found = [len(t.pending_writes or ()) for t in src.list(thread_config(thread_id))]
            except CheckpointReadError as exc:
                damaged.add(exc, thread_id)
                continue
            summary["checkpoints"] += len(found)
            summary["writes"] += sum(found)
        else:
            verified: list[int] = []
            try:
                imp = _import_thread(
                    dst, thread_id, _source_records(src, thread_id, serde), serde, summary["threads"],
                    replace=thread_id in existing,
                    check=lambda target: verified.append(verify_thread(src, dst, thread_id, serde, target=target)),
                )
            except SourceDamaged as exc:
                damaged.add(exc.error, thread_id)
                continue
            summary["verified"] += sum(verified)
            summary["checkpoints"] += imp.checkpoints
            summary["writes"] += imp.writes
        summary["threads"] += 1
        if progress:
            progress(thread_id)
    return summary


def _skip_header(recs: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for rec in recs:
        if rec.get("type") != "thread":
            yield rec


# --- store ---------------------------------------------------------------------------------------


def store_records(store: Any, prefixes: list[tuple[str, ...]], serde: SerializerProtocol) -> Iterator[dict[str, Any]]:
    """Every live item under the prefixes (all items when none), as ``item`` records."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    for prefix in prefixes or [()]:
        offset = 0
        while True:
            items = store.search(prefix, limit=STORE_PAGE, offset=offset)
            for item in items:
                if (item.namespace, item.key) in seen:
                    continue
                seen.add((item.namespace, item.key))
                yield {
                    "type": "item", "namespace": list(item.namespace), "key": item.key,
                    "value": _export.typed(serde, item.value),
                    "created_at": item.created_at.isoformat(), "updated_at": item.updated_at.isoformat(),
                }
            if len(items) < STORE_PAGE:
                break
            offset += STORE_PAGE


def _item_op(rec: dict[str, Any], serde: SerializerProtocol, name: str, lineno: int) -> Any:
    """The validated ``PutOp`` of one ``item`` record (CliError naming the line if not)."""
    from waypoint.store._items import PutOp
    from waypoint.store._namespaces import validate_key, validate_namespace

    where = f"{name}: line {lineno}"
    if rec.get("type") != "item":
        raise CliError(f"{where}: unexpected record type {rec.get('type')!r} in a store export")
    try:
        if not isinstance(rec["namespace"], list):
            raise TypeError("namespace is not a list of labels")
        ns = validate_namespace(tuple(rec["namespace"]))
        key = validate_key(rec["key"])
        value = _export.untyped(serde, rec["value"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"{where}: malformed item record: {_first_line(exc)}") from None
    if not isinstance(value, dict):
        raise CliError(f"{where}: malformed item record: the value must be a dict, got {type(value).__name__}")
    return PutOp(ns, key, value)


def import_store(store: Any, source: _export.Verified | str | Path, serde: SerializerProtocol, *, progress: Progress | None = None) -> dict[str, Any]:
    """Put every item of a store export, all or nothing.

    A first pass decodes and validates every record, so a bad one is refused before anything
    is written. The second writes in batches of ``STORE_PAGE``, reading first what each batch
    replaces; if a batch fails, every key already written is put back as it was (or deleted
    if it was new), in one batch, before the error is raised."""
    from waypoint.store._items import GetOp, PutOp

    if not isinstance(source, _export.Verified):
        with _export.opened(source, "store") as data:
            return import_store(store, data, serde, progress=progress)
    namespaces: set[tuple[str, ...]] = set()
    count = 0
    for lineno, rec in source.records():
        namespaces.add(_item_op(rec, serde, source.name, lineno).namespace)
        count += 1
    undo: list[Any] = []  # what to put back, in write order
    batch: list[Any] = []
    written = [0]

    def flush() -> None:
        before = store.batch([GetOp(op.namespace, op.key, refresh_ttl=False) for op in batch])
        try:
            store.batch(batch)
        finally:  # a batch that failed may still have written part of itself
            undo.extend(PutOp(op.namespace, op.key, None if old is None else old.value) for op, old in zip(batch, before))
        written[0] += len(batch)
        batch.clear()

    try:
        for lineno, rec in source.records():
            op = _item_op(rec, serde, source.name, lineno)
            batch.append(op)
            if progress:
                progress("/".join(op.namespace))
            if len(batch) >= STORE_PAGE:
                flush()
        if batch:
            flush()
    except BaseException as exc:
        try:
            store.batch(undo[::-1])
            undone = f"the {written[0]} item(s) written were restored"
        except Exception as again:
            undone = f"restoring the {written[0]} item(s) written also failed ({_first_line(again)})"
        reason = exc.message if isinstance(exc, CliError) else _first_line(exc)
        raise CliError(f"store import failed and {undone}: {reason}") from None
    return {"source": source.head.get("source"), "items": count, "namespaces": len(namespaces)}


__all__ = [
    "ThreadImporter", "all_thread_ids", "common_prefix", "import_file", "import_store", "migrate",
    "store_records", "thread_records", "verify_thread",
]
