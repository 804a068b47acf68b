"""Loading of ``"json"``-tagged data: plain JSON, and LangChain's constructor form.

``{"lc": 1, "type": "constructor", "id": [...], "kwargs": {...}}`` (what LangChain's
``Serializable.to_json()`` writes) and LangGraph's older ``{"lc": 2, ...}`` form are rebuilt
bottom-up under the same rules as msgpack class references: the class must already be imported
and be of an implicitly loadable kind (unless ``strict``) or explicitly allowed. Only a
langchain_core ``Serializable`` class is called with the stored arguments; dataclasses,
pydantic models, Enums and NamedTuples are rebuilt without running their code, other classes
are refused (``_rebuild.from_constructor``). A few standard-library ids of the ``lc: 2`` form
(UUID, datetimes, Decimal, sets...) are rebuilt from a fixed table. Other ``lc`` objects
(``secret``, ``not_implemented``) stay plain dicts: secrets are never read from the environment.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import ipaddress
import json
import pathlib
import sys
import uuid
from collections.abc import Callable
from typing import Any

from waypoint.checkpoint.serde._policy import TypePolicy, disallowed
from waypoint.checkpoint.serde._rebuild import from_constructor
from waypoint.checkpoint.serde._stdlib import make_deque, make_pattern, make_zone
from waypoint.errors import SerializationError


def _iso(cls: Any) -> Callable[[list[Any], dict[str, Any]], Any]:
    def build(args: list[Any], kwargs: dict[str, Any]) -> Any:
        if len(args) == 1 and isinstance(args[0], str) and not kwargs:
            return cls.fromisoformat(args[0])
        return cls(*args, **kwargs)

    return build


def _call(cls: Any) -> Callable[[list[Any], dict[str, Any]], Any]:
    def build(args: list[Any], kwargs: dict[str, Any]) -> Any:
        return cls(*args, **kwargs)

    return build


def _validated(
    build: Callable[..., Any], names: tuple[str, ...], defaults: tuple[Any, ...]
) -> Callable[[list[Any], dict[str, Any]], Any]:
    """Bind positional and keyword arguments to ``names``, then call a shared ``_stdlib``
    builder, so a value is validated the same way whether JSON or msgpack carries it."""

    def build_from(args: list[Any], kwargs: dict[str, Any]) -> Any:
        if len(args) > len(names) or not set(kwargs) <= set(names[len(args) :]):
            raise TypeError(f"malformed {build.__name__} arguments")
        values = list(args) + [
            kwargs.get(name, default)
            for name, default in zip(names[len(args) :], defaults[len(args) :], strict=True)
        ]
        if any(v is _REQUIRED for v in values):
            raise TypeError(f"malformed {build.__name__} arguments: missing a value")
        return build(*values)

    return build_from


_REQUIRED = object()

# Standard-library constructors the lc:2 form may name; each only receives plain JSON data.
_STDLIB_IDS: dict[tuple[str, ...], Callable[[list[Any], dict[str, Any]], Any]] = {
    ("uuid", "UUID"): _call(uuid.UUID),
    ("decimal", "Decimal"): _call(decimal.Decimal),
    ("datetime", "datetime"): _iso(_dt.datetime),
    ("datetime", "date"): _iso(_dt.date),
    ("datetime", "time"): _iso(_dt.time),
    ("datetime", "timedelta"): _call(_dt.timedelta),
    ("zoneinfo", "ZoneInfo"): _validated(make_zone, ("key",), (_REQUIRED,)),
    ("builtins", "set"): _call(set),
    ("builtins", "frozenset"): _call(frozenset),
    ("builtins", "tuple"): _call(tuple),
    ("collections", "deque"): _validated(make_deque, ("iterable", "maxlen"), ([], None)),
    ("re", "compile"): _validated(make_pattern, ("pattern", "flags"), (_REQUIRED, 0)),
    **{
        ("pathlib", c.__name__): _call(c)
        for c in (pathlib.Path, pathlib.PosixPath, pathlib.PurePosixPath, pathlib.PureWindowsPath)
    },
    **{
        ("ipaddress", name): _call(getattr(ipaddress, name))
        for name in (
            "IPv4Address",
            "IPv6Address",
            "IPv4Network",
            "IPv6Network",
            "IPv4Interface",
            "IPv6Interface",
        )
    },
}

def _find_lc_class(ident: list[str]) -> Any:
    """Find the imported class a LangChain id names, without importing anything.

    Tries the id as a module path, then LangChain's own id mapping if that module is
    imported, then (for the legacy ``langchain.*`` namespace) the imported
    ``langchain_core`` modules that define a class of that name.
    """
    *namespace, name = ident
    mod = sys.modules.get(".".join(namespace))
    direct = vars(mod).get(name) if mod is not None else None
    if isinstance(direct, type):
        return direct
    mapping_mod = sys.modules.get("langchain_core.load.mapping")
    if mapping_mod is not None:
        for table in ("SERIALIZABLE_MAPPING", "OLD_CORE_NAMESPACES_MAPPING"):
            target = vars(mapping_mod).get(table, {}).get(tuple(ident))
            if target:
                mod = sys.modules.get(".".join(target[:-1]))
                found = vars(mod).get(target[-1]) if mod is not None else None
                if isinstance(found, type):
                    return found
    if namespace and namespace[0] == "langchain":
        key = tuple(ident)
        found = _legacy_cache.get(key)
        if found is not None:
            return found
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or not mod_name.startswith("langchain_core."):
                continue
            found = vars(mod).get(name)
            if isinstance(found, type) and found.__module__ == mod_name:
                if len(_legacy_cache) < 1024:
                    _legacy_cache[key] = found
                return found
    return direct


_legacy_cache: dict[tuple[str, ...], type] = {}


class JsonReviver:
    """``object_hook`` for ``json.loads`` that rebuilds LangChain constructor forms."""

    def __init__(self, policy: TypePolicy) -> None:
        self.policy = policy

    def __call__(self, value: dict[str, Any]) -> Any:
        lc = value.get("lc")
        if type(lc) is not int or value.get("type") != "constructor":
            return value
        ident = value.get("id")
        if not isinstance(ident, list) or not ident or not all(isinstance(p, str) for p in ident):
            raise SerializationError("malformed LangChain constructor: bad 'id'")
        args = value.get("args") or []
        kwargs = value.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise SerializationError("malformed LangChain constructor: bad 'args' or 'kwargs'")
        dotted = ".".join(ident)
        builtin = _STDLIB_IDS.get(tuple(ident)) if lc == 2 else None
        if builtin is not None:
            return builtin(args, kwargs)
        cls = _find_lc_class(ident)
        if cls is None and ident[0] in ("langchain", "langchain_core"):
            from waypoint import _langchain

            if _langchain.import_safe_modules():  # LangChain's data classes, by their ids
                cls = _find_lc_class(ident)
        module = ".".join(ident[:-1])
        if cls is not None and not isinstance(cls, type):
            raise disallowed(module, ident[-1], "not a class", "not an allowed type (it is not a class)")
        if cls is None:
            if module not in sys.modules:
                raise disallowed(
                    module, ident[-1], "not imported",
                    f"module {module!r} is not imported (loading never imports your modules)",
                )
            raise disallowed(module, ident[-1], "unknown", f"module {module!r} has no such class")
        return from_constructor(self.policy, cls, args, kwargs)


def loads_json(data: bytes | str, policy: TypePolicy) -> Any:
    """Parse a JSON document, rebuilding LangChain constructor forms under ``policy``."""
    try:
        if not isinstance(data, str):
            # JSON text is UTF-8; decoding here also keeps json from importing UTF-16/32 codecs.
            data = data.decode("utf-8")
        return json.loads(data, object_hook=JsonReviver(policy))
    except SerializationError:
        raise
    except RecursionError:
        raise SerializationError("malformed json payload: nested too deeply") from None
    except Exception as exc:
        raise SerializationError(f"malformed json payload: {type(exc).__name__}: {exc}") from exc
