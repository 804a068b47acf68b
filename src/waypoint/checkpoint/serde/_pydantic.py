"""Pydantic v2 models: encoded as their field values, nested models folded into their parent.

A model is stored as ``[module, qualname, values]`` (every field set explicitly, no extras) or
``[module, qualname, values, fields_set, extra]``, where ``fields_set`` lists the explicitly set
fields by name or by their position in ``values``. A nested model would need its own extension
and class reference; instead, where a field's annotation names exactly one model class
(``Address``, ``Address | None``, ``list[Address]``, ``dict[str, Address]``, ``Annotated`` of
those) and the value there is an instance of exactly that class with every field set and no
extras, it is written as its plain values dict and the payload uses the ``PYDANTIC_V2_TREE``
code. Loading rebuilds every plain dict found at such a position with that class, checked
against the type policy like a stored class reference.

This is exact because a plain ``dict`` at a model position can only come from folding: a value
that would load as a plain dict there (a dict put in by ``model_construct``, say) makes the
parent fall back to the per-model form, where nested models keep their own class reference.
Subclass instances, partly set models and anything else keep their class reference too.

Rebuilding never runs class code: ``object.__new__`` plus ``__dict__`` and the fields-set /
extra / private slots (``construct``). That is what ``model_construct`` does, minus its hooks:
no ``__new__`` override, no ``model_post_init``, no validators; private attributes get their
declared defaults; a field missing from the payload (written by another version of the class)
gets its default, unless its default factory takes the other fields' data, which would run
class code on stored data: such a payload is refused.
"""

from __future__ import annotations

import sys
import threading
import types
import typing
from collections.abc import Callable
from typing import Any

from ormsgpack import Ext

from waypoint._process import renew_lock_after_fork
from waypoint.checkpoint.serde._policy import TypePolicy, class_kind, pydantic_v2_base
from waypoint.checkpoint.serde._stdlib import (
    PYDANTIC_V2,
    PYDANTIC_V2_TREE,
    Decoder,
    Encoder,
    Pack,
    Unpack,
    expect,
)

# Deeper nested models keep their own extension (whose nesting the codec bounds); a folded
# payload nested deeper than this is refused.
MAX_FOLD_DEPTH = 48

# A shape says what a field holds: ("model", class, field names, their count), or
# ("list" | "dict", shape of the items).
Shape = Any
_direct_cache: dict[type, tuple[frozenset[str], bool] | None] = {}
_fold_cache: dict[type, tuple[tuple[str, Shape], ...]] = {}


def direct_plan(cls: Any) -> tuple[frozenset[str], bool] | None:
    """``(field names, extra allowed)`` if a model is rebuilt by setting its slots only.

    Setting ``__dict__``, the fields set and the extras is all ``construct`` does for a model
    without private attributes or ``model_post_init`` when every field is given.
    """
    try:
        return _direct_cache[cls]
    except KeyError:
        pass
    plan: tuple[frozenset[str], bool] | None = None
    if not cls.__private_attributes__ and cls.__pydantic_post_init__ is None:
        plan = (frozenset(cls.__pydantic_fields__), cls.model_config.get("extra") == "allow")
    if len(_direct_cache) > 4096:
        _direct_cache.clear()
    _direct_cache[cls] = plan
    return plan


def _foldable_class(cls: Any) -> bool:
    if not isinstance(cls, type) or class_kind(cls) != "pydantic" or "<locals>" in cls.__qualname__:
        return False
    if not getattr(cls, "__pydantic_complete__", False) or cls.__pydantic_root_model__:
        return False
    plan = direct_plan(cls)
    return plan is not None and not plan[1]


