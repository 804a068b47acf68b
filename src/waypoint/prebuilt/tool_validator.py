"""``ValidationNode``: checks the tool calls of the last AI message against schemas without
running anything, answering each with a ToolMessage holding the validated arguments as JSON
or, when they do not fit, the error (``additional_kwargs={"is_error": True}``) so the model
can try again. Useful for extraction: the model's "tool call" is the structured answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_executor_for_config
from langchain_core.tools import BaseTool, create_schema_from_function
from pydantic import BaseModel, ValidationError
from pydantic.v1 import BaseModel as BaseModelV1
from pydantic.v1 import ValidationError as ValidationErrorV1

from waypoint.errors import AgentConfigError, ToolNodeInputError
from waypoint.prebuilt._node import RunnableNode
from waypoint.runtime import Runtime

__all__ = ["ValidationNode"]


def _default_format_error(error: BaseException, call: ToolCall, schema: Any) -> str:
    return f"{error!r}\n\nRespond after fixing all validation errors."


class ValidationNode(RunnableNode):
    """Validate each tool call of the last AI message with the schema of the same name.

    ``schemas``: pydantic models (named by class), tools (their pydantic ``args_schema``) or
    functions (a schema from the signature). ``format_error(error, call, schema)`` writes the
    error message the model reads. Input and output shapes follow ``ToolNode``: a state with
    ``messages`` gives ``{"messages": [...]}``, a list of messages gives a list.
    """

    def __init__(
        self,
        schemas: Sequence[BaseTool | type[BaseModel] | Callable[..., Any]],
        *,
        format_error: Callable[[BaseException, ToolCall, Any], str] | None = None,
        name: str = "validation",
        tags: list[str] | None = None,
    ) -> None:
        super().__init__(self._func, None, name=name, tags=tags)
        self._format_error = format_error or _default_format_error
        self.schemas_by_name: dict[str, Any] = {}
        for schema in schemas:
            if isinstance(schema, BaseTool):
                args = schema.args_schema
                if not (isinstance(args, type) and issubclass(args, (BaseModel, BaseModelV1))):
                    raise AgentConfigError(
                        f"ValidationNode needs tools with a pydantic args_schema; tool "
                        f"{schema.name!r} has {args!r}"
                    )
                self.schemas_by_name[schema.name] = args
            elif isinstance(schema, type) and issubclass(schema, (BaseModel, BaseModelV1)):
                self.schemas_by_name[schema.__name__] = schema
            elif callable(schema):
                self.schemas_by_name[schema.__name__] = create_schema_from_function("Validation", schema)
            else:
                raise AgentConfigError(
                    f"ValidationNode got {schema!r}: give pydantic models, tools or functions"
                )

    def _last_ai(self, input: Any) -> tuple[str, AIMessage]:
        if isinstance(input, list):
            kind, messages = "list", input
        elif isinstance(input, dict) and input.get("messages"):
            kind, messages = "dict", input["messages"]
        else:
            raise ToolNodeInputError(
                f"{self.get_name()!r} found no messages in its input: give it a state with a "
                f"'messages' key or a list of messages"
            )
        last = messages[-1]
        if not isinstance(last, AIMessage):
            raise ToolNodeInputError(
                f"{self.get_name()!r} validates the tool calls of the last message, which is a "
                f"{type(last).__name__}, not an AIMessage"
            )
        return kind, last

    def _validate(self, call: ToolCall) -> ToolMessage:
        schema = self.schemas_by_name.get(call["name"])
        if schema is None:
            known = ", ".join(self.schemas_by_name)
            return ToolMessage(
                content=f"Unknown tool {call['name']!r}; valid tools are: {known}",
                name=call["name"], tool_call_id=call["id"], additional_kwargs={"is_error": True},
            )
        try:
            if issubclass(schema, BaseModel):
                content = schema.model_validate(call["args"]).model_dump_json()
            else:
                content = schema.validate(call["args"]).json()
        except (ValidationError, ValidationErrorV1) as e:
            return ToolMessage(content=self._format_error(e, call, schema), name=call["name"],
                               tool_call_id=call["id"], additional_kwargs={"is_error": True})
        return ToolMessage(content=content, name=call["name"], tool_call_id=call["id"])

    def _func(self, input: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        kind, message = self._last_ai(input)
        with get_executor_for_config(config) as pool:
            outputs = list(pool.map(self._validate, message.tool_calls))
        return outputs if kind == "list" else {"messages": outputs}
