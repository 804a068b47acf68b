"""Extension codes and codecs for builtin and standard-library types.

Every encoder has the shape ``enc(obj, pack) -> ormsgpack.Ext`` where ``pack`` turns a nested
value into msgpack bytes with the same rules; every decoder has the shape
``dec(data, unpack) -> value``. Decoders validate what they read and raise plain
``ValueError``/``TypeError``; the codec turns those into ``SerializationError``.

No class reference is stored for these types: the ext code alone says what to rebuild, so they
load without consulting the type policy.
"""

from __future__ import annotations

import collections
import datetime as _dt
import decimal
import ipaddress
import pathlib
import re
import threading
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

from ormsgpack import Ext

Pack = Callable[[Any], bytes]
Unpack = Callable[[bytes], Any]
Encoder = Callable[[Any, Pack], Ext]
Decoder = Callable[[bytes, Unpack], Any]

# Ext codes. 0-15 are left free (LangGraph's own msgpack format uses 0-7), so that data written
# by either library can be told apart by its codes.
TUPLE = 16
SET = 17
FROZENSET = 18
DEQUE = 19
BIGINT = 20
KEYED_DICT = 21
BYTEARRAY = 22
DATETIME = 23
DATETIME_TZ = 24
DATE = 25
TIME = 26
TIMEDELTA = 27
UUID = 28
DECIMAL = 29
COMPLEX = 30
PATH = 31
IPADDR = 32
PATTERN = 33
ORDERED_DICT = 34
COUNTER = 35
DEFAULTDICT = 36
SURROGATE_STR = 37
ENUM = 40
DATACLASS = 41
PYDANTIC_V2 = 42
PYDANTIC_V1 = 43
NAMEDTUPLE = 44
OBJECT = 45
LC_CONSTRUCTOR = 46
EXCEPTION = 47
PYDANTIC_V2_TREE = 48  # a pydantic v2 model with nested models folded (see _pydantic)
BUILTIN_SUBCLASS = 49  # an allowed subclass of str, int, list, dict... (see _subclass)
NDARRAY = 50
NP_SCALAR = 51
PICKLE = 60


# Per-thread codec state: the error a hook raised (ormsgpack replaces exceptions raised in
# ``default``/``ext_hook`` with a generic one) and the nesting budget of the decoder.
LOCAL = threading.local()


def take_parked() -> BaseException | None:
    """Return and clear the error a hook parked in ``LOCAL``."""
    exc = getattr(LOCAL, "error", None)
    LOCAL.error = None
    return exc


def expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """Return ``value`` if it is of ``kind``, else raise ``TypeError`` naming ``what``."""
    if not isinstance(value, kind):
        raise TypeError(f"malformed {what}: got {type(value).__name__}")
    return value


def _flat_items(obj: dict[Any, Any]) -> list[Any]:
    flat: list[Any] = []
    for k, v in obj.items():
        flat.append(k)
        flat.append(v)
    return flat


def _pairs(data: bytes, unpack: Unpack, what: str) -> list[tuple[Any, Any]]:
    flat = expect(unpack(data), list, what)
    if len(flat) % 2:
        raise ValueError(f"malformed {what}: odd number of items")
    it = iter(flat)
    return list(zip(it, it, strict=True))


class PairDict:
    """Marks a dict whose keys msgpack cannot carry exactly (non-str or surrogate keys)."""

    __slots__ = ("value",)

    def __init__(self, value: dict[Any, Any]) -> None:
        self.value = value