def _shape(annotation: Any) -> Shape:
    """The shape of values a field annotated ``annotation`` folds, or ``None``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _shape(args[0])
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        return _shape(rest[0]) if len(rest) == 1 else None
    if origin is list and len(args) == 1:
        inner = _shape(args[0])
        return None if inner is None else ("list", inner)
    if origin is dict and len(args) == 2:
        inner = _shape(args[1])
        return None if inner is None else ("dict", inner)
    if origin is None and _foldable_class(annotation):
        fields = direct_plan(annotation)[0]  # type: ignore[index]
        return ("model", annotation, fields, len(fields))
    return None


def fold_plan(cls: Any) -> tuple[tuple[str, Shape], ...]:
    """The fields of ``cls`` whose values may hold folded models, with their shapes."""
    try:
        return _fold_cache[cls]
    except KeyError:
        pass
    plan: tuple[tuple[str, Shape], ...] = ()
    if getattr(cls, "__pydantic_complete__", False):
        found = []
        for name, info in cls.__pydantic_fields__.items():
            shape = _shape(info.annotation)
            if shape is not None:
                found.append((name, shape))
        plan = tuple(found)
    if len(_fold_cache) > 4096:
        _fold_cache.clear()
    _fold_cache[cls] = plan
    return plan


# --- encoding ---------------------------------------------------------------------------------
#
# Each shape gets a function ``fold(value, depth)`` built once; a model's function holds the
# functions of its folding fields (filled in after it is registered, so recursive models work).

Fold = Callable[[Any, int], Any]


class ShapeFunctions:
    """One function per shape (a folder or an unfolder), built once and memoized.

    ``list_of``/``dict_of`` wrap the function of the items' shape; ``model(shape, steps)``
    builds a model's function, whose ``steps`` (field name, function of the field's shape) are
    filled in after it exists, because a recursive model's fields refer back to it. A build
    publishes its functions only once all are complete, under one lock, so another thread never
    sees a half-built one.
    """

    def __init__(
        self,
        list_of: Callable[[Any], Any],
        dict_of: Callable[[Any], Any],
        model: Callable[[Shape, list[Any]], Any],
        on_clear: Callable[[], None] = lambda: None,
    ) -> None:
        self._list_of, self._dict_of, self._model, self._on_clear = list_of, dict_of, model, on_clear
        self._done: dict[Any, Any] = {}
        self._lock = threading.Lock()
        renew_lock_after_fork(self)

    def get(self, shape: Shape) -> Any:
        fn = self._done.get(shape)
        if fn is None:
            with self._lock:
                pending: dict[Any, Any] = {}
                fn = self._build(shape, pending)
                if len(self._done) > 4096:
                    self._done.clear()
                    self._on_clear()
                self._done.update(pending)
        return fn

    def _build(self, shape: Shape, pending: dict[Any, Any]) -> Any:
        fn = self._done.get(shape) or pending.get(shape)
        if fn is not None:
            return fn
        if shape[0] == "list":
            fn = self._list_of(self._build(shape[1], pending))
        elif shape[0] == "dict":
            fn = self._dict_of(self._build(shape[1], pending))
        else:
            steps: list[tuple[str, Any]] = []
            fn = pending[shape] = self._model(shape, steps)
            steps.extend((name, self._build(inner, pending)) for name, inner in fold_plan(shape[1]))
        pending[shape] = fn
        return fn


class _Ambiguous(Exception):
    """A value at a model position would load as a folded model (a plain dict)."""


def _model_folder(cls: Any, fields: frozenset[str], count: int, steps: list[Any]) -> Fold:
    def fold(value: Any, depth: int) -> Any:
        if type(value) is not cls:
            if type(value) is dict:
                raise _Ambiguous
            return value
        values = value.__dict__
        if (
            value.__pydantic_extra__ is not None
            or value.__pydantic_fields_set__ != fields
            or len(values) != count  # with every field set: the fields are the keys
            or depth >= MAX_FOLD_DEPTH
        ):
            return value  # keeps its class reference
        if not steps:
            return values
        depth += 1
        out = dict(values)
        try:
            for name, fold_field in steps:
                out[name] = fold_field(values[name], depth)
        except _Ambiguous:
            return value
        return out

    return fold


def _list_folder(fold_item: Fold) -> Fold:
    def fold(value: Any, depth: int) -> Any:
        if type(value) is not list:
            return value
        return [fold_item(item, depth) for item in value]

    return fold


def _dict_folder(fold_item: Fold) -> Fold:
    def fold(value: Any, depth: int) -> Any:
        if type(value) is not dict:
            return value
        return {key: fold_item(item, depth) for key, item in value.items()}

    return fold


_folders = ShapeFunctions(
    _list_folder, _dict_folder, lambda shape, steps: _model_folder(shape[1], shape[2], shape[3], steps)
)


def encoder(cls: Any, module: str, qualname: str) -> Encoder:
    """The encoder of a pydantic v2 model class."""
    steps = [(name, _folders.get(shape)) for name, shape in fold_plan(cls)]

    def enc_pydantic(obj: Any, pack: Pack) -> Ext:
        values = obj.__dict__
        code = PYDANTIC_V2
        if steps:
            folded = values
            try:
                for name, fold in steps:
                    value = values.get(name)
                    new = fold(value, 1)
                    if new is not value:
                        if folded is values:
                            folded = dict(values)
                        folded[name] = new
            except _Ambiguous:
                folded = values  # nested models keep their class references
            if folded is not values:
                values = folded
                code = PYDANTIC_V2_TREE
        fields_set = obj.__pydantic_fields_set__
        extra = obj.__pydantic_extra__
        if extra is None and len(fields_set) == len(values) and fields_set == values.keys():
            return Ext(code, pack([module, qualname, values]))
        # Fields set by their position in ``values`` (smaller), extras' names after them.
        set_: list[Any] = [i for i, name in enumerate(values) if name in fields_set]
        if len(set_) != len(fields_set):
            set_ += sorted(name for name in fields_set if name not in values)
        return Ext(code, pack([module, qualname, values, set_, extra]))

    return enc_pydantic


# --- decoding ---------------------------------------------------------------------------------

Unfold = Callable[[Any, int], Any]
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
_setters: list[tuple[Any, ...]] = []


def slot_setters() -> tuple[Any, ...]:
    """The ``__set__`` of every model's four slots (pydantic is imported once a class is)."""
    if not _setters:
        slots = vars(pydantic_v2_base())
        _setters.append(tuple(slots[name].__set__ for name in _SLOTS))
    return _setters[0]


