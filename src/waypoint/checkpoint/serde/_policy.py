"""Which classes stored data may name, and how a stored class reference is resolved safely.

A class reference is a ``(module, qualname)`` pair. It is resolved only through modules that are
already in ``sys.modules``, by looking names up in the module's and classes' own ``__dict__``
(so a module-level ``__getattr__`` that lazily imports is never triggered), and the class found
must carry that same module and qualname. Nothing here calls a callable; the one import it
makes is of a ``langchain_core`` module holding one of LangChain's data classes that are allowed
by default (``_langchain.SAFE_TYPES``), when stored data names that class. A reference that
cannot be loaded raises ``DisallowedTypeError`` saying how to allow it.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Iterable
from typing import Any, Literal

from waypoint.errors import DisallowedTypeError, SerializationError

Kind = Literal[
    "enum", "dataclass", "pydantic", "pydantic_v1", "namedtuple", "exception", "object", "lc"
]

_KIND_NAMES: dict[str, str] = {
    "enum": "an Enum",
    "dataclass": "a dataclass",
    "pydantic": "a pydantic v2 model",
    "pydantic_v1": "a pydantic.v1 model",
    "namedtuple": "a NamedTuple",
    "exception": "an exception",
    "object": "an explicitly allowed class",
    "lc": "a LangChain Serializable class",
}
_MRO = vars(type)["__mro__"]


def _module_class(module: str, name: str) -> Any:
    """Return ``module.name`` if that module is imported and defines it, else ``None``."""
    mod = sys.modules.get(module)
    if mod is None:
        return None
    return vars(mod).get(name)


def pydantic_v2_base() -> Any:
    """``pydantic.BaseModel`` if pydantic v2 is imported, without importing it."""
    return _module_class("pydantic.main", "BaseModel")


def pydantic_v1_base() -> Any:
    """``pydantic.v1.BaseModel`` if it is imported, without importing it."""
    return _module_class("pydantic.v1.main", "BaseModel")


def lc_serializable_base() -> Any:
    """langchain-core's ``Serializable`` if it is imported, without importing it."""
    return _module_class("langchain_core.load.serializable", "Serializable")


def is_lc_serializable(cls: type) -> bool:
    """True if ``cls`` subclasses langchain-core's ``Serializable`` (an MRO check, no hooks)."""
    base = lc_serializable_base()
    return base is not None and base in _MRO.__get__(cls)


def is_namedtuple_class(cls: type) -> bool:
    return issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def class_kind(cls: type) -> Kind | None:
    """The implicitly loadable kind ``cls`` belongs to, if any."""
    if issubclass(cls, enum.Enum):
        return "enum"
    if issubclass(cls, BaseException):  # before dataclass: a dataclass exception needs its args
        return "exception"
    base = pydantic_v2_base()
    if base is not None and issubclass(cls, base):
        return "pydantic"
    base = pydantic_v1_base()
    if base is not None and issubclass(cls, base):
        return "pydantic_v1"
    if dataclasses.is_dataclass(cls):
        return "dataclass"
    if is_namedtuple_class(cls):
        return "namedtuple"
    return None


def class_ref(cls: type) -> tuple[str, str]:
    """The ``(module, qualname)`` pair stored for ``cls``; refuses classes loading cannot find."""
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        raise TypeError(
            f"cannot serialize an instance of {cls.__module__}.{qualname}: classes defined "
            "inside a function cannot be found again when loading; define it at module level"
        )
    return cls.__module__, qualname


