"""``FunctionalGraph``: what ``@entrypoint`` compiles a function into.

One node (the function) triggered by the input channel ``__start__``; its return value goes to
``__end__`` (the run's output and the thread's state) and its saved value to ``__previous__``
(what the next run on the thread receives as ``previous``). Tasks it calls run in the same step
as called tasks (``waypoint.pregel.call``).
"""

from __future__ import annotations

from typing import Any

from waypoint.pregel.constants import END, RETURN, START
from waypoint.pregel.main import Pregel

_OUT = (END, RETURN)


class FunctionalGraph(Pregel):
    """A compiled ``@entrypoint`` workflow: run, stream, inspect and update it like a graph."""

    stream_mode = "updates"
    input_channels = START  # LangGraph's names for the entry's input and output channels
    output_channels = END
    stream_channels = END
    inline_ok = False  # its thread must stay free to record the tasks it calls as they finish
    retry_policy: Any = None  # default for tasks called without a retry policy of their own

    def read_output(self, values: dict[str, Any]) -> Any:
        return values.get(END)

    def read_state(self, values: dict[str, Any]) -> Any:
        return values.get(END)

    def writes_to_update(self, writes: list[tuple[str, Any]]) -> Any:
        return next((v for ch, v in writes if ch in _OUT), None)

    def task_result(self, task: Any) -> Any:
        return {ch: v for ch, v in task.writes if ch in _OUT}

    def get_graph(self, config: Any = None, *, xray: Any = False) -> Any:
        """The workflow as a drawable graph: ``__start__`` -> the entrypoint -> ``__end__``
        (``.draw_mermaid()`` renders Mermaid text). Tasks are calls, not nodes: not drawn."""
        from waypoint.graph.drawing import DrawableGraph, Edge, Node

        name, node = next(iter(self.nodes.items()))
        nodes = {name: Node(name, name, None, node.metadata), START: Node(START, START), END: Node(END, END)}
        return DrawableGraph(nodes, [Edge(START, name), Edge(name, END, None, True)])
