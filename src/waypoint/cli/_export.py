"""The export file format (``waypoint-export`` version 1): writing, reading, verifying.

A file is JSON Lines, UTF-8, one JSON object per line::

    {"format": "waypoint-export", "version": 1, "kind": "checkpoints", "source": ..., "created_at": ...}
    ... records ...
    {"sha256": "<hex digest of every preceding line, newline included>"}

The records of each kind are documented in docs/cli.md. Values are carried as ``{"tag", "data"}``
pairs: the serializer's type tag and the base64 of its bytes. This module knows the framing, the
checksum and the typed-value encoding, not savers or stores.

A file is read exactly once (:func:`opened`): copied into a private, unnamed spool while its
checksum is computed, and every record is then read from that spool, so what is imported is
byte for byte what was checked, even when the file changes meanwhile or is a pipe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    where = f"{path}: line {lineno}" if lineno else f"{path}: the last line"
    try:
        obj = json.loads(raw)
    except RecursionError:
        raise CliError(f"{where} is nested too deeply to read: the file is corrupt") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CliError(f"{where} is not JSON: the file is corrupt") from None
    except ValueError as exc:  # an integer literal longer than Python converts (4300 digits)
        if "digits" in str(exc):
            raise CliError(f"{where} holds an integer of more than 4300 digits: the file is corrupt") from None
        raise CliError(f"{where} cannot be read: {exc}") from None
    if not isinstance(obj, dict):
        raise CliError(f"{where} is not a JSON object: the file is corrupt")
    return obj


def _check_header(head: dict[str, Any], path: str, kind: str) -> None:
    if head.get("format") != FORMAT:
        raise CliError(f"{path} is not a waypoint export (no '{FORMAT}' header)")
    if head.get("version") != VERSION:
        raise CliError(f"{path}: export format version {head.get('version')!r} is not supported (this waypoint reads version {VERSION})")
    if head.get("kind") != kind:
        raise CliError(f"{path} holds a {head.get('kind')!r} export, not {kind!r}" + (": use 'waypoint store import'" if head.get("kind") == "store" else ": use 'waypoint import'" if head.get("kind") == "checkpoints" else ""))


class Verified:
    """A checked export: its header and a private copy of its bytes to read records from."""

    def __init__(self, name: str, head: dict[str, Any], spool: IO[bytes], body_end: int) -> None:
        self.name, self.head, self._spool, self._body_end = name, head, spool, body_end

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line number, record)`` for every record (header and checksum line excluded);
        may be called again for another pass over the same bytes."""
        spool = self._spool
        spool.seek(0)
        spool.readline()
        lineno = 1
        while spool.tell() < self._body_end:
            raw = spool.readline()
            lineno += 1
            pos = spool.tell()
            yield lineno, _parse(raw, self.name, lineno)
            spool.seek(pos)  # the consumer may have started another pass meanwhile


@contextmanager
def opened(path: str | Path, kind: str) -> Iterator[Verified]:
    """Read ``path`` once into a private spool, checking the header and the checksum; any
    defect is a CliError naming the file, raised before anything is imported."""
    name = str(path)
    digest = hashlib.sha256()
    head: dict[str, Any] | None = None
    last: bytes | None = None
    with tempfile.TemporaryFile() as spool:
        try:
            with open(path, "rb") as f:
                for lineno, raw in enumerate(f, start=1):
                    if last is not None:
                        digest.update(last)
                    last = raw
                    spool.write(raw)
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
        spool.flush()
        yield Verified(name, head, spool, spool.tell() - len(last))


def verify(path: str | Path, kind: str) -> dict[str, Any]:
    """Check the header and the checksum of a whole file; returns the header."""
    with opened(path, kind) as data:
        return data.head


__all__ = ["FORMAT", "KINDS", "VERSION", "Verified", "header", "opened", "typed", "untyped", "verify", "write", "write_file"]
