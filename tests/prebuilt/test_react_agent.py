"""create_react_agent on every saver (both API faces), and side by side with LangGraph 1.2's
for the same scripted chat model."""

import asyncio
from dataclasses import dataclass
import threading
import uuid
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, RemoveMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel
from typing_extensions import NotRequired

from tests.hitl.conftest import LOOP
from tests.prebuilt._libs import lib, show
from tests.prebuilt._models import ScriptedChatModel, ai, call
from waypoint.errors import AgentConfigError, InvalidChatHistoryError
from waypoint.graph.message import REMOVE_ALL_MESSAGES
from waypoint.prebuilt import InjectedStore, ToolRuntime, create_react_agent
from waypoint.types import Command, interrupt

class Weather(BaseModel):
    city: str
    sky: str


def weather_script() -> list[AIMessage]:
    return [
        ai("", call("get_weather", {"city": "paris"}, "c1"), call("get_weather", {"city": "oslo"}, "c2"), id="a1"),
        ai("Paris is sunny, Oslo has snow.", id="a2"),
        ai("", call("Weather", {"city": "paris", "sky": "sunny"}, "s1"), id="a3"),
    ]


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"agent-{uuid.uuid4().hex}"}}


# --- on every saver -------------------------------------------------------------------------


@LOOP
async def test_parallel_tools_pause_for_approval_resume_and_answer_structured(backend: Any, face: Any) -> None:
    saver, _ = backend
    gate = threading.Barrier(2, timeout=30)  # both calls must be running at once to pass it
    ran: list[str] = []

    def get_weather(city: str) -> str:
        """The weather in a city."""
        gate.wait()
        ran.append(city)
        return {"paris": "sunny", "oslo": "snow"}[city]

    model = ScriptedChatModel(script=weather_script())
    agent = create_react_agent(model, [get_weather], prompt="Be brief.", checkpointer=saver,
                               interrupt_before=["tools"], response_format=Weather)
    cfg = thread()
    out = await face.invoke(agent, {"messages": [("user", "weather in paris and oslo?")]}, cfg)
    assert [type(m).__name__ for m in out["messages"]] == ["HumanMessage", "AIMessage"]
    snap = await face.get_state(agent, cfg)
    assert snap.next == ("tools", "tools") and ran == []  # paused for approval, nothing ran
    assert [t.name for t in snap.tasks] == ["tools", "tools"]

    out = await face.invoke(agent, None, cfg)  # approved: resume
    assert sorted(ran) == ["oslo", "paris"]
    assert [(type(m).__name__, m.content) for m in out["messages"][2:]] == [
        ("ToolMessage", "sunny"), ("ToolMessage", "snow"), ("AIMessage", "Paris is sunny, Oslo has snow.")]
    assert out["structured_response"] == Weather(city="paris", sky="sunny")
    assert model.seen[0][0].content == "Be brief."  # the prompt leads the model's input
    assert model.bound == [["get_weather"], ["Weather"]]

    history = await face.history(agent, cfg)
    assert [(s.metadata["step"], s.next) for s in history] == [
        (4, ()), (3, ("generate_structured_response",)), (2, ("agent",)), (1, ("tools", "tools")),
        (0, ("agent",)), (-1, ("__start__",))]
    final = await face.get_state(agent, cfg)
    assert final.values["structured_response"] == Weather(city="paris", sky="sunny")