class SurrogateStr:
    """Marks a string holding lone surrogates, which UTF-8 cannot carry."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


# --- containers --------------------------------------------------------------------------


def _enc_tuple(obj: tuple[Any, ...], pack: Pack) -> Ext:
    return Ext(TUPLE, pack(list(obj)))


def _enc_set(obj: set[Any], pack: Pack) -> Ext:
    return Ext(SET, pack(list(obj)))


def _enc_frozenset(obj: frozenset[Any], pack: Pack) -> Ext:
    return Ext(FROZENSET, pack(list(obj)))


def _enc_deque(obj: collections.deque[Any], pack: Pack) -> Ext:
    return Ext(DEQUE, pack([obj.maxlen, list(obj)]))


def _enc_pair_dict(obj: PairDict, pack: Pack) -> Ext:
    return Ext(KEYED_DICT, pack(_flat_items(obj.value)))


def _enc_ordered_dict(obj: collections.OrderedDict[Any, Any], pack: Pack) -> Ext:
    return Ext(ORDERED_DICT, pack(_flat_items(obj)))


def _enc_counter(obj: collections.Counter[Any], pack: Pack) -> Ext:
    return Ext(COUNTER, pack(_flat_items(obj)))


_FACTORIES: dict[str, type | None] = {
    t.__name__: t for t in (list, dict, set, frozenset, tuple, int, float, str, bytes, bool)
}
_FACTORIES["None"] = None


def _enc_defaultdict(obj: collections.defaultdict[Any, Any], pack: Pack) -> Ext:
    factory = obj.default_factory
    name = "None" if factory is None else getattr(factory, "__name__", "")
    if _FACTORIES.get(name, False) is not factory:
        raise TypeError(
            f"defaultdict with default_factory {factory!r} is not supported; "
            f"only builtin factories ({', '.join(sorted(_FACTORIES))}) are"
        )
    return Ext(DEFAULTDICT, pack([name, _flat_items(obj)]))


def _dec_tuple(data: bytes, unpack: Unpack) -> tuple[Any, ...]:
    return tuple(expect(unpack(data), list, "tuple"))


def _dec_set(data: bytes, unpack: Unpack) -> set[Any]:
    return set(expect(unpack(data), list, "set"))


def _dec_frozenset(data: bytes, unpack: Unpack) -> frozenset[Any]:
    return frozenset(expect(unpack(data), list, "frozenset"))


def make_deque(items: Any, maxlen: Any) -> collections.deque[Any]:
    """A deque from stored items and ``maxlen``, validated (shared with the JSON loader)."""
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise ValueError(f"malformed deque: bad maxlen {maxlen!r}")
    return collections.deque(expect(items, list, "deque"), maxlen)


def _dec_deque(data: bytes, unpack: Unpack) -> collections.deque[Any]:
    maxlen, items = expect(unpack(data), list, "deque")
    return make_deque(items, maxlen)


def _dec_keyed_dict(data: bytes, unpack: Unpack) -> dict[Any, Any]:
    return dict(_pairs(data, unpack, "dict"))


def _dec_ordered_dict(data: bytes, unpack: Unpack) -> collections.OrderedDict[Any, Any]:
    return collections.OrderedDict(_pairs(data, unpack, "OrderedDict"))


def _dec_counter(data: bytes, unpack: Unpack) -> collections.Counter[Any]:
    counter: collections.Counter[Any] = collections.Counter()
    counter.update(dict(_pairs(data, unpack, "Counter")))
    return counter


def _dec_defaultdict(data: bytes, unpack: Unpack) -> collections.defaultdict[Any, Any]:
    name, flat = expect(unpack(data), list, "defaultdict")
    if not isinstance(name, str) or name not in _FACTORIES:
        raise ValueError(f"malformed defaultdict: unknown default_factory {name!r}")
    out: collections.defaultdict[Any, Any] = collections.defaultdict(_FACTORIES[name])
    if len(expect(flat, list, "defaultdict")) % 2:
        raise ValueError("malformed defaultdict: odd number of items")
    it = iter(flat)
    out.update(zip(it, it, strict=True))
    return out


# --- scalars -----------------------------------------------------------------------------


def _enc_bigint(obj: int, pack: Pack) -> Ext:
    return Ext(BIGINT, obj.to_bytes((obj.bit_length() + 8) // 8, "big", signed=True))


def _dec_bigint(data: bytes, unpack: Unpack) -> int:
    if not data:
        raise ValueError("malformed int: empty payload")
    return int.from_bytes(data, "big", signed=True)


def _enc_bytearray(obj: bytearray, pack: Pack) -> Ext:
    return Ext(BYTEARRAY, bytes(obj))


def _dec_bytearray(data: bytes, unpack: Unpack) -> bytearray:
    return bytearray(data)


def _enc_surrogate(obj: SurrogateStr, pack: Pack) -> Ext:
    return Ext(SURROGATE_STR, obj.value.encode("utf-8", "surrogatepass"))


def _dec_surrogate(data: bytes, unpack: Unpack) -> str:
    return data.decode("utf-8", "surrogatepass")


def _enc_complex(obj: complex, pack: Pack) -> Ext:
    return Ext(COMPLEX, pack([obj.real, obj.imag]))


def _dec_complex(data: bytes, unpack: Unpack) -> complex:
    real, imag = expect(unpack(data), list, "complex")
    return complex(expect(real, float, "complex"), expect(imag, float, "complex"))


def _enc_uuid(obj: uuid.UUID, pack: Pack) -> Ext:
    return Ext(UUID, obj.bytes)


def _dec_uuid(data: bytes, unpack: Unpack) -> uuid.UUID:
    return uuid.UUID(bytes=data)


def _enc_decimal(obj: decimal.Decimal, pack: Pack) -> Ext:
    return Ext(DECIMAL, str(obj).encode("ascii"))


def _dec_decimal(data: bytes, unpack: Unpack) -> decimal.Decimal:
    return decimal.Decimal(data.decode("ascii"))


# --- dates and times ---------------------------------------------------------------------

_UTC = _dt.UTC
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]{1,40}(?:/[A-Za-z0-9_+\-]{1,40}){0,3}")


def _is_plain_offset(tz: _dt.tzinfo) -> bool:
    """True for a ``datetime.timezone`` that ISO 8601 text carries exactly (no custom name)."""
    if tz is _UTC:
        return True
    if type(tz) is not _dt.timezone:
        return False
    offset = tz.utcoffset(None)
    return tz.tzname(None) == _dt.timezone(offset).tzname(None)


def _tz_spec(tz: _dt.tzinfo | None) -> Any:
    if tz is None:
        return None
    if type(tz) is zoneinfo.ZoneInfo:
        if tz.key is None:
            raise TypeError("a ZoneInfo built from a file (key=None) cannot be serialized")
        return ["zone", tz.key]
    if type(tz) is _dt.timezone:
        off = tz.utcoffset(None)
        name = None if _is_plain_offset(tz) else tz.tzname(None)
        return ["fixed", off.days, off.seconds, off.microseconds, name]
    return ["obj", tz]


def make_zone(key: Any) -> zoneinfo.ZoneInfo:
    """The ``ZoneInfo`` of a stored key, refusing anything but a plain zone name (shared)."""
    if type(key) is not str or not _ZONE_KEY.fullmatch(key):
        raise ValueError(f"malformed zone key {key!r:.80}")
    # The standard library looks the key up in TZPATH, then in the ``tzdata`` package.
    return zoneinfo.ZoneInfo(key)


def _tz_from_spec(spec: Any) -> _dt.tzinfo | None:
    if spec is None:
        return None
    kind = expect(spec, list, "tzinfo")[0]
    if kind == "zone" and len(spec) == 2:
        return make_zone(spec[1])
    if kind == "fixed" and len(spec) == 5:
        _, days, seconds, micros, name = spec
        off = _dt.timedelta(days=days, seconds=seconds, microseconds=micros)
        if name is None:
            return _dt.timezone(off)
        return _dt.timezone(off, expect(name, str, "timezone name"))
    if kind == "obj" and len(spec) == 2:
        tz: _dt.tzinfo = expect(spec[1], _dt.tzinfo, "tzinfo")
        return tz
    raise ValueError(f"malformed tzinfo: {spec!r:.80}")


def _enc_datetime(obj: _dt.datetime, pack: Pack) -> Ext:
    tz = obj.tzinfo
    if not obj.fold and (tz is None or _is_plain_offset(tz)):
        return Ext(DATETIME, obj.isoformat().encode("ascii"))
    naive = obj.replace(tzinfo=None, fold=0).isoformat()
    return Ext(DATETIME_TZ, pack([naive, _tz_spec(tz), obj.fold]))


def _dec_datetime(data: bytes, unpack: Unpack) -> _dt.datetime:
    return _dt.datetime.fromisoformat(data.decode("ascii"))


def _dec_datetime_tz(data: bytes, unpack: Unpack) -> _dt.datetime:
    naive, spec, fold = expect(unpack(data), list, "datetime")
    value = _dt.datetime.fromisoformat(expect(naive, str, "datetime"))
    return value.replace(tzinfo=_tz_from_spec(spec), fold=fold)


def _enc_date(obj: _dt.date, pack: Pack) -> Ext:
    return Ext(DATE, obj.isoformat().encode("ascii"))


def _dec_date(data: bytes, unpack: Unpack) -> _dt.date:
    return _dt.date.fromisoformat(data.decode("ascii"))


def _enc_time(obj: _dt.time, pack: Pack) -> Ext:
    naive = obj.replace(tzinfo=None, fold=0).isoformat()
    return Ext(TIME, pack([naive, _tz_spec(obj.tzinfo), obj.fold]))


def _dec_time(data: bytes, unpack: Unpack) -> _dt.time:
    naive, spec, fold = expect(unpack(data), list, "time")
    value = _dt.time.fromisoformat(expect(naive, str, "time"))
    return value.replace(tzinfo=_tz_from_spec(spec), fold=fold)


def _enc_timedelta(obj: _dt.timedelta, pack: Pack) -> Ext:
    return Ext(TIMEDELTA, pack([obj.days, obj.seconds, obj.microseconds]))


def _dec_timedelta(data: bytes, unpack: Unpack) -> _dt.timedelta:
    days, seconds, micros = expect(unpack(data), list, "timedelta")
    for part in (days, seconds, micros):
        expect(part, int, "timedelta")
    return _dt.timedelta(days=days, seconds=seconds, microseconds=micros)


# --- paths, addresses, patterns ----------------------------------------------------------

_PATH_KINDS: dict[type, bytes] = {
    pathlib.PurePosixPath: b"p",
    pathlib.PureWindowsPath: b"w",
    pathlib.PosixPath: b"P",
    pathlib.WindowsPath: b"W",
}
_CONCRETE = pathlib.Path().__class__  # PosixPath or WindowsPath, whichever this OS builds
_PATH_CLASSES: dict[int, type[pathlib.PurePath]] = {
    ord("p"): pathlib.PurePosixPath,
    ord("w"): pathlib.PureWindowsPath,
    # A concrete path of the other OS cannot be instantiated here: it loads as its pure twin.
    ord("P"): pathlib.PosixPath if _CONCRETE is pathlib.PosixPath else pathlib.PurePosixPath,
    ord("W"): pathlib.WindowsPath if _CONCRETE is pathlib.WindowsPath else pathlib.PureWindowsPath,
}


def _enc_path(obj: pathlib.PurePath, pack: Pack) -> Ext:
    return Ext(PATH, _PATH_KINDS[type(obj)] + str(obj).encode("utf-8", "surrogatepass"))


def _dec_path(data: bytes, unpack: Unpack) -> pathlib.PurePath:
    if not data or data[0] not in _PATH_CLASSES:
        raise ValueError("malformed path payload")
    return _PATH_CLASSES[data[0]](data[1:].decode("utf-8", "surrogatepass"))


_IP_TYPES: tuple[type, ...] = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)
_IP_KINDS = {t: bytes([i]) for i, t in enumerate(_IP_TYPES)}


def _enc_ip(obj: Any, pack: Pack) -> Ext:
    return Ext(IPADDR, _IP_KINDS[type(obj)] + str(obj).encode("utf-8"))


def _dec_ip(data: bytes, unpack: Unpack) -> Any:
    if not data or data[0] >= len(_IP_TYPES):
        raise ValueError("malformed ip address payload")
    return _IP_TYPES[data[0]](data[1:].decode("utf-8"))


def _enc_pattern(obj: re.Pattern[Any], pack: Pack) -> Ext:
    return Ext(PATTERN, pack([obj.pattern, obj.flags]))


# Flags a stored pattern may carry (re.DEBUG would print, re.TEMPLATE is deprecated).
_RE_FLAGS = re.IGNORECASE | re.LOCALE | re.MULTILINE | re.DOTALL | re.UNICODE | re.VERBOSE
_RE_FLAGS |= re.ASCII


def make_pattern(pattern: Any, flags: Any) -> re.Pattern[Any]:
    """A compiled pattern from stored text and flags, validated (shared with the JSON loader)."""
    if type(flags) is not int or flags & ~_RE_FLAGS:
        raise ValueError(f"malformed re.Pattern: bad flags {flags!r}")
    return re.compile(expect(pattern, (str, bytes), "re.Pattern"), flags)


def _dec_pattern(data: bytes, unpack: Unpack) -> re.Pattern[Any]:
    pattern, flags = expect(unpack(data), list, "re.Pattern")
    return make_pattern(pattern, flags)


ENCODERS: dict[type, Encoder] = {
    tuple: _enc_tuple,
    set: _enc_set,
    frozenset: _enc_frozenset,
    collections.deque: _enc_deque,
    collections.OrderedDict: _enc_ordered_dict,
    collections.Counter: _enc_counter,
    collections.defaultdict: _enc_defaultdict,
    PairDict: _enc_pair_dict,
    SurrogateStr: _enc_surrogate,
    int: _enc_bigint,
    bytearray: _enc_bytearray,
    complex: _enc_complex,
    uuid.UUID: _enc_uuid,
    decimal.Decimal: _enc_decimal,
    _dt.datetime: _enc_datetime,
    _dt.date: _enc_date,
    _dt.time: _enc_time,
    _dt.timedelta: _enc_timedelta,
    re.Pattern: _enc_pattern,
    **{t: _enc_path for t in _PATH_KINDS},
    **{t: _enc_ip for t in _IP_TYPES},
}

DECODERS: dict[int, Decoder] = {
    TUPLE: _dec_tuple,
    SET: _dec_set,
    FROZENSET: _dec_frozenset,
    DEQUE: _dec_deque,
    KEYED_DICT: _dec_keyed_dict,
    ORDERED_DICT: _dec_ordered_dict,
    COUNTER: _dec_counter,
    DEFAULTDICT: _dec_defaultdict,
    SURROGATE_STR: _dec_surrogate,
    BIGINT: _dec_bigint,
    BYTEARRAY: _dec_bytearray,
    COMPLEX: _dec_complex,
    UUID: _dec_uuid,
    DECIMAL: _dec_decimal,
    DATETIME: _dec_datetime,
    DATETIME_TZ: _dec_datetime_tz,
    DATE: _dec_date,
    TIME: _dec_time,
    TIMEDELTA: _dec_timedelta,
    PATH: _dec_path,
    IPADDR: _dec_ip,
    PATTERN: _dec_pattern,
}
