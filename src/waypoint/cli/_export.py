"""The export file format (``waypoint-export`` version 1): writing, reading, verifying.

A file is JSON Lines, UTF-8, one JSON object per line::

    {"format": "waypoint-export", "version": 1, "kind": "checkpoints", "source": ..., "created_at": ...}
    ... records ...
    {"sha256": "<hex digest of every preceding line, newline included>"}

The records of each kind are documented in docs/cli.md. Values are carried as ``{"tag", "data"}``
pairs: the serializer's type tag and the base64 of its bytes. This module is pure: it knows the
framing, the checksum and the typed-value encoding, not savers or stores.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.cli._urls import CliError

FORMAT = "waypoint-export"
VERSION = 1
KINDS = ("checkpoints", "store")


def typed(serde: SerializerProtocol, value: Any) -> dict[str, str]:
    """``value`` as ``{"tag": ..., "data": base64}`` through ``serde``."""
    tag, data = serde.dumps_typed(value)
    return {"tag": tag, "data": base64.b64encode(data).decode("ascii")}


def untyped(serde: SerializerProtocol, obj: dict[str, Any]) -> Any:
    """The value of a ``{"tag", "data"}`` pair."""
    return serde.loads_typed((obj["tag"], base64.b64decode(obj["data"], validate=True)))


def header(kind: str, source: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "source": source,
        "created_at": datetime.now(timezone.utc).isoformat(),
    }


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def write(out: IO[bytes], head: dict[str, Any], records: Iterable[dict[str, Any]]) -> int:
    """Write ``head``, ``records`` and the checksum line; returns the number of records."""
    digest = hashlib.sha256()
    n = 0
    data = _line(head)
    digest.update(data)
    out.write(data)
    for obj in records:
        data = _line(obj)
        digest.update(data)
        out.write(data)
        n += 1
    out.write(_line({"sha256": digest.hexdigest()}))
    return n


def write_file(path: str | Path, head: dict[str, Any], records: Iterable[dict[str, Any]]) -> int:
    """Write an export atomically: to ``path.partial`` first, renamed when complete."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as out:
            n = write(out, head, records)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _parse(raw: bytes, path: str, lineno: int) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CliError(f"{path}: line {lineno} is not JSON: the file is corrupt") from None
    if not isinstance(obj, dict):
        raise CliError(f"{path}: line {lineno} is not a JSON object: the file is corrupt")
    return obj


def _check_header(head: dict[str, Any], path: str, kind: str) -> None:
    if head.get("format") != FORMAT:
        raise CliError(f"{path} is not a waypoint export (no '{FORMAT}' header)")
    if head.get("version") != VERSION:
        raise CliError(f"{path}: export format version {head.get('version')!r} is not supported (this waypoint reads version {VERSION})")
    if head.get("kind") != kind:
        raise CliError(f"{path} holds a {head.get('kind')!r} export, not {kind!r}" + (": use 'waypoint store import'" if head.get("kind") == "store" else ": use 'waypoint import'" if head.get("kind") == "checkpoints" else ""))


def verify(path: str | Path, kind: str) -> dict[str, Any]:
    """Check the header and the checksum of a whole file before anything is imported;
    returns the header. Any defect is a CliError naming the file."""
    name = str(path)
    digest = hashlib.sha256()
    head: dict[str, Any] | None = None
    last: bytes | None = None
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if last is not None:
                    digest.update(last)
                last = raw
                if lineno == 1:
                    head = _parse(raw, name, 1)
                    _check_header(head, name, kind)
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}") from None
    if head is None or last is None:
        raise CliError(f"{name} is empty: not a waypoint export")
    tail = _parse(last, name, 0) if last.strip().startswith(b"{") else {}
    expected = tail.get("sha256") if set(tail) == {"sha256"} else None
    if not isinstance(expected, str):
        raise CliError(f"{name} has no checksum line: the file is truncated or corrupt")
    if digest.hexdigest() != expected:
        raise CliError(f"{name} failed its SHA-256 check: the file was modified or is corrupt")
    return head


def records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a verified file (header and checksum line excluded)."""
    name = str(path)
    with open(path, "rb") as f:
        prev: tuple[int, bytes] | None = None
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1:
                continue
            if prev is not None:
                yield _parse(prev[1], name, prev[0])
            prev = (lineno, raw)


__all__ = ["FORMAT", "KINDS", "VERSION", "header", "records", "typed", "untyped", "verify", "write", "write_file"]