@LOOP
async def test_memories_saved_by_a_tool_are_found_from_another_thread(backend: Any, face: Any) -> None:
    saver, store = backend
    user = f"user-{uuid.uuid4().hex[:8]}"

    @tool
    def remember(fact: str, store: Annotated[Any, InjectedStore()], runtime: ToolRuntime) -> str:
        """Remember a fact about the user."""
        store.put(("memories", runtime.context["user"]), runtime.tool_call_id, {"fact": fact})
        return "saved"

    @tool
    def recall(store: Annotated[Any, InjectedStore()], runtime: ToolRuntime) -> str:
        """Everything remembered about the user."""
        return "; ".join(i.value["fact"] for i in store.search(("memories", runtime.context["user"])))

    model = ScriptedChatModel(script=[
        ai("", call("remember", {"fact": "likes green tea"}, "m1"), id="a1"), ai("Noted.", id="a2"),
        ai("", call("recall", {}, "r1"), id="a3"), ai("You like green tea.", id="a4"),
    ])
    agent = create_react_agent(model, [remember, recall], checkpointer=saver, store=store)
    first, second = thread(), thread()
    await face.invoke(agent, {"messages": [("user", "I like green tea")]}, first, context={"user": user})
    out = await face.invoke(agent, {"messages": [("user", "what do I like?")]}, second, context={"user": user})
    assert [m.content for m in out["messages"]] == ["what do I like?", "", "likes green tea", "You like green tea."]
    item = await store.aget(("memories", user), "m1")
    assert item.value == {"fact": "likes green tea"}
    assert len((await face.get_state(agent, first)).values["messages"]) == 4  # threads stay apart


@LOOP
async def test_rejected_tool_call_is_answered_by_a_state_update(backend: Any, face: Any) -> None:
    saver, _ = backend
    ran: list[str] = []

    def send_email(to: str) -> str:
        """Send an email."""
        ran.append(to)
        return "sent"

    model = ScriptedChatModel(script=[ai("", call("send_email", {"to": "boss"}, "e1"), id="a1"),
                                      ai("I did not send it.", id="a2")])
    agent = create_react_agent(model, [send_email], checkpointer=saver, interrupt_before=["tools"], version="v1")
    cfg = thread()
    await face.invoke(agent, {"messages": [("user", "email my boss")]}, cfg)
    assert (await face.get_state(agent, cfg)).next == ("tools",)
    await face.update_state(agent, cfg, {"messages": [ToolMessage("Rejected by the user.", tool_call_id="e1")]},
                            as_node="tools")
    out = await face.invoke(agent, None, cfg)
    assert ran == [] and out["messages"][-1].content == "I did not send it."


@LOOP
async def test_interrupt_in_one_of_parallel_tools_reruns_only_that_call(backend: Any, face: Any) -> None:
    # version="v2": each call is its own task; the finished one's result is saved with the
    # interrupted step, so resuming runs only the interrupted call again (counted)
    saver, _ = backend
    runs: dict[str, int] = {"lookup": 0, "confirm": 0}

    def lookup(order: int) -> str:
        """Look an order up."""
        runs["lookup"] += 1
        return f"order {order} is packed"

    def confirm(order: int) -> str:
        """Ship an order once a human confirms."""
        runs["confirm"] += 1
        return f"order {order}: {interrupt(f'ship order {order}?')}"

    model = ScriptedChatModel(script=[
        ai("", call("lookup", {"order": 7}, "l1"), call("confirm", {"order": 7}, "s1"), id="a1"),
        ai("Order 7 is on its way.", id="a2")])
    agent = create_react_agent(model, [lookup, confirm], checkpointer=saver)
    cfg = thread()
    out = await face.invoke(agent, {"messages": [("user", "ship order 7")]}, cfg)
    assert [i.value for i in out["__interrupt__"]] == ["ship order 7?"] and runs == {"lookup": 1, "confirm": 1}
    out = await face.invoke(agent, Command(resume="shipped"), cfg)
    assert runs == {"lookup": 1, "confirm": 2}
    assert sorted(m.content for m in out["messages"] if isinstance(m, ToolMessage)) == [
        "order 7 is packed", "order 7: shipped"]
    assert out["messages"][-1].content == "Order 7 is on its way."


# --- side by side with LangGraph ------------------------------------------------------------


def trim(state: Any) -> Any:
    return {"llm_input_messages": state["messages"][-3:]}


def reset_to_last_two(state: Any) -> Any:
    return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *state["messages"][-2:]]}


def checked(state: Any) -> Any:
    return {}


