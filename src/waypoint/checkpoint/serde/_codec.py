"""The msgpack codec behind ``JsonPlusSerializer``: ormsgpack plus extension types.

Fast path: ``ormsgpack.packb`` handles str, int (64-bit), float, bool, None, bytes, list and
dicts with str keys natively; everything else is handed to ``default`` because of the
``OPT_PASSTHROUGH_*`` flags (tuples, dataclasses, datetimes, enums, UUIDs, big ints and
subclasses of builtins), which returns an ``ormsgpack.Ext`` whose payload is packed the same way.
A plain chat payload (lists of dicts of strings) therefore never leaves C code.

Slow path: dicts with keys msgpack cannot carry exactly (non-str keys, str subclasses such as
StrEnum) and strings with lone surrogates make ormsgpack refuse the whole value; only then is
the value walked in Python and those dicts and strings wrapped so ``default`` encodes them
(including inside a builtin subclass that ``default`` hands back as its plain builtin).

ormsgpack replaces exceptions raised inside ``default``/``ext_hook`` with a generic one, so the
real error is parked in a thread-local slot and re-raised by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ormsgpack

from waypoint.checkpoint.serde import _depth, _lgformat, _numpy, _objects, _stdlib
from waypoint.checkpoint.serde._policy import TypePolicy
from waypoint.errors import SerializationError

PACK_OPTIONS = (
    ormsgpack.OPT_PASSTHROUGH_BIG_INT
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_SUBCLASS
    | ormsgpack.OPT_PASSTHROUGH_TUPLE
    | ormsgpack.OPT_PASSTHROUGH_UUID
)
# Nested extension payloads: at most this many levels, and beyond the first few levels at
# most _DEPTH_BUDGET nested containers in total (see _depth for why).
MAX_EXT_DEPTH = 200
_UNCHECKED_LEVELS = 3
_DEPTH_BUDGET = 3000
_CHEAP_BOUND = 32
_SLOW_PATH_ERRORS = ("Dict key must be str", "string contains surrogates")

# First bytes that make up a whole msgpack document on their own: fixints, nil, booleans and
# the empty map, array and string.
ONE_BYTE_HEADS = bytes(
    1 if b <= 0x80 or b >= 0xE0 or b in (0x90, 0xA0, 0xC0, 0xC2, 0xC3) else 0 for b in range(256)
)

_packb = ormsgpack.packb
_unpackb = ormsgpack.unpackb
_local = _stdlib.LOCAL
_take = _stdlib.take_parked


class UnsupportedTypeError(TypeError):
    """No encoder handles this type; the message names it."""

    def __init__(self, cls: type) -> None:
        name = (
            cls.__qualname__
            if cls.__module__ == "builtins"
            else (f"{cls.__module__}.{cls.__qualname__}")
        )
        super().__init__(
            f"cannot serialize object of type {name}: not a supported type (supported: "
            "builtins, datetime, uuid, decimal, enum, pathlib, ipaddress, re, dataclasses, "
            "NamedTuple, pydantic models, numpy, exceptions; other classes need "
            "allowed_types=[...] or pickle_fallback=True)"
        )
        self.type = cls


def _utf8_ok(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _prepare(obj: Any) -> Any:
    """Wrap the dicts and strings ormsgpack cannot carry exactly, in native containers only."""
    cls = type(obj)
    if cls is list:
        return [_prepare(v) for v in obj]
    if cls is dict:
        if all(type(k) is str and _utf8_ok(k) for k in obj):
            return {k: _prepare(v) for k, v in obj.items()}
        return _stdlib.PairDict(obj)
    if cls is str and not _utf8_ok(obj):
        return _stdlib.SurrogateStr(obj)
    return obj


def _encode_error(exc: BaseException) -> SerializationError:
    parked = _take() or exc
    if "not msgpack serializable" in str(parked):
        # ormsgpack's own message: ``default`` parks a precise error for every type it sees,
        # unless Python could not even enter it because the recursion limit was hit.
        parked = RecursionError()
    if isinstance(parked, SerializationError):
        return parked
    if isinstance(parked, RecursionError) or "Recursion limit" in str(parked):
        return SerializationError(
            "cannot serialize value: it is nested too deeply or contains a reference cycle"
        )
    if isinstance(parked, UnsupportedTypeError):
        return SerializationError(str(parked))
    return SerializationError(f"cannot serialize value: {parked}")


class MsgpackCodec:
    """Encodes and decodes values as msgpack with waypoint's extension types."""

    def __init__(self, policy: TypePolicy) -> None:
        self.policy = policy
        self._encoders: dict[type, _stdlib.Encoder] = dict(_stdlib.ENCODERS)
        self._decoders: dict[int, _stdlib.Decoder] = {
            **_lgformat.decoders(policy),  # codes 0-7: LangGraph's own format, read only
            **_stdlib.DECODERS,
            **_numpy.DECODERS,
            **_objects.object_decoders(policy),
        }
        self._default_fast = self._make_default(self._pack_fast, None)
        # On the slow path a value an encoder hands back as a plain builtin (a builtin
        # subclass stored as its builtin) is prepared like the top-level value.
        self._default_slow = self._make_default(self._pack_slow, _prepare)
        self._ext_hook = self._make_ext_hook()

    # --- encoding ----------------------------------------------------------------------

    def pack(self, obj: Any) -> bytes:
        """Encode ``obj``; raise ``SerializationError`` if some part of it is unsupported."""
        try:
            cls = type(obj)
            if cls.__name__ == "ndarray" and cls.__module__ == "numpy":
                return _numpy.pack_array(obj)
            return self._pack_fast(obj)
        except Exception as exc:
            raise _encode_error(exc) from None

    def _pack_fast(self, obj: Any) -> bytes:
        try:
            return _packb(obj, default=self._default_fast, option=PACK_OPTIONS)
        except TypeError as exc:
            if str(exc) not in _SLOW_PATH_ERRORS or getattr(_local, "error", None) is not None:
                raise
        return self._pack_slow(obj)

    def _pack_slow(self, obj: Any) -> bytes:
        return _packb(_prepare(obj), default=self._default_slow, option=PACK_OPTIONS)

    def _encoder_for(self, cls: type) -> _stdlib.Encoder:
        enc = _numpy.encoder_for(cls) or _objects.encoder_for(cls, self.policy)
        if enc is None:
            raise UnsupportedTypeError(cls)
        if len(self._encoders) > 4096:
            self._encoders.clear()
            self._encoders.update(_stdlib.ENCODERS)
        self._encoders[cls] = enc
        return enc

    def _make_default(
        self, pack: Callable[[Any], bytes], prepare: Callable[[Any], Any] | None
    ) -> Callable[[Any], Any]:
        encoders = self._encoders
        encoder_for = self._encoder_for

        def default(obj: Any) -> Any:
            try:
                enc = encoders.get(type(obj))
                if enc is None:
                    enc = encoder_for(type(obj))
                out = enc(obj, pack)
                return out if prepare is None else prepare(out)
            except BaseException as exc:
                if getattr(_local, "error", None) is None:
                    _local.error = exc  # inline: no Python call that could itself recurse
                raise

        return default

    # --- decoding ----------------------------------------------------------------------

    def unpack(self, data: bytes) -> Any:
        """Decode bytes made by ``pack``; raise ``SerializationError`` on anything wrong."""
        try:
            if len(data) > 1:
                head = data[0]
                if head == 0xC9:  # maybe a top-level array written by pack_array
                    array = _numpy.unpack_array(data)
                    if array is not None:
                        return array
                elif ONE_BYTE_HEADS[head]:
                    # ormsgpack ignores bytes after the first document; a document whose
                    # first byte is the whole value cannot be longer (e.g. pickle, JSON).
                    raise SerializationError(
                        "malformed msgpack payload: data after a one-byte document"
                    )
            return _unpackb(data, ext_hook=self._ext_hook)
        except Exception as exc:
            parked = _take()
            if isinstance(exc, SerializationError):
                raise
            if isinstance(parked, SerializationError):
                raise parked from None
            if parked is not None:
                raise SerializationError(_describe(parked)) from parked
            raise SerializationError(f"malformed msgpack payload: {exc}") from exc

    def _unpack_inner(self, data: bytes) -> Any:
        """Decode an extension payload, keeping the total nesting within the C stack budget."""
        depth = getattr(_local, "depth", 0) + 1
        if depth > MAX_EXT_DEPTH:
            raise SerializationError("malformed msgpack payload: nested too deeply")
        cost = 0
        if depth > _UNCHECKED_LEVELS:
            used = getattr(_local, "used", 0)
            cost = _depth.depth_bound(data)
            if cost > _CHEAP_BOUND:  # the bound also counts nested payloads: measure exactly
                cost = _depth.exact_depth(data, _DEPTH_BUDGET - used + 1)
            if used + cost > _DEPTH_BUDGET:
                raise SerializationError("malformed msgpack payload: nested too deeply")
            _local.used = used + cost
        _local.depth = depth
        try:
            return _unpackb(data, ext_hook=self._ext_hook)
        finally:
            _local.depth = depth - 1
            if cost:
                _local.used -= cost

    def _make_ext_hook(self) -> Callable[[int, bytes], Any]:
        decoders = self._decoders
        unpack = self._unpack_inner

        def ext_hook(code: int, data: bytes) -> Any:
            try:
                dec = decoders.get(code)
                if dec is None:
                    raise SerializationError(f"malformed msgpack payload: unknown ext code {code}")
                return dec(data, unpack)
            except BaseException as exc:
                if getattr(_local, "error", None) is None:
                    _local.error = exc  # inline: no Python call that could itself recurse
                raise

        return ext_hook

    def add_decoder(self, code: int, decoder: _stdlib.Decoder) -> None:
        """Register an extra ext decoder (used for the opt-in pickle ext)."""
        self._decoders[code] = decoder


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "malformed msgpack payload: nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"malformed msgpack payload: invalid text ({exc.reason})"
    text = str(exc) or type(exc).__name__
    if text.startswith("malformed"):
        return f"malformed msgpack payload: {text}"
    return f"malformed msgpack payload: {type(exc).__name__}: {text}"
