"""State schemas whose annotations are strings (``from __future__ import annotations``) keep
their reducers: names resolve in the schema's module, in the function that built the graph,
or in that function's module; when nothing resolves them the graph is refused with a named
error (a NameError too, as LangGraph raises), never built with the reducer silently lost."""

from __future__ import annotations

import operator
import textwrap
import types
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from waypoint.errors import InvalidGraphError, UnresolvedAnnotationError
from waypoint.graph import START, StateGraph


def _run(pkg: str, schema: Any) -> Any:
    graph_mod = __import__(f"{pkg}.graph", fromlist=["StateGraph", "START"])
    g = graph_mod.StateGraph(schema)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(graph_mod.START, "a")
    g.add_edge("a", "b")
    return g.compile().invoke({"log": ["in"]})


_SOURCE = '''
from __future__ import annotations
import operator
from typing import Annotated, TypedDict
from {pkg}.graph import START, StateGraph

def build():
    def merge(a, b):
        return a + b

    class S(TypedDict):
        log: Annotated[list, merge]
        total: Annotated[list, operator.add]

    g = StateGraph(S)
    g.add_node("a", lambda s: {{"log": ["a"], "total": ["a"]}})
    g.add_node("b", lambda s: {{"log": ["b"], "total": ["b"]}})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    return g.compile()

def schema_elsewhere():
    def merge(a, b):
        return a + b

    class S(TypedDict):
        log: Annotated[list, merge]

    return S
'''


def _load(pkg: str, name: str, *, register: bool) -> types.ModuleType:
    """The source above as a module, registered in sys.modules or only exec'd (as code run by
    a notebook runner or ``exec`` is)."""
    import sys

    module = types.ModuleType(name)
    if register:
        sys.modules[name] = module
    exec(compile(textwrap.dedent(_SOURCE.format(pkg=pkg)), f"<{name}>", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("register", [True, False], ids=["in-sys-modules", "exec-only"])
def test_function_local_schema_keeps_local_reducer(register: bool) -> None:
    import sys

    name = f"_wp_schema_res_{register}"
    try:
        module = _load("waypoint", name, register=register)
        out = module.build().invoke({"log": ["in"], "total": ["in"]})
    finally:
        sys.modules.pop(name, None)
    assert out == {"log": ["in", "a", "b"], "total": ["in", "a", "b"]}
    if register:  # LangGraph resolves the same schema only through the module
        lg = _load("langgraph", name + "_lg", register=False)
        with pytest.raises(NameError):
            lg.build()


def test_unresolvable_annotation_is_refused_like_langgraph() -> None:
    import sys

    name = "_wp_schema_res_gone"
    try:
        wp = _load("waypoint", name, register=True).schema_elsewhere()
        lg = _load("langgraph", name + "_lg", register=True).schema_elsewhere()
        with pytest.raises(NameError, match="merge"):
            _run("langgraph", lg)
        # the function that knew `merge` has returned: the reducer cannot be found
        with pytest.raises(UnresolvedAnnotationError, match=r"field 'log' of state schema .*S.*merge") as info:
            _run("waypoint", wp)
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(name + "_lg", None)
    assert isinstance(info.value, NameError) and isinstance(info.value, InvalidGraphError)
    assert "module level" in str(info.value)


def test_input_schema_of_a_node_is_resolved_too() -> None:
    def merge(a: list, b: list) -> list:
        return a + b

    class S(TypedDict):
        log: Annotated[list, operator.add]

    class Private(TypedDict):
        log: Annotated[list, operator.add]
        extra: Annotated[list, merge]

    def a(state: S) -> Any:
        return {"log": ["a"], "extra": ["x"]}

    def b(state: Private) -> Any:
        return {"log": [f"extra={state['extra']}"], "extra": ["y"]}

    g = StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", b)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    assert g.compile().invoke({"log": []}) == {"log": ["a", "extra=['x']"]}
    assert g.channels["extra"].operator is merge


def test_pydantic_model_resolved_by_pydantic_keeps_reducer() -> None:
    def make() -> type:
        def merge(a: list, b: list) -> list:
            return a + b

        class M(BaseModel):
            log: Annotated[list, merge] = []

        return M

    M = make()  # its module resolves `Annotated` but not `merge`; pydantic kept both
    g = StateGraph(M)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    assert g.compile().invoke({"log": ["in"]})["log"] == ["in", "a", "b"]
