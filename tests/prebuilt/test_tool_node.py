"""ToolNode, tools_condition and ValidationNode, side by side with LangGraph 1.2's: each test
builds the same node with both libraries and compares what comes out."""

import asyncio
import threading
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, Union

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from pydantic import BaseModel, field_validator

from tests.prebuilt._libs import lib, show
from tests.prebuilt._models import ai, call
from waypoint.errors import ToolInjectionError, ToolNodeInputError, ToolResultError
from waypoint.graph.message import add_messages

BOTH = ["langgraph", "waypoint"]


def both(fn: Any) -> tuple[Any, Any]:
    """``fn(lib)`` for LangGraph and for waypoint: (theirs, ours), each a value or the
    exception's class."""
    out = []
    for name in BOTH:
        try:
            out.append(fn(lib(name)))
        except Exception as exc:  # compared by class below
            out.append(type(exc))
    return out[0], out[1]


def in_graph(L: Any, node: Any, inp: Any, schema: Any = None) -> Any:
    """Run ``node`` as the only node of a graph (LangGraph 1.2's ToolNode needs its runtime:
    invoked on its own it raises); a list input runs on a list-of-messages root state."""
    if schema is None:
        schema = Annotated[list, add_messages] if isinstance(inp, list) else L.MessagesState
    return L.StateGraph(schema).add_node("tools", node).add_edge(L.START, "tools").compile()


def run_node(L: Any, node: Any, inp: Any, schema: Any = None) -> Any:
    return in_graph(L, node, inp, schema).invoke(inp)


def state(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage("hi"), ai("", *calls, id="ai-1")]}


# --- running calls ----------------------------------------------------------------------------


def test_sync_tools_run_in_parallel_threads() -> None:
    # each call waits for the other at a barrier: it only passes when both run at once
    def run(L: Any) -> Any:
        gate = threading.Barrier(2, timeout=20)

        @tool
        def wait(x: int) -> str:
            """Wait for the other call."""
            gate.wait()
            return f"done {x}"

        return show(run_node(L, L.ToolNode([wait]), state(call("wait", {"x": 1}, "c1"), call("wait", {"x": 2}, "c2"))))

    theirs, ours = both(run)
    assert ours == theirs
    assert [m[1] for m in ours["messages"][2:]] == ["done 1", "done 2"]


def test_async_tools_run_concurrently() -> None:
    def run(L: Any) -> Any:
        async def go() -> Any:
            arrived = {1: asyncio.Event(), 2: asyncio.Event()}

            @tool
            async def meet(x: int) -> str:
                """Wait for the other call."""
                arrived[x].set()
                await asyncio.wait_for(arrived[3 - x].wait(), 20)
                return f"met {x}"

            inp = state(call("meet", {"x": 1}, "c1"), call("meet", {"x": 2}, "c2"))
            return await in_graph(L, L.ToolNode([meet]), inp).ainvoke(inp)

        return show(asyncio.run(go()))

    theirs, ours = both(run)
    assert ours == theirs
    assert [m[1] for m in ours["messages"][2:]] == ["met 1", "met 2"]


def test_list_input_gives_list_output_and_content_is_json() -> None:
    @tool
    def info(city: str) -> dict:
        """City facts."""
        return {"city": city, "größe": 3}

    def run(L: Any) -> Any:
        return show(run_node(L, L.ToolNode([info]), [ai("", call("info", {"city": "Köln"}, "c1"), id="a")]))

    theirs, ours = both(run)
    assert ours == theirs
    assert ours[-1][1] == '{"city": "Köln", "größe": 3}'


def test_plain_functions_become_tools_and_unknown_names_are_answered() -> None:
    def double(x: int) -> int:
        """Double x."""
        return 2 * x

    def run(L: Any) -> Any:
        node = L.ToolNode([double])
        return sorted(node.tools_by_name), show(run_node(L, node, state(call("double", {"x": 4}, "c1"),
                                                                     call("triple", {"x": 4}, "c2"))))

    theirs, ours = both(run)
    assert ours == theirs
    assert ours[1]["messages"][3][4] == "error"


# --- handle_tool_errors -------------------------------------------------------------------


