"""State schemas (TypedDict, dataclass, pydantic v2 model): their channels, how to build a
node's input from channel values, and how to turn a node's output into updates."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
import typing
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typing_extensions

from waypoint.channels.base import BaseChannel
from waypoint.channels.binop import BinaryOperatorAggregate
from waypoint.channels.delta import DeltaChannel
from waypoint.channels.last_value import LastValue
from waypoint.managed.base import is_managed_value
from waypoint.errors import InvalidGraphError, InvalidUpdateError, UnresolvedAnnotationError

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


def _hints(
    schema: Any, localns: dict[str, Any] | None = None, globalns: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The schema's resolved annotations. Names resolve in the schema's module, then in
    ``localns`` (the scope that built the graph), then in ``globalns`` (that scope's module,
    for a schema whose own module is not importable, e.g. code run with ``exec``). An
    annotation that still does not resolve raises UnresolvedAnnotationError: a reducer is never
    dropped silently."""
    try:
        return get_type_hints(schema, localns=localns, include_extras=True)
    except Exception as exc:
        error: Exception = exc
    if globalns is not None:
        module = getattr(sys.modules.get(getattr(schema, "__module__", None) or ""), "__dict__", {})
        try:
            return get_type_hints(
                schema, globalns={**globalns, **module}, localns=localns, include_extras=True
            )
        except Exception as exc:
            error = exc
    hints = dict(getattr(schema, "__annotations__", {}))
    unresolved = {k: h for k, h in hints.items() if isinstance(h, (str, typing.ForwardRef))}
    if unresolved or isinstance(error, NameError):
        raise _unresolved(schema, unresolved or hints, error, localns, globalns) from error
    return hints


def _unresolved(
    schema: Any, hints: dict[str, Any], error: Exception, localns: Any, globalns: Any
) -> UnresolvedAnnotationError:
    """The error naming the first field whose annotation does not resolve, and why."""
    module = getattr(sys.modules.get(getattr(schema, "__module__", None) or ""), "__dict__", {})
    scope = {**(globalns or {}), **module, **(localns or {})}
    field, reason = next(iter(hints), "?"), error
    for name, hint in hints.items():
        text = hint.__forward_arg__ if isinstance(hint, typing.ForwardRef) else hint
        if not isinstance(text, str):
            continue
        try:
            eval(text, scope)  # the same evaluation get_type_hints does, to find the culprit
        except Exception as exc:
            field, reason = name, exc
            break
    name = getattr(schema, "__qualname__", repr(schema))
    return UnresolvedAnnotationError(
        f"Cannot resolve the annotation of field {field!r} of state schema {name} "
        f"({type(reason).__name__}: {reason}). Its reducer or type would be lost, so the graph "
        "is refused: define the schema and the names it uses (reducers, types) at module level, "
        "build the StateGraph in the function that defines them, or drop "
        "`from __future__ import annotations` from the schema's module"
    )


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


def field_types(
    schema: Any, localns: dict[str, Any] | None = None, globalns: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Field name -> annotation (Annotated extras kept, Required/NotRequired/ReadOnly gone)."""
    return {k: strip_qualifiers(t) for k, t in _field_types(schema, localns, globalns).items()}


def _field_types(schema: Any, localns: dict[str, Any] | None, globalns: dict[str, Any] | None) -> dict[str, Any]:
    if is_root_schema(schema):
        return {ROOT: schema}
    kind = schema_kind(schema)
    if kind == "pydantic":
        return _pydantic_fields(schema, localns, globalns)
    hints = _hints(schema, localns, globalns)
    if kind == "dataclass":
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(schema)}
    if not hints and schema not in (Any, None):
        raise InvalidGraphError(
            f"State schema {schema!r} declares no fields: use a TypedDict, dataclass or "
            "pydantic model with annotated fields, or a plain type such as "
            "Annotated[list, operator.add] for a state that is one value"
        )
    return hints


def _pydantic_fields(schema: Any, localns: Any, globalns: Any) -> dict[str, Any]:
    """A pydantic model's fields. When its annotations do not resolve here but pydantic
    resolved them when the class was made, its field info (type + metadata, where pydantic
    keeps an ``Annotated`` reducer) is used."""
    try:
        hints = _hints(schema, localns, globalns)
    except UnresolvedAnnotationError:
        if not getattr(schema, "__pydantic_complete__", False):
            raise
        return {
            name: Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
            for name, f in schema.model_fields.items()
        }
    return {name: hints.get(name, f.annotation) for name, f in schema.model_fields.items()}


def channel_for(key: str, annotation: Any) -> BaseChannel:
    """LastValue, or the reducer/channel named in ``Annotated[T, ...]``; for a managed value
    (``RemainingSteps``...) its ``ManagedValue`` class, which is not a channel."""
    if get_origin(annotation) is Annotated:
        typ, *extras = get_args(annotation)
        for extra in reversed(extras):
            if is_managed_value(extra):
                return extra  # type: ignore[no-any-return]
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


def channels_for(
    schema: Any, localns: dict[str, Any] | None = None, globalns: dict[str, Any] | None = None
) -> dict[str, BaseChannel]:
    return {k: channel_for(k, t) for k, t in field_types(schema, localns, globalns).items()}


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