VARIANTS = {
    "v2": {},
    "v1": {"version": "v1"},
    "prompt-function": {"prompt": lambda s: [("system", "short answers"), *s["messages"]]},
    "pre-hook-llm-input": {"pre_model_hook": trim},
    "pre-hook-rewrite": {"pre_model_hook": reset_to_last_two},
    "post-hook": {"post_model_hook": checked},
    "post-hook-structured": {"post_model_hook": checked, "response_format": ("Answer as JSON", Weather)},
    "interrupt-after-agent": {"interrupt_after": ["agent"]},
    "named": {"name": "forecaster"},
    "pydantic-state-v2": lambda L, model: (model, {"state_schema": agent_module(L).AgentStatePydantic}),
    "pydantic-state-v1": lambda L, model: (model, {"state_schema": agent_module(L).AgentStatePydantic,
                                                   "version": "v1"}),
    "dynamic-model": lambda L, model: (lambda state, runtime: model.bind_tools([get_weather]), {
        "context_schema": Units}),
    "prebound-model": lambda L, model: (model.bind_tools([get_weather]), {}),
    "tool-node": lambda L, model: (model, {"tools": L.ToolNode([get_weather], handle_tool_errors=True)}),
    "custom-state": lambda L, model: (model, {"state_schema": custom_state(L), "response_format": Weather}),
}


@dataclass
class Units:
    celsius: bool = True


def agent_module(L: Any) -> Any:
    import importlib

    return importlib.import_module(f"{L.name}.prebuilt.chat_agent_executor")


def custom_state(L: Any) -> Any:
    base = agent_module(L).AgentStateWithStructuredResponse

    class WithUser(base):  # type: ignore[misc,valid-type]
        user: NotRequired[str]

    return WithUser


def get_weather(city: str) -> str:
    """The weather in a city."""
    return {"paris": "sunny", "oslo": "snow"}[city]