@tool
def flaky(kind: str) -> str:
    """Fails with the named error."""
    if kind == "value":
        raise ValueError("bad value")
    if kind == "key":
        raise KeyError("missing")
    return "ok"


def only_value(e: ValueError) -> str:
    return f"value handler: {e}"


def value_or_key(e: Union[ValueError, KeyError]) -> str:
    return f"either: {type(e).__name__}"


POLICIES = {
    "default": None, "true": True, "false": False, "text": "it broke", "class": ValueError,
    "tuple": (KeyError, TypeError), "handler": only_value, "union-handler": value_or_key,
}


@pytest.mark.parametrize("kind", ["value", "key", "args"])
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_handle_tool_errors_as_langgraph(policy: str, kind: str) -> None:
    args = {"kind": kind} if kind != "args" else {"kind": ["not", "a", "string"]}

    def run(L: Any) -> Any:
        kwargs = {} if POLICIES[policy] is None else {"handle_tool_errors": POLICIES[policy]}
        return show(run_node(L, L.ToolNode([flaky], **kwargs), state(call("flaky", args, "c1"))))

    theirs, ours = both(run)
    if isinstance(theirs, type):  # the error went through: the same kind on both sides
        assert isinstance(ours, type) and ours.__name__ == theirs.__name__
    else:
        assert ours == theirs


def test_bad_handler_annotation_is_a_named_error() -> None:
    from waypoint.errors import AgentConfigError
    from waypoint.prebuilt import ToolNode

    def handler(e: int) -> str:
        return "no"

    with pytest.raises(AgentConfigError, match="annotate"):
        ToolNode([flaky], handle_tool_errors=handler)


def test_interrupts_pass_through_handle_tool_errors_true() -> None:
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.graph import START, MessagesState, StateGraph
    from waypoint.prebuilt import ToolNode
    from waypoint.types import Command, interrupt

    @tool
    def ask(question: str) -> str:
        """Ask a human."""
        return f"human said {interrupt(question)}"

    graph = (StateGraph(MessagesState).add_node("tools", ToolNode([ask], handle_tool_errors=True))
             .add_edge(START, "tools").compile(checkpointer=InMemorySaver()))
    cfg = {"configurable": {"thread_id": "t"}}
    out = graph.invoke(state(call("ask", {"question": "ok?"}, "c1")), cfg)
    assert out["__interrupt__"][0].value == "ok?"
    out = graph.invoke(Command(resume="yes"), cfg)
    assert out["messages"][-1].content == "human said yes"


# --- Command results ------------------------------------------------------------------------


class UserState(TypedDict):
    messages: Annotated[list, add_messages]
    user: str


