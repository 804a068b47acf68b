"""The shapes of a human-review request and its answer (LangGraph's
``langgraph.prebuilt.interrupt``, used by Agent Inbox-style UIs): a node or tool asks with
``interrupt([HumanInterrupt(...)])`` and is resumed with a list of ``HumanResponse``.
They are plain TypedDicts: any dict of the same shape works, and checkpoints store dicts.
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

__all__ = ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"]


class HumanInterruptConfig(TypedDict):
    """What the reviewer may do: skip the step, answer in words, edit the action, accept it."""

    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class ActionRequest(TypedDict):
    """The action under review: its name and its arguments."""

    action: str
    args: dict


class HumanInterrupt(TypedDict):
    """One review request: the action, what the reviewer may do, and an optional note."""

    action_request: ActionRequest
    config: HumanInterruptConfig
    description: str | None


class HumanResponse(TypedDict):
    """The reviewer's answer: ``accept`` or ``ignore`` (``args`` None), ``response`` (text),
    or ``edit`` (an ``ActionRequest`` with the changed arguments)."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: None | str | ActionRequest