def run_agent(L: Any, variant: str, mode: str) -> Any:
    """Run the weather agent with ``L``'s create_react_agent; what a user can observe."""

    scripted = model = ScriptedChatModel(script=weather_script())
    variant_args = VARIANTS[variant]
    if callable(variant_args):
        model, variant_args = variant_args(L, model)
    kwargs = {"prompt": "Be brief.", "tools": [get_weather], **variant_args}
    agent = L.create_react_agent(model, checkpointer=L.InMemorySaver(), **kwargs)
    cfg = {"configurable": {"thread_id": "t"}}
    inp: Any = {"messages": [("user", "weather?")]}
    chunks = []
    for _ in range(3):  # resume after static interrupts
        if mode == "sync":
            chunks += list(agent.stream(inp, cfg, stream_mode="updates"))
            snap = agent.get_state(cfg)
        else:
            async def go() -> Any:
                out = [c async for c in agent.astream(inp, cfg, stream_mode="updates")]
                return out, await agent.aget_state(cfg)

            more, snap = asyncio.run(go())
            chunks += more
        if not snap.next:
            break
        inp = None
    history = [(s.metadata["source"], s.metadata["step"], s.next, len(s.values.get("messages", [])))
               for s in agent.get_state_history(cfg)]
    return {
        "values": show(snap.values),
        "updates": sorted(map(repr, show(chunks))),  # parallel tool tasks finish in any order
        "history": history,
        "model_saw": [[(type(m).__name__, m.content) for m in seen] for seen in scripted.seen],
        "graph": sorted(agent.get_graph().nodes),
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_as_langgraph(variant: str, mode: str) -> None:
    if mode == "async":  # asyncio.run() needs a thread without a running loop
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            theirs = pool.submit(run_agent, lib("langgraph"), variant, mode).result()
            ours = pool.submit(run_agent, lib("waypoint"), variant, mode).result()
    else:
        theirs, ours = run_agent(lib("langgraph"), variant, mode), run_agent(lib("waypoint"), variant, mode)
    assert ours == theirs


def loop_forever(L: Any, limit: int, return_direct: bool) -> Any:
    @tool(return_direct=return_direct)
    def ping(n: int) -> str:
        """Ping."""
        return f"pong {n}"

    model = ScriptedChatModel(script=[ai("", call("ping", {"n": 1}, "p1"), id="a1")])
    agent = L.create_react_agent(model, [ping])
    out = agent.invoke({"messages": [("user", "go")]}, {"recursion_limit": limit})
    return show(out["messages"])


@pytest.mark.parametrize("limit", [2, 3, 4, 6])
@pytest.mark.parametrize("return_direct", [False, True])
def test_running_out_of_steps_as_langgraph(limit: int, return_direct: bool) -> None:
    def outcome(L: Any) -> Any:
        try:
            return loop_forever(L, limit, return_direct)
        except Exception as exc:
            return type(exc).__name__

    theirs, ours = outcome(lib("langgraph")), outcome(lib("waypoint"))
    if theirs == "GraphRecursionError" and ours != theirs:
        # The agent answered "need more steps" and the run had nothing left to do; LangGraph
        # still counts one more step against the limit and raises. waypoint ends the run.
        assert any(m[1] == "Sorry, need more steps to process this request." for m in ours)
        return
    assert ours == theirs


# --- bad arguments --------------------------------------------------------------------------


def test_bad_arguments_are_named_errors() -> None:
    def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    model = ScriptedChatModel(script=weather_script())
    with pytest.raises(AgentConfigError, match="version"):
        create_react_agent(model, [get_weather], version="v3")  # type: ignore[arg-type]
    from typing import TypedDict

    class NoSteps(TypedDict):
        messages: list

    with pytest.raises(AgentConfigError, match="remaining_steps"):
        create_react_agent(model, [get_weather], state_schema=NoSteps)

    def other(x: int) -> int:
        """Other."""
        return x

    with pytest.raises(AgentConfigError, match="other"):
        create_react_agent(model.bind_tools([get_weather]), [other])
    with pytest.raises(TypeError, match="unexpected"):
        create_react_agent(model, [get_weather], temperature=0)


def test_unanswered_tool_call_in_history_is_refused() -> None:
    model = ScriptedChatModel(script=[ai("hi", id="a1")])
    agent = create_react_agent(model, [])
    with pytest.raises(InvalidChatHistoryError, match="ToolMessage"):
        agent.invoke({"messages": [("user", "x"), ai("", call("t", {}, "c9"), id="old")]})


def test_messages_stream_as_langgraph() -> None:
    def run(L: Any) -> Any:
        agent = L.create_react_agent(ScriptedChatModel(script=weather_script()[:2]), [get_weather], prompt="x")
        return [(show(m), meta.get("langgraph_node"), meta.get("langgraph_step"), meta.get("ls_provider"))
                for m, meta in agent.stream({"messages": [("user", "weather?")]}, stream_mode="messages")]

    ours, theirs = run(lib("waypoint")), run(lib("langgraph"))
    assert sorted(map(repr, ours)) == sorted(map(repr, theirs))  # the two tool tasks finish in any order
    assert [node for _, node, _, _ in ours] == ["agent", "tools", "tools", "agent"]


def test_model_names_need_langchain() -> None:
    pytest.importorskip("langchain_core")
    try:
        import langchain  # noqa: F401
    except ImportError:
        with pytest.raises(AgentConfigError, match="pip install langchain"):
            create_react_agent("openai:gpt-4o", [get_weather])
    else:  # pragma: no cover - langchain installed: the name is resolved by init_chat_model
        pytest.skip("langchain is installed here")


def test_prebuilt_without_langchain_core_is_a_named_error(tmp_path: Any) -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['langchain_core'] = None\n"
            "from waypoint.errors import LangChainRequiredError\n"
            "try:\n    import waypoint.prebuilt\nexcept LangChainRequiredError as e:\n    print('refused:', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused: waypoint.prebuilt needs langchain-core" in done.stdout, done.stderr