def construct(
    cls: Any, values: dict[str, Any], fields_set: set[str] | None, extra: dict[str, Any] | None
) -> Any:
    """``model_construct`` without running class code (no ``__new__``, ``model_post_init``).

    ``values`` (consumed) maps field names to values; names that are not fields join
    ``extra`` when the class allows extras and are dropped otherwise, as ``model_construct``
    does. ``fields_set`` defaults to the fields given.
    """
    undefined = vars(sys.modules["pydantic_core"])["PydanticUndefined"]
    if not all(type(name) is str for name in values):
        raise TypeError(f"malformed {cls.__qualname__}: non-str field name")
    state: dict[str, Any] = {}
    given: set[str] = set()
    for name, field in cls.__pydantic_fields__.items():
        if name in values:
            state[name] = values.pop(name)
            given.add(name)
        elif not field.is_required():
            if field.default_factory_takes_validated_data:
                raise ValueError(
                    f"malformed {cls.__qualname__}: field {name!r} is missing and its default "
                    "factory would be called with stored data"
                )
            state[name] = field.get_default(call_default_factory=True)
    if fields_set is None:
        fields_set = given
    if cls.model_config.get("extra") == "allow":
        extra = {**values, **(extra or {})}
    else:
        extra = None
    private = None
    if cls.__private_attributes__:
        private = {}
        for name, attr in cls.__private_attributes__.items():
            if attr.default_factory_takes_validated_data:
                continue  # it would receive stored data: left unset
            default = attr.get_default(call_default_factory=True)
            if default is not undefined:
                private[name] = default
    set_dict, set_fields, set_extra, set_private = slot_setters()
    obj = object.__new__(cls)
    set_dict(obj, state)
    set_fields(obj, fields_set)
    set_extra(obj, extra)
    set_private(obj, private)
    return obj


