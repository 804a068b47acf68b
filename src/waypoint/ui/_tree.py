"""A thread's checkpoints as a tree picture: lanes for branches, one row per checkpoint.

Rows are the checkpoints newest first; a checkpoint's first child (by id) continues its parent's
lane and every later child (a fork: ``update_state`` or a replay from an older checkpoint)
opens a new lane, so a fork shows as a branch beside the line it left. Pure layout: the SVG is
drawn by the ``_tree.html`` template from :class:`Layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waypoint.checkpoint.base import CheckpointTuple
from waypoint.cli._inspect import ERROR, INTERRUPT, ids, parent_id

ROW = 30  # pixels per checkpoint
LANE = 22  # pixels per lane
TOP = 16


@dataclass
class Node:
    checkpoint_id: str
    parent_id: str | None
    step: Any
    source: str
    ran: list[str]
    interrupts: int
    errors: int
    ts: str
    row: int = 0
    lane: int = 0
    x: int = 0
    y: int = 0


@dataclass
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    fork: bool = False

    @property
    def path(self) -> str:
        """SVG path: straight within a lane; a fork runs down its own lane, then bends into
        its parent, so it never crosses the rows in between."""
        if self.x1 == self.x2:
            return f"M{self.x1} {self.y1} L{self.x2} {self.y2}"
        bend = self.y2 - ROW // 2
        return f"M{self.x1} {self.y1} L{self.x1} {bend} Q{self.x1} {self.y2} {self.x2} {self.y2}"


@dataclass
class Layout:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    lanes: int = 1
    width: int = 0
    height: int = 0
    forks: int = 0


def _ran(t: CheckpointTuple, parent: CheckpointTuple | None) -> list[str]:
    """Nodes that ran in the step that produced ``t``: those whose ``versions_seen`` moved."""
    source = (t.metadata or {}).get("source")
    if source == "input":
        return ["input"]
    seen = t.checkpoint.get("versions_seen") or {}
    before = (parent.checkpoint.get("versions_seen") or {}) if parent is not None else {}
    ran = [n for n, v in seen.items() if v != before.get(n)]
    if source in ("update", "fork") and not ran:
        return [str(source)]
    return sorted(ran)


def layout(tuples: list[CheckpointTuple]) -> Layout:
    """Lay out checkpoints (any order) of one thread and namespace."""
    by_id = {ids(t)[2]: t for t in tuples}
    order = sorted(by_id)  # ids grow with time
    children: dict[str, list[str]] = {}
    for cid in order:
        pid = parent_id(by_id[cid])
        if pid in by_id:
            children.setdefault(pid, []).append(cid)
    lane_of: dict[str, int] = {}
    lanes = 0
    forks = 0
    for cid in order:
        pid = parent_id(by_id[cid])
        if pid in lane_of and children[pid][0] == cid:
            lane_of[cid] = lane_of[pid]
        else:  # a fork, or a checkpoint whose parent is older than this page
            forks += pid in lane_of
            lane_of[cid] = lanes
            lanes += 1
    out = Layout(lanes=max(lanes, 1), forks=forks)
    newest_first = list(reversed(order))
    for row, cid in enumerate(newest_first):
        t = by_id[cid]
        pid = parent_id(t)
        meta = t.metadata or {}
        writes = t.pending_writes or ()
        node = Node(
            checkpoint_id=cid, parent_id=pid, step=meta.get("step"), source=str(meta.get("source", "")),
            ran=_ran(t, by_id.get(pid) if pid else None),
            interrupts=sum(1 for _, ch, _ in writes if ch == INTERRUPT),
            errors=sum(1 for _, ch, _ in writes if ch == ERROR),
            ts=str(t.checkpoint.get("ts", ""))[:19].replace("T", " "),
            row=row, lane=lane_of[cid],
        )
        node.x = 12 + node.lane * LANE
        node.y = TOP + row * ROW
        out.nodes.append(node)
    pos = {n.checkpoint_id: n for n in out.nodes}
    for n in out.nodes:
        parent = pos.get(n.parent_id or "")
        if parent is not None:
            out.edges.append(Edge(n.x, n.y, parent.x, parent.y, fork=n.lane != parent.lane))
        elif n.parent_id:  # the parent is older than this page: a stub downwards
            out.edges.append(Edge(n.x, n.y, n.x, n.y + ROW // 2))
    out.width = 12 + out.lanes * LANE + 8
    out.height = TOP + len(out.nodes) * ROW
    return out


__all__ = ["Layout", "layout"]
