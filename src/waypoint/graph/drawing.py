"""``get_graph()``: a compiled StateGraph's nodes and edges, drawable as Mermaid text.

The drawing follows LangGraph's rules: edges sorted by (source, target), a node with no way
out gets an edge to ``END``, and ``xray`` replaces each subgraph node by the subgraph's own
nodes (ids prefixed ``"<node>:"``), ``xray=True`` at every depth and ``xray=n`` for ``n``
levels. With ``langchain-core`` installed the result is LangChain's ``Graph`` (as LangGraph
returns), so ``draw_mermaid()`` / ``draw_ascii()`` / ``draw_mermaid_png()`` give LangGraph's
output; without it, a ``DrawableGraph`` with the same nodes and edges and its own renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from waypoint import _langchain
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

    def first_node(self, exclude: Sequence[str] = ()) -> Node | None:
        """The one node nothing leads to (None when there are none or several)."""
        targets = {e.target for e in self.edges if e.source not in exclude}
        found = [n for n in self.nodes.values() if n.id not in exclude and n.id not in targets]
        return found[0] if len(found) == 1 else None

    def last_node(self, exclude: Sequence[str] = ()) -> Node | None:
        """The one node that leads nowhere (None when there are none or several)."""
        sources = {e.source for e in self.edges if e.target not in exclude}
        found = [n for n in self.nodes.values() if n.id not in exclude and n.id not in sources]
        return found[0] if len(found) == 1 else None

    def _remove(self, node_id: str) -> None:
        self.nodes.pop(node_id, None)
        self.edges = [e for e in self.edges if node_id not in (e.source, e.target)]

    def trim_first_node(self) -> None:
        """Drop the first node (START) when another node would then be first."""
        first = self.first_node()
        if first and self.first_node(exclude=[first.id]) and sum(e.source == first.id for e in self.edges) == 1:
            self._remove(first.id)

    def trim_last_node(self) -> None:
        """Drop the last node (END) when another node would then be last."""
        last = self.last_node()
        if last and self.last_node(exclude=[last.id]) and sum(e.target == last.id for e in self.edges) == 1:
            self._remove(last.id)

    def extend(self, other: DrawableGraph, prefix: str) -> tuple[Node | None, Node | None]:
        """Add ``other``'s nodes and edges with ids prefixed ``"<prefix>:"``; returns its
        (prefixed) first and last nodes."""

        def p(node_id: str) -> str:
            return f"{prefix}:{node_id}"

        self.nodes.update({p(k): n._replace(id=p(k)) for k, n in other.nodes.items()})
        self.edges.extend(e._replace(source=p(e.source), target=p(e.target)) for e in other.edges)
        first, last = other.first_node(), other.last_node()
        return (first._replace(id=p(first.id)) if first else None, last._replace(id=p(last.id)) if last else None)

    def draw_mermaid(self) -> str:
        """Mermaid flowchart text (LangChain's renderer gives LangGraph's exact text; this one
        draws the same nodes and edges, subgraph nodes flat)."""
        lines = ["---", "config:", "  flowchart:", "    curve: linear", "---", "graph TD;"]
        for node in self.nodes.values():
            label = node.name.split(":")[-1]
            if node.id in (START, END):
                kind = "first" if node.id == START else "last"
                lines.append(f"\t{_safe(node.id)}([<p>{label}</p>]):::{kind}")
            else:
                lines.append(f"\t{_safe(node.id)}({label})")
        for edge in self.edges:
            if edge.data is not None:
                arrow = f" -. &nbsp;{edge.data}&nbsp; .-> " if edge.conditional else f" -- &nbsp;{edge.data}&nbsp; --> "
            else:
                arrow = " -.-> " if edge.conditional else " --> "
            lines.append(f"\t{_safe(edge.source)}{arrow}{_safe(edge.target)};")
        lines += [
            "\tclassDef default fill:#f2f0ff,line-height:1.2",
            "\tclassDef first fill-opacity:0",
            "\tclassDef last fill:#bfb6fc",
        ]
        return "\n".join(lines) + "\n"

    def to_langchain(self) -> Any:
        """The same graph as LangChain's ``Graph``."""
        from langchain_core.runnables.graph import Edge as LCEdge, Graph, Node as LCNode

        return Graph(
            nodes={k: LCNode(n.id, n.name, n.data, n.metadata) for k, n in self.nodes.items()},
            edges=[LCEdge(e.source, e.target, e.data, e.conditional) for e in self.edges],
        )