def decoders(policy: TypePolicy) -> dict[int, Decoder]:
    """Decoders of the pydantic v2 ext codes, bound to ``policy``."""
    resolve = policy.resolve
    plans: dict[type, list[tuple[str, Unfold]]] = {}
    new = object.__new__

    def fields_plan(cls: Any) -> list[tuple[str, Unfold]]:
        steps = plans.get(cls)
        if steps is None:
            steps = plans[cls] = [(name, unfolders.get(shape)) for name, shape in fold_plan(cls)]
        return steps

    def model_unfolder(cls: Any, fields: frozenset[str], steps: list[Any]) -> Unfold:
        set_dict, set_fields, set_extra, set_private = slot_setters()
        checked = False

        def unfold(value: Any, depth: int) -> Any:
            nonlocal checked
            if type(value) is not dict:
                return value
            if not checked:
                policy.check(cls, "pydantic")  # as if the payload named the class
                checked = True
            if steps:
                if depth >= MAX_FOLD_DEPTH:
                    raise ValueError("malformed pydantic model: folded models nested too deeply")
                depth += 1
                for name, unfold_field in steps:
                    item = value.get(name)
                    if item is not None:
                        value[name] = unfold_field(item, depth)
            if value.keys() != fields:  # written by another version of the class
                return construct(cls, value, None, None)
            obj = new(cls)
            set_dict(obj, value)
            set_fields(obj, set(fields))
            set_extra(obj, None)
            set_private(obj, None)
            return obj

        return unfold

    def list_unfolder(unfold_item: Unfold) -> Unfold:
        def unfold(value: Any, depth: int) -> Any:
            if type(value) is list:
                for i, item in enumerate(value):
                    value[i] = unfold_item(item, depth)
            return value

        return unfold

    def dict_unfolder(unfold_item: Unfold) -> Unfold:
        def unfold(value: Any, depth: int) -> Any:
            if type(value) is dict:
                for key, item in value.items():
                    value[key] = unfold_item(item, depth)
            return value

        return unfold

    unfolders = ShapeFunctions(
        list_unfolder, dict_unfolder, lambda shape, steps: model_unfolder(shape[1], shape[2], steps),
        on_clear=plans.clear,
    )

    def load(payload: Any, tree: bool) -> Any:
        if type(payload) is list and len(payload) == 3:
            module, qualname, values = payload
            fields_set = extra = None
        else:
            module, qualname, values, fields_set, extra = expect(payload, list, "pydantic model")
        cls: Any = resolve(module, qualname, "pydantic")
        if type(values) is not dict:
            raise TypeError("malformed pydantic model: values are not a dict")
        if fields_set is None:
            fields = set(values)
        else:
            names = list(values)
            fields = set()
            for name in expect(fields_set, list, "fields set"):
                if type(name) is int:
                    if not 0 <= name < len(names):
                        raise ValueError("malformed pydantic model: bad fields-set index")
                    name = names[name]
                fields.add(name)
        if extra is not None and type(extra) is not dict:
            raise TypeError("malformed pydantic model: extra is not a dict")
        if tree:
            for name, unfold in fields_plan(cls):
                value = values.get(name)
                if value is not None:
                    values[name] = unfold(value, 1)
        plan = direct_plan(cls)
        if plan is not None and values.keys() == plan[0] and (extra is not None) == plan[1]:
            obj: Any = new(cls)
            set_dict, set_fields, set_extra, set_private = slot_setters()
            set_dict(obj, values)
            set_fields(obj, fields)
            set_extra(obj, extra)
            set_private(obj, None)
            return obj
        return construct(cls, values, fields, extra)

    def dec_pydantic(data: bytes, unpack: Unpack) -> Any:
        return load(unpack(data), False)

    def dec_pydantic_tree(data: bytes, unpack: Unpack) -> Any:
        return load(unpack(data), True)

    return {PYDANTIC_V2: dec_pydantic, PYDANTIC_V2_TREE: dec_pydantic_tree}


__all__ = ["MAX_FOLD_DEPTH", "construct", "decoders", "direct_plan", "encoder", "fold_plan"]