class TypePolicy:
    """Decides which stored class references may be turned back into classes."""

    def __init__(
        self,
        allowed_types: Iterable[type] | None = None,
        allowed_modules: Iterable[str] | None = None,
        strict: bool = False,
    ) -> None:
        types = tuple(allowed_types or ())
        for t in types:
            if not isinstance(t, type):
                raise TypeError(f"allowed_types must hold classes, got {t!r}")
        modules = allowed_modules or ()
        if isinstance(modules, str):
            modules = (modules,)
        self.allowed_types: frozenset[type] = frozenset(types)
        self.allowed_modules: tuple[str, ...] = tuple(modules)
        self.strict = strict
        self._cache: dict[tuple[str, str, str], type] = {}

    def explicitly_allowed(self, cls: type) -> bool:
        """True if ``cls`` is listed in ``allowed_types`` or lives in an allowed module."""
        if cls in self.allowed_types:
            return True
        module = getattr(cls, "__module__", None)
        if not isinstance(module, str):
            return False
        return any(module == m or module.startswith(m + ".") for m in self.allowed_modules)

    def resolve(self, module: Any, qualname: Any, kind: Kind) -> type:
        """Find the class a payload names and check it may be loaded as ``kind``."""
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise TypeError("malformed class reference")
        key = (module, qualname, kind)
        cls = self._cache.get(key)
        if cls is None:
            cls = self._resolve(module, qualname, kind)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = cls
        return cls

    def _resolve(self, module: str, qualname: str, kind: Kind) -> type:
        dotted = f"{module}.{qualname}"
        mod = sys.modules.get(module)
        if mod is None and module.startswith("langchain_core."):
            from waypoint import _langchain

            if _langchain.import_safe_module(module, qualname):
                mod = sys.modules.get(module)
        if mod is None:
            raise disallowed(
                module, qualname, "not imported",
                f"module {module!r} is not imported (loading never imports your modules)",
            )
        obj: Any = mod
        for part in qualname.split("."):
            try:
                namespace = vars(obj)
            except TypeError:
                namespace = {}
            obj = namespace.get(part)
            if obj is None:
                raise disallowed(module, qualname, "unknown", f"module {module!r} has no such class")
        if not isinstance(obj, type):
            raise disallowed(module, qualname, "not a class", "not an allowed type (it is not a class)")
        if obj.__module__ != module or obj.__qualname__ != qualname:
            raise disallowed(
                module, qualname, "alias", f"the name refers to {obj.__module__}.{obj.__qualname__}"
            )
        self.check(obj, kind)
        return obj

    def check(self, cls: type, kind: Kind) -> None:
        """Raise ``SerializationError`` unless ``cls`` may be rebuilt as ``kind``."""
        dotted = f"{cls.__module__}.{cls.__qualname__}"
        explicit = self.explicitly_allowed(cls)
        actual = class_kind(cls)
        if kind == "object":
            implicit = False
        elif kind == "lc":
            # The constructor form calls the class with stored arguments: only LangChain's own
            # Serializable classes (pydantic models whose constructor LangChain's loader calls).
            if not is_lc_serializable(cls):
                raise SerializationError(
                    f"refusing to load {dotted!r} from LangChain's constructor form: it is not a "
                    "langchain_core Serializable class, and the form would call it with stored "
                    "arguments"
                )
            implicit = True
        else:
            if actual != kind:
                raise SerializationError(
                    f"refusing to load {dotted!r}: the payload says {_KIND_NAMES[kind]} "
                    "but the class is not one"
                )
            implicit = True
        if explicit or (implicit and not self.strict):
            return
        if implicit:
            if _default_safe(cls):
                return
            raise disallowed(cls.__module__, cls.__qualname__, "strict", "strict=True requires listing it in allowed_types or allowed_modules")
        raise disallowed(cls.__module__, cls.__qualname__, "not allowed", "not an allowed type")


def _default_safe(cls: type) -> bool:
    """LangChain's data classes (messages, documents...) are allowed even with strict=True."""
    if not cls.__module__.startswith("langchain_core."):
        return False
    from waypoint import _langchain

    return _langchain.is_safe_type(cls)


def disallowed(module: str, qualname: str, reason: str, why: str) -> DisallowedTypeError:
    """The error for stored data naming a class this process will not load, with the fix."""
    dotted = f"{module}.{qualname}"
    if module == "__main__":
        fix = (
            "the class was defined in the writing program's __main__: move it to a module, or "
            "let the waypoint command load the program with --main PROGRAM.py"
        )
    elif reason == "not imported":
        fix = f"import it before loading (the waypoint command: -I {module})"
    elif reason == "unknown":
        fix = "this version of the module lacks it (renamed or removed?)"
    elif reason in ("not a class", "alias"):
        fix = "stored data may only name classes by their own module and name"
    else:
        fix = "pass allowed_types=[...] or allowed_modules=[...] to the serializer to permit it"
    return DisallowedTypeError(
        f"refusing to load {dotted!r}: {why}; {fix}", type_name=dotted, module=module, reason=reason
    )