def test_tool_returning_command_updates_the_state() -> None:
    def run(L: Any) -> Any:
        @tool
        def login(name: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
            """Log the user in."""
            return L.Command(update={"user": name, "messages": [
                ToolMessage(f"hello {name}", tool_call_id=tool_call_id)]})

        @tool
        def echo(x: str) -> str:
            """Echo."""
            return x

        graph = (L.StateGraph(UserState).add_node("tools", L.ToolNode([login, echo]))
                 .add_edge(L.START, "tools").compile())
        inp = {**state(call("login", {"name": "ann"}, "c1"), call("echo", {"x": "e"}, "c2")), "user": ""}
        return show(graph.invoke(inp)), show(list(graph.stream(inp, stream_mode="updates")))

    theirs, ours = both(run)
    assert ours == theirs
    out, updates = ours
    assert out["user"] == "ann" and out["messages"][2][1:4] == ("hello ann", "login", "c1")
    assert len(updates[0]["tools"]) == 3  # one update per write: user, login's and echo's messages


def test_command_without_its_tool_message_is_refused() -> None:
    from waypoint.prebuilt import ToolNode
    from waypoint.types import Command

    @tool
    def silent(x: str) -> Any:
        """Updates without answering."""
        return Command(update={"user": x})

    with pytest.raises(ToolResultError, match="ToolMessage"):
        ToolNode([silent]).invoke({**state(call("silent", {"x": "a"}, "c1")), "user": ""})


def test_parent_commands_with_sends_are_merged() -> None:
    from waypoint.prebuilt import ToolNode
    from waypoint.types import Command, Send

    @tool
    def hand_off(to: str) -> Any:
        """Hand off."""
        return Command(graph=Command.PARENT, goto=[Send(to, {"x": 1})])

    out = ToolNode([hand_off]).invoke(state(call("hand_off", {"to": "a"}, "c1"), call("hand_off", {"to": "b"}, "c2")))
    assert len(out) == 1 and [s.node for s in out[0].goto] == ["a", "b"]


# --- injected arguments ---------------------------------------------------------------------


@dataclass
class Ctx:
    user_id: str


class FullState(TypedDict):
    messages: Annotated[list, add_messages]
    topic: str


def test_injected_state_store_call_id_and_runtime_in_a_graph() -> None:
    def run(L: Any) -> Any:
        @tool
        def remember(fact: str, topic: Annotated[str, L.InjectedState("topic")],
                     whole: Annotated[dict, L.InjectedState],
                     store: Annotated[Any, L.InjectedStore()],
                     call_id: Annotated[str, InjectedToolCallId]) -> str:
            """Remember a fact."""
            store.put(("facts",), call_id, {"fact": fact, "topic": topic})
            return f"{topic}: {fact} ({len(whole['messages'])} messages, call {call_id})"

        @tool
        def who(runtime: L.ToolRuntime) -> str:
            """Who is asking."""
            item = runtime.store.get(("facts",), "c1")
            runtime.stream_writer({"who": runtime.context.user_id})
            return (f"{runtime.context.user_id} asked in call {runtime.tool_call_id}; state has "
                    f"{sorted(runtime.state)}; fact {item.value['fact'] if item else None}; "
                    f"{len(runtime.tools)} tools")

        store = L.InMemoryStore()
        graph = (L.StateGraph(FullState, context_schema=Ctx).add_node("tools", L.ToolNode([remember, who]))
                 .add_edge(L.START, "tools").compile(store=store))
        inp = {**state(call("remember", {"fact": "sky is blue", "topic": "forged", "whole": {}}, "c1")), "topic": "nature"}
        first = graph.invoke(inp, context=Ctx("ann"))
        second = list(graph.stream({**state(call("who", {}, "c2")), "topic": "x"}, context={"user_id": "bo"},
                                   stream_mode=["custom", "updates"]))
        schema = sorted(remember.tool_call_schema.model_json_schema()["properties"])
        return show(first["messages"][-1]), show(second), store.get(("facts",), "c1").value, schema

    theirs, ours = both(run)
    assert ours == theirs
    assert ours[0][1] == "nature: sky is blue (2 messages, call c1)"  # the forged topic is dropped
    assert ours[3] == ["fact"]  # the model sees only its own argument


def test_injected_store_without_a_store_is_a_named_error() -> None:
    from waypoint.prebuilt import InjectedStore, ToolNode

    @tool
    def save(x: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Save."""
        return x

    with pytest.raises(ToolInjectionError, match="store="):
        ToolNode([save], handle_tool_errors=False).invoke(state(call("save", {"x": "a"}, "c1")))


def test_missing_state_key_is_a_named_error() -> None:
    from waypoint.prebuilt import InjectedState, ToolNode

    @tool
    def read(x: str, topic: Annotated[str, InjectedState("topic")]) -> str:
        """Read."""
        return topic

    with pytest.raises(ToolInjectionError, match="'topic'"):
        ToolNode([read], handle_tool_errors=False).invoke(state(call("read", {"x": "a"}, "c1")))


def test_bad_input_is_a_named_error() -> None:
    from waypoint.prebuilt import ToolNode, tools_condition

    with pytest.raises(ToolNodeInputError, match="no messages"):
        ToolNode([flaky]).invoke({"other": 1})
    with pytest.raises(ToolNodeInputError, match="no AI message"):
        ToolNode([flaky]).invoke({"messages": [HumanMessage("hi")]})
    with pytest.raises(ToolNodeInputError, match="messages_key"):
        tools_condition({"messages": []})


# --- tools_condition ------------------------------------------------------------------------


class Chat(BaseModel):
    history: list


@pytest.mark.parametrize("value", [
    state(call("x", {}, "c")), {"messages": [AIMessage("done")]}, [AIMessage("done")],
    [ai("", call("x", {}, "c"), id="a")],
])
def test_tools_condition_as_langgraph(value: Any) -> None:
    theirs, ours = both(lambda L: L.tools_condition(value))
    assert ours == theirs
    theirs, ours = both(lambda L: L.tools_condition(Chat(history=value if isinstance(value, list) else value["messages"]),
                                                    messages_key="history"))
    assert ours == theirs


# --- ValidationNode -------------------------------------------------------------------------


class SelectNumber(BaseModel):
    a: int

    @field_validator("a")
    @classmethod
    def meaningful(cls, v: int) -> int:
        if v != 37:
            raise ValueError("Only 37 is allowed")
        return v


def pick(color: str, shade: int = 1) -> None:
    """Pick a color."""


def test_validation_node_as_langgraph() -> None:
    def run(L: Any) -> Any:
        with warnings.catch_warnings():  # LangGraph's is deprecated in favour of langchain.agents
            warnings.simplefilter("ignore")
            node = L.ValidationNode([SelectNumber, pick])
        inp = state(call("SelectNumber", {"a": 37}, "c1"), call("SelectNumber", {"a": 3}, "c2"),
                    call("pick", {"color": "red"}, "c3"))
        return show(run_node(L, node, inp)), \
            run_node(L, node, [ai("", call("pick", {"shade": 2}, "c4"), id="x")])[-1].additional_kwargs

    theirs, ours = both(run)
    assert ours == theirs
    assert ours[0]["messages"][2][1] == '{"a":37}' and ours[1] == {"is_error": True}



class Approval(BaseModel):
    ok: bool


def test_refused_resume_values_are_never_answered_as_tool_errors() -> None:
    # handle_tool_errors=True answers every tool error, but not a resume value the interrupt's
    # response_schema refused: the run fails and the interrupt stays open for a new answer
    from pydantic import ValidationError

    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.graph import START, MessagesState, StateGraph
    from waypoint.prebuilt import ToolNode
    from waypoint.types import Command, interrupt

    @tool
    def ask(question: str) -> str:
        """Ask for approval."""
        return f"approved={interrupt(question, response_schema=Approval).ok}"

    graph = (StateGraph(MessagesState).add_node("tools", ToolNode([ask], handle_tool_errors=True))
             .add_edge(START, "tools").compile(checkpointer=InMemorySaver()))
    cfg = {"configurable": {"thread_id": "t"}}
    graph.invoke(state(call("ask", {"question": "ship it?"}, "c1")), cfg)
    with pytest.raises(ValidationError):
        graph.invoke(Command(resume={"ok": "perhaps"}), cfg)
    assert [i.value for i in graph.get_state(cfg).interrupts] == ["ship it?"]
    out = graph.invoke(Command(resume={"ok": True}), cfg)
    assert out["messages"][-1].content == "approved=True"


def test_wrap_tool_call_as_langgraph() -> None:
    attempts: list[str] = []

    @tool
    def divide(a: int, b: int) -> float:
        """Divide."""
        attempts.append(f"{a}/{b}")
        return a / b

    def retry_with_b_one(request: Any, execute: Any) -> Any:
        try:
            return execute(request)
        except ZeroDivisionError:
            fixed = {**request.tool_call, "args": {**request.tool_call["args"], "b": 1}}
            return execute(request.override(tool_call=fixed))

    def run(L: Any) -> Any:
        attempts.clear()
        node = L.ToolNode([divide], handle_tool_errors=False, wrap_tool_call=retry_with_b_one)
        out = show(run_node(L, node, state(call("divide", {"a": 6, "b": 0}, "c1"), call("divide", {"a": 6, "b": 3}, "c2"))))
        return out, sorted(attempts)

    theirs, ours = both(run)
    assert ours == theirs
    assert [m[1] for m in ours[0]["messages"][2:]] == ["6.0", "2.0"] and ours[1] == ["6/0", "6/1", "6/3"]


def test_human_interrupt_shapes_as_langgraph() -> None:
    from typing import get_type_hints

    import langgraph.prebuilt.interrupt as theirs

    import waypoint.prebuilt.interrupt as ours

    for name in ("ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"):
        assert set(get_type_hints(getattr(ours, name))) == set(get_type_hints(getattr(theirs, name))), name
