"""A LangGraph ``create_react_agent`` on waypoint's adapters, run as a program in two phases.

``python -m tests.langgraph_adapters._agent_program KIND URL start`` saves two memories and
asks a question that makes the agent call ``recall`` (a semantic store search) and
``ask_human`` (an interrupt) in one turn; it stops at the interrupt. ``... resume`` is a fresh
process that resumes the thread with the human's answer. Each phase prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Annotated, Any, Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import InjectedStore, ToolNode, create_react_agent
from langgraph.types import Command, interrupt

import waypoint.langgraph as wl
from tests.langgraph_adapters._graphs import INDEX


class RuleModel(BaseChatModel):
    """A deterministic tool-calling model: what it answers depends only on the conversation,
    so a second process continues exactly where the first stopped."""

    @property
    def _llm_type(self) -> str:
        return "rules"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        last = messages[-1]
        n = len(messages)
        if isinstance(last, HumanMessage) and last.content.startswith("remember "):
            calls = [{"name": "save_memory", "args": {"text": last.content[9:]}, "id": f"s{n}"}]
            reply = AIMessage(content="", tool_calls=calls, id=f"ai{n}")
        elif isinstance(last, HumanMessage):
            calls = [{"name": "recall", "args": {"query": last.content}, "id": f"r{n}"},
                     {"name": "ask_human", "args": {"question": "shall I answer?"}, "id": f"h{n}"}]
            reply = AIMessage(content="", tool_calls=calls, id=f"ai{n}")
        else:
            tools = [m.content for m in messages[-3:] if isinstance(m, ToolMessage)]
            reply = AIMessage(content="done: " + " | ".join(sorted(tools)), id=f"ai{n}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


@tool
def save_memory(text: str, store: Annotated[Any, InjectedStore()]) -> str:
    """Save a fact about the user."""
    key = f"m{len(store.search(('memories',), limit=100))}"
    store.put(("memories",), key, {"text": text})
    return f"saved {key}"


@tool
def recall(query: str, store: Annotated[Any, InjectedStore()]) -> str:
    """Find the saved fact closest to the query."""
    hits = store.search(("memories",), query=query, limit=1)
    return hits[0].value["text"] if hits else "nothing"


@tool
def ask_human(question: str) -> str:
    """Ask the human and wait for the answer."""
    return f"human said {interrupt(question)}"


@contextmanager
def storage(kind: str, url: str) -> Iterator[tuple[Any, Any]]:
    if kind == "sqlite":
        with wl.SqliteSaver.from_conn_string(url) as saver, wl.SqliteStore.from_conn_string(url, index=INDEX) as store:
            yield saver, store
    elif kind == "postgres":
        with wl.PostgresSaver.from_conn_string(url) as saver, wl.PostgresStore.from_conn_string(url, index=INDEX) as store:
            yield saver, store
    else:
        uri, _, db = url.rpartition("#")
        with wl.MongoDBSaver.from_conn_string(uri, db) as saver, wl.MongoDBStore.from_conn_string(uri, db, index=INDEX) as store:
            yield saver, store


def main(kind: str, url: str, phase: str) -> None:
    config = {"configurable": {"thread_id": "agent"}}
    with storage(kind, url) as (saver, store):
        saver.setup()
        store.setup()
        agent = create_react_agent(RuleModel(), ToolNode([save_memory, recall, ask_human]),
                                   checkpointer=saver, store=store)
        if phase == "start":
            for fact in ["I like green tea", "I own a red bicycle"]:
                agent.invoke({"messages": [HumanMessage(content=f"remember {fact}")]}, config)
            out = agent.invoke({"messages": [HumanMessage(content="which green tea do I like")]}, config)
            result = {"interrupts": [i.value for i in out.get("__interrupt__", [])],
                      "next": list(agent.get_state(config).next)}
        else:
            out = agent.invoke(Command(resume="yes"), config)
            result = {"final": out["messages"][-1].content, "messages": len(out["messages"]),
                      "memories": sorted(i.value["text"] for i in store.search(("memories",)))}
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
