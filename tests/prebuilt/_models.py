"""A fake tool-calling chat model: answers with a fixed script of AI messages, one per call,
and supports ``bind_tools`` (so ``create_react_agent`` binds tools to it and
``with_structured_output`` works through a tool call, as with real providers)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool


class ScriptedChatModel(BaseChatModel):
    """Returns ``script[i]`` on the i-th call (cycling); records what it was sent."""

    script: list[AIMessage]
    calls: int = 0
    seen: list[list[BaseMessage]] = []
    bound: list[Any] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        reply = self.script[self.calls % len(self.script)].model_copy(deep=True)
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        specs = [convert_to_openai_tool(t) for t in tools]
        self.bound.append([s["function"]["name"] for s in specs])
        return self.bind(tools=specs, **kwargs)


def call(name: str, args: dict[str, Any], id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def ai(content: str = "", *calls: dict[str, Any], id: str) -> AIMessage:
    return AIMessage(content=content, tool_calls=list(calls), id=id)
