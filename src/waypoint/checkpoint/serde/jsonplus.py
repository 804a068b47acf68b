"""``JsonPlusSerializer``: exact, fast, safe-to-load serialization of checkpoint values.

Values are written as msgpack (tag ``"msgpack"``) with extension types for everything msgpack
has no exact type for, so a value comes back with the same type and value: tuples stay tuples,
ints of any size, sets, deques, tz-aware datetimes, UUIDs, Decimals, Enums, paths, dataclasses,
pydantic v1/v2 models, NamedTuples, numpy arrays... ``None`` is tagged ``"null"`` and raw bytes
``"bytes"``/``"bytearray"``. ``"json"`` data (including LangChain's constructor form) is read but
never written. Pickle is used only with ``pickle_fallback=True``.

Loading never imports the program's modules and never calls an arbitrary callable (see
``_policy.TypePolicy``); the only imports it may cause are of data: numpy, waypoint's own
dependency, for a payload holding an array, the ``tzdata`` package, which the standard library
consults for ``ZoneInfo`` keys the system time-zone database lacks, and the ``langchain_core``
modules of LangChain's message and document classes (``_langchain.SAFE_TYPES``) when a payload
names one of them.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable
from typing import Any

import ormsgpack

from waypoint.checkpoint.serde._codec import MsgpackCodec
from waypoint.checkpoint.serde._json import loads_json
from waypoint.checkpoint.serde._policy import TypePolicy
from waypoint.checkpoint.serde._stdlib import BYTEARRAY, PICKLE, Unpack
from waypoint.errors import ConfigError, SerializationError

EMPTY = b""
# Compressed ("+z") data may inflate to at most this many bytes by default (one level only):
# far above a checkpoint value's usual size, far below what a zlib bomb (about 1000:1) could
# claim from a few hundred KiB of stored bytes.
MAX_INFLATED_SIZE = 256 << 20


class JsonPlusSerializer:
    """Serializer for checkpoints, writes and store values (LangGraph-compatible API).

    Args:
        pickle_fallback: pickle values no other rule handles (tag ``"pickle"``) and accept
            ``"pickle"`` data on load. Off by default: pickle data can run code when loaded.
        allowed_types: classes that may be loaded although they are not an Enum, dataclass,
            pydantic model, NamedTuple or exception (plain classes are stored by their
            ``__dict__``/slots, or ``__getstate__``/``__setstate__`` when they define them).
            Exact classes only.
        allowed_modules: module names whose classes are allowed like ``allowed_types``;
            ``"pkg"`` also covers ``"pkg.sub"``.
        strict: refuse even Enums, dataclasses, pydantic models, NamedTuples and exceptions
            unless they are listed in ``allowed_types``/``allowed_modules``.
        compress_threshold: if set, msgpack payloads of at least this many bytes are
            zlib-compressed (tag ``"msgpack+z"``) when that makes them smaller.
        max_inflated_size: compressed data that would inflate to more bytes than this is
            refused on load (default ``MAX_INFLATED_SIZE``, 256 MiB). Tags carry at most one
            compression level (``"msgpack+z"``, never ``"msgpack+z+z"``).
    """

    def __init__(
        self,
        *,
        pickle_fallback: bool = False,
        allowed_types: Iterable[type] | None = None,
        allowed_modules: Iterable[str] | None = None,
        strict: bool = False,
        compress_threshold: int | None = None,
        max_inflated_size: int = MAX_INFLATED_SIZE,
    ) -> None:
        if compress_threshold is not None and compress_threshold < 0:
            raise ValueError("compress_threshold must be None or >= 0")
        if type(max_inflated_size) is not int or max_inflated_size <= 0:
            raise ConfigError(
                f"max_inflated_size must be a positive number of bytes, got {max_inflated_size!r}"
            )
        self.pickle_fallback = pickle_fallback
        self.compress_threshold = compress_threshold
        self.max_inflated_size = max_inflated_size
        self.policy = TypePolicy(allowed_types, allowed_modules, strict)
        self._codec = MsgpackCodec(self.policy)
        self._codec.add_decoder(PICKLE, self._load_pickle_ext)

    # --- typed API (what savers use) -----------------------------------------------------

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize ``obj`` to ``(tag, bytes)``; raise ``SerializationError`` if unsupported."""
        if obj is None:
            return "null", EMPTY
        cls = type(obj)
        if cls is bytes:
            return "bytes", obj
        if cls is bytearray:
            return "bytearray", bytes(obj)
        try:
            data = self._codec.pack(obj)
        except SerializationError:
            if not self.pickle_fallback:
                raise
            return "pickle", self._pickle(obj)
        threshold = self.compress_threshold
        if threshold is not None and len(data) >= threshold:
            packed = zlib.compress(data, 1)
            if len(packed) < len(data):
                return "msgpack+z", packed
        return "msgpack", data

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Rebuild a value from ``(tag, bytes)``; raise ``SerializationError`` if it cannot."""
        try:
            tag, payload = data
        except (TypeError, ValueError):
            raise SerializationError("loads_typed expects a (tag, bytes) pair") from None
        if type(payload) is not bytes and not isinstance(payload, bytearray | memoryview):
            raise SerializationError(
                f"loads_typed expects bytes, got {type(payload).__name__} (tag {tag!r})"
            )
        if tag == "msgpack":
            return self._codec.unpack(payload)
        if tag == "null":
            if len(payload):
                raise SerializationError("malformed 'null' payload: expected no bytes")
            return None
        if tag == "bytes":
            return bytes(payload)
        if tag == "bytearray":
            return bytearray(payload)
        if tag == "json":
            return loads_json(bytes(payload), self.policy)
        if tag == "pickle":
            return self._unpickle(payload)
        if isinstance(tag, str) and tag.endswith("+z"):
            inner = tag[:-2]
            if inner.endswith("+z"):
                raise SerializationError(
                    f"refusing {tag[:60]!r} data: tags carry at most one compression level"
                )
            return self.loads_typed((inner, _inflate(payload, self.max_inflated_size)))
        if isinstance(tag, str) and tag.endswith(("+aes", "+aesb")):
            raise SerializationError(
                f"tag {tag!r} marks encrypted data: load it with EncryptedSerializer"
            )
        raise SerializationError(f"unknown serialization tag {tag!r}")

    # --- untyped convenience -------------------------------------------------------------

    def dumps(self, obj: Any) -> bytes:
        """Serialize any value to self-describing msgpack bytes (``None`` and bytes included)."""
        if type(obj) is bytearray:  # ormsgpack would write it as plain bin (bytes)
            return ormsgpack.packb(ormsgpack.Ext(BYTEARRAY, bytes(obj)))
        try:
            return self._codec.pack(obj)
        except SerializationError:
            if not self.pickle_fallback:
                raise
            return ormsgpack.packb(ormsgpack.Ext(PICKLE, self._pickle(obj)))

    def loads(self, data: bytes) -> Any:
        """Load bytes from ``dumps``; JSON text (an ASCII first byte and more) is read as JSON."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SerializationError(f"loads expects bytes, got {type(data).__name__}")
        # A msgpack document starting with an ASCII byte (a positive fixint) is one byte long,
        # so a longer payload starting with one can only be JSON text.
        if len(data) > 1 and data[0] < 0x80:
            return loads_json(bytes(data), self.policy)
        return self._codec.unpack(data)

    # --- pickle (opt-in) -----------------------------------------------------------------

    def _pickle(self, obj: Any) -> bytes:
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(
                f"cannot serialize object of type {type(obj).__qualname__}: not supported and "
                f"pickling failed too ({type(exc).__name__}: {exc})"
            ) from exc

    def _unpickle(self, payload: bytes | bytearray | memoryview) -> Any:
        if not self.pickle_fallback:
            raise SerializationError(
                "refusing to load pickle data: pickle_fallback is off (pickle can run code "
                "when loaded; enable it only for data you trust)"
            )
        try:
            return pickle.loads(payload)
        except Exception as exc:
            raise SerializationError(
                f"malformed pickle payload: {type(exc).__name__}: {exc}"
            ) from exc

    def _load_pickle_ext(self, data: bytes, unpack: Unpack) -> Any:
        return self._unpickle(data)


def _inflate(payload: bytes | bytearray | memoryview, limit: int) -> bytes:
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(payload, limit)
    except zlib.error as exc:
        raise SerializationError(f"malformed compressed payload: {exc}") from exc
    if inflater.unconsumed_tail or (inflater.eof is False and inflater.decompress(b"", 1)):
        raise SerializationError(
            f"refusing compressed payload: it inflates to more than {limit} bytes "
            "(max_inflated_size; raise it if your values are that large)"
        )
    if not inflater.eof:
        raise SerializationError("malformed compressed payload: truncated")
    return data


__all__ = ["MAX_INFLATED_SIZE", "JsonPlusSerializer"]
