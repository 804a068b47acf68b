"""``get_graph()``: a compiled StateGraph's nodes and edges, drawable as Mermaid text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from waypoint.pregel.constants import END, START

if TYPE_CHECKING:
    from waypoint.graph.state import StateGraph


class Node(NamedTuple):
    id: str
    name: str
    data: Any = None
    metadata: dict[str, Any] | None = None


class Edge(NamedTuple):
    source: str
    target: str
    data: Any = None
    conditional: bool = False


class DrawableGraph:
    """Nodes and edges of a graph; conditional edges come from path maps, ``Literal``
    return hints and ``Command[Literal[...]]`` hints (all nodes when unknown)."""

    def __init__(self, nodes: dict[str, Node], edges: list[Edge]) -> None:
        self.nodes = nodes
        self.edges = edges

    def draw_mermaid(self) -> str:
        lines = ["graph TD;"]
        for node in self.nodes.values():
            if node.id == START:
                lines.append(f"\t{node.id}([<p>{node.id}</p>]):::first")
            elif node.id == END:
                lines.append(f"\t{node.id}([<p>{node.id}</p>]):::last")
            else:
                lines.append(f"\t{node.id}({node.name})")
        for edge in self.edges:
            arrow = "-.->" if edge.conditional else "-->"
            label = f"&nbsp;{edge.data}&nbsp;" if edge.data is not None and edge.data != edge.target else None
            lines.append(f"\t{edge.source} {arrow}{f'|{label}|' if label else ''} {edge.target};")
        lines += [
            "\tclassDef default fill:#f2f0ff,line-height:1.2",
            "\tclassDef first fill-opacity:0",
            "\tclassDef last fill:#bfb6fc",
        ]
        return "\n".join(lines) + "\n"


def drawable(builder: StateGraph) -> DrawableGraph:
    names = list(builder.nodes)
    everywhere = [*names, END]
    edges: list[Edge] = []
    for src, dst in builder.edges:
        edges.append(Edge(src, dst))
    for starts, dst in builder.waiting_edges:
        edges.extend(Edge(s, dst) for s in starts)
    for src, branches in builder.branches.items():
        for br in branches.values():
            if br.path_map is not None:
                edges.extend(Edge(src, dst, key, True) for key, dst in br.path_map.items())
            else:
                edges.extend(Edge(src, dst, None, True) for dst in (br.declared or everywhere))
    for name, spec in builder.nodes.items():
        for dst in spec.ends or ():
            edges.append(Edge(name, dst, None, True))
    used = {e.source for e in edges} | {e.target for e in edges}
    nodes = {START: Node(START, START)}
    nodes.update({n: Node(n, n, builder.nodes[n].fn, builder.nodes[n].metadata) for n in names})
    if END in used:
        nodes[END] = Node(END, END)
    return DrawableGraph(nodes, edges)
