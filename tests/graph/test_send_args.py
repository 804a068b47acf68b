"""A Send's argument reaches its node as given, whatever the graph's state schema (as in
LangGraph): it is not turned into the state class, so keys outside the schema are not lost."""

from pydantic import BaseModel

import langgraph.graph as lg_graph
import langgraph.types as lg_types
import waypoint.graph as wp_graph
import waypoint.types as wp_types


class State(BaseModel):
    x: int = 0


def run(graph_mod, types_mod) -> list:
    seen = []

    def node(arg):
        seen.append((type(arg).__name__, arg))
        return {}

    fan_out = lambda s: [types_mod.Send("node", {"x": 5}), types_mod.Send("node", {"other": 1})]  # noqa: E731
    graph = graph_mod.StateGraph(State).add_node("node", node).add_conditional_edges(graph_mod.START, fan_out)
    graph.compile().invoke({"x": 1})
    return sorted(seen, key=repr)


def test_send_arguments_are_passed_as_given() -> None:
    ours = run(wp_graph, wp_types)
    assert ours == run(lg_graph, lg_types)
    assert ours == [("dict", {"other": 1}), ("dict", {"x": 5})]