def _safe(node_id: str) -> str:
    """A Mermaid-safe id: characters other than letters, digits, ``_`` and ``-`` escaped
    as ``\\<hex>`` (``:`` becomes ``\\3a``)."""
    return "".join(c if c.isalnum() or c in "_-" else f"\\{ord(c):x}" for c in node_id)


def _edges(builder: StateGraph) -> list[tuple[str, str, bool, Any]]:
    names = list(builder.nodes)
    everywhere = [*names, END]
    found: dict[tuple[str, str], tuple[bool, Any]] = {}

    def add(src: str, dst: str, conditional: bool = False, label: Any = None) -> None:
        found.setdefault((src, dst), (conditional, label if label != dst else None))

    for src, dst in builder.edges:
        add(src, dst)
    for starts, dst in builder.waiting_edges:
        for s in starts:
            add(s, dst)
    for src, branches in builder.branches.items():
        for br in branches.values():
            if br.path_map is not None:
                for key, dst in br.path_map.items():
                    add(src, dst, True, key)
            else:
                for dst in br.declared or everywhere:
                    add(src, dst, True)
    for name, spec in builder.nodes.items():
        for dst in spec.ends or ():
            add(name, dst, True)
    return sorted(((s, d, c, lbl) for (s, d), (c, lbl) in found.items()), key=lambda e: (e[0], e[1]))


def _next_xray(xray: bool | int) -> bool | int:
    return xray if isinstance(xray, bool) or xray <= 0 else xray - 1


def drawable(builder: StateGraph, xray: bool | int = False) -> DrawableGraph:
    """Nodes and edges of ``builder``'s graph; with ``xray``, subgraph nodes expanded."""
    found = _edges(builder)
    edges = [Edge(s, d, lbl, c) for s, d, c, lbl in found]
    sources = {s for s, _, _, _ in found}
    # a node that leads nowhere ends the run
    termini = sorted({d for _, d, _, _ in found if d != END} - sources)
    edges.extend(Edge(t, END) for t in termini)
    nodes = {START: Node(START, START)}
    nodes.update({n: Node(n, n, spec.fn, spec.metadata) for n, spec in builder.nodes.items()})
    if any(e.target == END for e in edges):
        nodes[END] = Node(END, END)
    graph = DrawableGraph(nodes, edges)
    if xray:
        for name, spec in builder.nodes.items():
            sub_builder = getattr(spec.fn, "builder", None)
            if sub_builder is None or not hasattr(sub_builder, "branches"):
                continue
            sub = drawable(sub_builder, _next_xray(xray))
            if len(sub.nodes) <= 1 or not sub.first_node() or not sub.last_node():
                continue
            sub.trim_first_node()
            sub.trim_last_node()
            graph.nodes.pop(name)
            first, last = graph.extend(sub, prefix=name)
            graph.edges = [
                e._replace(
                    source=last.id if e.source == name and last else e.source,
                    target=first.id if e.target == name and first else e.target,
                )
                for e in graph.edges
            ]
    return graph


def get_graph(builder: StateGraph, xray: bool | int = False) -> Any:
    """LangChain's ``Graph`` when ``langchain-core`` is installed, else a DrawableGraph."""
    graph = drawable(builder, xray)
    return graph.to_langchain() if _langchain.lc() is not None else graph
