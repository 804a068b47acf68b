"""State schemas (TypedDict, dataclass, pydantic v2 model): their channels, how to build a
node's input from channel values, and how to turn a node's output into updates."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
import typing
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typing_extensions

from waypoint.channels.base import BaseChannel
from waypoint.channels.binop import BinaryOperatorAggregate
from waypoint.channels.delta import DeltaChannel
from waypoint.channels.last_value import LastValue
from waypoint.errors import InvalidGraphError, InvalidUpdateError

try:  # pydantic is optional
    from pydantic import BaseModel
except ImportError:  # pragma: no cover - exercised only without pydantic
    BaseModel = None  # type: ignore[assignment,misc]


ROOT = "__root__"
"""The one channel of a graph whose state schema is not a class (``list[str]``,
``Annotated[list, operator.add]``, ``int``, ``dict``): it holds the whole state."""
ROOT_KEYS = frozenset({ROOT})


def is_root_schema(schema: Any) -> bool:
    """True for a schema without annotations: LangGraph's rule for a single root channel."""
    return schema is not None and not hasattr(schema, "__annotations__")


def is_pydantic(schema: Any) -> bool:
    return BaseModel is not None and isinstance(schema, type) and issubclass(schema, BaseModel)


def schema_kind(schema: Any) -> str:
    """"dict" (TypedDict or any mapping), "dataclass" or "pydantic"."""
    if dataclasses.is_dataclass(schema) and isinstance(schema, type):
        return "dataclass"
    if is_pydantic(schema):
        return "pydantic"
    return "dict"


def _hints(schema: Any, localns: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        return get_type_hints(schema, localns=localns, include_extras=True)
    except Exception:
        hints = dict(getattr(schema, "__annotations__", {}))
        if any(isinstance(h, str) for h in hints.values()):
            raise InvalidGraphError(
                f"Cannot resolve the annotations of {schema!r} ({hints}); define the schema and "
                "its reducers at module level, or avoid `from __future__ import annotations`"
            ) from None
        return hints


_QUALIFIERS = frozenset(
    q
    for mod in (typing, typing_extensions)
    for q in (getattr(mod, n, None) for n in ("Required", "NotRequired", "ReadOnly"))
    if q is not None
)


def strip_qualifiers(annotation: Any) -> Any:
    """``annotation`` without ``Required`` / ``NotRequired`` / ``ReadOnly`` at any depth of
    ``Annotated`` nesting, keeping every Annotated extra (so a reducer is never lost)."""
    origin = get_origin(annotation)
    if origin in _QUALIFIERS:
        return strip_qualifiers(get_args(annotation)[0])
    if origin is Annotated:
        inner, *extras = get_args(annotation)
        bare = strip_qualifiers(inner)
        if bare is not inner:
            return Annotated[(bare, *extras)]  # flattens a nested Annotated
    return annotation


def field_types(schema: Any, localns: dict[str, Any] | None = None) -> dict[str, Any]:
    """Field name -> annotation (Annotated extras kept, Required/NotRequired/ReadOnly gone)."""
    return {k: strip_qualifiers(t) for k, t in _field_types(schema, localns).items()}


def _field_types(schema: Any, localns: dict[str, Any] | None) -> dict[str, Any]:
    if is_root_schema(schema):
        return {ROOT: schema}
    kind = schema_kind(schema)
    hints = _hints(schema, localns)
    if kind == "dataclass":
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(schema)}
    if kind == "pydantic":
        return {name: hints.get(name, f.annotation) for name, f in schema.model_fields.items()}
    if not hints and schema not in (Any, None):
        raise InvalidGraphError(
            f"State schema {schema!r} declares no fields: use a TypedDict, dataclass or "
            "pydantic model with annotated fields, or a plain type such as "
            "Annotated[list, operator.add] for a state that is one value"
        )
    return hints


def channel_for(key: str, annotation: Any) -> BaseChannel:
    """LastValue, or the reducer/channel named in ``Annotated[T, ...]``."""
    if get_origin(annotation) is Annotated:
        typ, *extras = get_args(annotation)
        for extra in reversed(extras):
            if isinstance(extra, DeltaChannel):  # typed by the field, as in LangGraph
                return extra.for_field(key, typ)
            if isinstance(extra, BaseChannel):
                ch = extra.copy()
                ch.key = key
                return ch
            if isinstance(extra, type) and issubclass(extra, BaseChannel):
                return extra(typ, key=key)
            if callable(extra):
                _check_reducer(key, extra)
                return BinaryOperatorAggregate(typ, extra, key=key)
        annotation = typ
    return LastValue(annotation, key=key)


def _check_reducer(key: str, fn: Callable[..., Any]) -> None:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        return  # builtins such as operator.add have no inspectable signature everywhere
    if params and not any(p.kind == p.VAR_POSITIONAL for p in params) and len(params) < 2:
        raise InvalidGraphError(
            f"Reducer for state key {key!r} must take two arguments (current, update), "
            f"got {fn!r}"
        )


def channels_for(schema: Any, localns: dict[str, Any] | None = None) -> dict[str, BaseChannel]:
    return {k: channel_for(k, t) for k, t in field_types(schema, localns).items()}


def make_reader(schema: Any, keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A function building a node's input (the schema's type) from channel values."""
    if keys == (ROOT,):
        return lambda values: values.get(ROOT)
    kind = schema_kind(schema)
    if kind == "dict":

        def read(values: dict[str, Any]) -> Any:
            return {k: values[k] for k in keys if k in values}

        return read

    def read_obj(values: dict[str, Any]) -> Any:
        return schema(**{k: values[k] for k in keys if k in values})

    return read_obj


def coerce_input(schema: Any, arg: Any) -> Any:
    """A Send's argument as the node's input type."""
    kind = schema_kind(schema)
    if kind != "dict" and isinstance(arg, dict):
        return schema(**arg)
    return arg


def _default_of(schema: Any, kind: str, name: str) -> Any:
    if kind == "pydantic":
        f = schema.model_fields[name]
        if f.default_factory is not None:
            try:
                return f.default_factory()
            except TypeError:
                return dataclasses.MISSING
        return f.default
    for f in dataclasses.fields(schema):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return dataclasses.MISSING


def object_updates(obj: Any) -> list[tuple[str, Any]] | None:
    """Updates from a dataclass / pydantic instance: fields set explicitly or differing from
    their defaults (so defaults never overwrite state). None when ``obj`` is neither."""
    cls = type(obj)
    kind = schema_kind(cls)
    if kind == "dict":
        return None
    if kind == "pydantic":
        names = list(cls.model_fields)
        explicit = obj.model_fields_set
    else:
        names = [f.name for f in dataclasses.fields(cls)]
        explicit = set()
    out = []
    for name in names:
        value = getattr(obj, name)
        if name in explicit or value != _default_of(cls, kind, name):
            out.append((name, value))
    return out


def output_items(output: Any, what: str) -> list[tuple[str, Any]]:
    """(key, value) pairs of a node's dict/object output; InvalidUpdateError otherwise."""
    if isinstance(output, dict):
        return list(output.items())
    items = object_updates(output)
    if items is None:
        raise InvalidUpdateError(
            f"{what} must return a dict of state updates (or a Command, or None), "
            f"got {type(output).__name__}: {output!r}"
        )
    return items
