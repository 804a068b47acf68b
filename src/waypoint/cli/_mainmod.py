"""``--main PROGRAM.py``: read checkpoints holding classes a program defined in its ``__main__``.

A class defined in the script a program runs is stored as ``__main__.Name``. In the waypoint
command ``__main__`` is the command itself, so such values cannot be found. ``adopt`` loads the
program as a module under another name (so its ``if __name__ == "__main__":`` block does not
run), labels the classes it defines as ``__main__``'s and places them in this process's
``__main__``, where the serializer looks for them. Only the command's own process is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from waypoint.cli._urls import CliError

MODULE_NAME = "__waypoint_main__"


def _load(program: str) -> ModuleType:
    path = Path(program)
    if program.endswith(".py") or path.is_file():
        if not path.is_file():
            raise CliError(f"--main: no such file: {program}")
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
        if spec is None or spec.loader is None:
            raise CliError(f"--main: cannot load {program} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        sys.path.insert(0, str(path.resolve().parent))  # the program's sibling modules
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(MODULE_NAME, None)
            raise CliError(f"--main: running the top level of {program} failed: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(program)
    except ImportError as exc:
        raise CliError(f"--main: cannot import module {program!r}: {exc}") from None


def _relabel(cls: type, origin: str, seen: set[int]) -> None:
    if id(cls) in seen:
        return
    seen.add(id(cls))
    cls.__module__ = "__main__"
    for value in list(vars(cls).values()):
        if isinstance(value, type) and getattr(value, "__module__", None) == origin:
            _relabel(value, origin, seen)


def adopt(program: str) -> list[str]:
    """Load ``program`` (a file or module) and expose its classes as ``__main__.<name>``;
    returns their names."""
    module = _load(program)
    origin = module.__name__
    main: Any = sys.modules["__main__"]
    names: list[str] = []
    seen: set[int] = set()
    for name, value in list(vars(module).items()):
        if isinstance(value, type) and value.__module__ == origin:
            _relabel(value, origin, seen)
            setattr(main, name, value)
            names.append(name)
    return names


__all__ = ["adopt"]
