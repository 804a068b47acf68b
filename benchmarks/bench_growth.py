"""Conversation growth: one chat thread grown turn by turn, measured at milestones.

A turn is one ``invoke`` with a user message; the graph's one node appends an assistant
message (LangChain ``HumanMessage``/``AIMessage`` with fixed ids and ~200 characters of content
each, identical for every variant). Variants, grown in lockstep on the same backend with the
order alternating per block of turns:

- ``waypoint``: ``waypoint.graph.MessagesState``;
- ``langgraph``: ``langgraph.graph.MessagesState`` (the default ``add_messages`` reducer in a
  ``BinaryOperatorAggregate``: the whole list is stored at every version);
- ``langgraph delta``: the same state with ``Annotated[list, DeltaChannel(add_messages folded)]``
  (LangGraph's beta channel, snapshot every 100 updates).

At each milestone: bytes stored (SQLite: main file size after ``PRAGMA wal_checkpoint(TRUNCATE)``;
PostgreSQL: sum of ``pg_total_relation_size`` over every table of the run's own fresh database,
after a plain ``VACUUM``), both net of the empty schema's size measured right after ``setup()``;
the wall time of the 100 turns before the milestone; ``get_state`` (median of 5, alternating);
the full ``get_state_history`` at 1,000 turns in full mode (it is quadratic in turns for every
library; median of 5, alternating, except that a variant whose single read takes over 10 s is
read once, as the table says). LangGraph's default saver stops at 1,000 turns in full mode. The growth exponent
is the least-squares slope of log(bytes) against log(turns) over the milestones.
"""

from __future__ import annotations

import contextlib
import functools
import random
import string
import time
from collections.abc import Iterator
from typing import Annotated, Any

from benchmarks import _harness as h
from benchmarks._libs import Where, location, mod, saver

TITLE = "Conversation growth (MessagesState chat, one thread)"
KEYS = ("metric", "backend", "turns", "waypoint", "langgraph", "ratio", "target", "met?",
        "langgraph delta", "ratio vs delta")

FULL_TURNS = (100, 300, 1000, 3000)
QUICK_TURNS = (5, 10, 20)
# LangGraph's default saver stores the whole history at every step (quadratic bytes and
# time); on this benchmark's machines 3,000 turns is several GB per backend, so it stops here.
LANGGRAPH_DEFAULT_CAP = 1000
HISTORY_SLOW = 10.0  # seconds: read the full history once instead of 5 times
# Reading the full history materializes every checkpoint's whole message list (quadratic in
# turns for every library): measured at milestones up to this size.
HISTORY_MAX_TURNS = 1000
TAIL = 100  # "time of the last 100 turns"
CONTENT = 200  # characters per message

VARIANTS = ("waypoint", "langgraph", "langgraph delta")


def _texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    alphabet = string.ascii_letters + "     .,"
    return ["".join(rnd.choices(alphabet, k=CONTENT)) for _ in range(n)]


@functools.lru_cache(maxsize=4)
def _corpus(turns: int) -> tuple[list[str], list[str]]:
    return _texts(turns, 1), _texts(turns, 2)


def _delta_state() -> Any:
    from typing_extensions import TypedDict

    from langgraph.channels import DeltaChannel
    from langgraph.graph.message import add_messages

    def fold(state: list, writes: list) -> list:
        for w in writes:
            state = add_messages(state, w)
        return state

    # functional syntax: the module's ``from __future__ import annotations`` would turn a class
    # body's annotation into a string LangGraph cannot resolve
    return TypedDict("DeltaMessagesState", {"messages": Annotated[list, DeltaChannel(fold)]})


def build(variant: str, checkpointer: Any, replies: list[str]) -> Any:
    """The chat graph, written once against ``{lib}.graph``."""
    from langchain_core.messages import AIMessage

    lib = "waypoint" if variant == "waypoint" else "langgraph"
    graph = mod(lib, "graph")
    state = _delta_state() if variant == "langgraph delta" else graph.MessagesState

    def assistant(s: Any) -> dict[str, Any]:
        turn = len(s["messages"]) // 2
        return {"messages": [AIMessage(content=replies[turn], id=f"a{turn}")]}

    builder = graph.StateGraph(state)
    builder.add_node("assistant", assistant)
    builder.add_edge(graph.START, "assistant")
    builder.add_edge("assistant", graph.END)
    return builder.compile(checkpointer=checkpointer)


class Thread:
    """One variant's chat thread on one backend, grown turn by turn."""

    def __init__(self, variant: str, where: Where, app: Any, questions: list[str]) -> None:
        self.variant, self.where, self.app, self.questions = variant, where, app, questions
        self.config = {"configurable": {"thread_id": "chat"}}
        self.turns = 0
        self.baseline = where.bytes()
        self.turn_seconds: list[float] = []

    def grow(self, to: int) -> None:
        from langchain_core.messages import HumanMessage

        invoke, config = self.app.invoke, self.config
        for turn in range(self.turns, to):
            msg = HumanMessage(content=self.questions[turn], id=f"u{turn}")
            start = time.perf_counter()
            invoke({"messages": [msg]}, config)
            self.turn_seconds.append(time.perf_counter() - start)
        self.turns = to

    def stored_bytes(self) -> int | None:
        total = self.where.bytes()
        return None if total is None or self.baseline is None else total - self.baseline

    def get_state(self) -> float:
        start = time.perf_counter()
        snap = self.app.get_state(self.config)
        elapsed = time.perf_counter() - start
        assert len(snap.values["messages"]) == 2 * self.turns, (self.variant, len(snap.values["messages"]))
        return elapsed * 1e3

    def history(self) -> float:
        start = time.perf_counter()
        n = sum(1 for _ in self.app.get_state_history(self.config))
        elapsed = time.perf_counter() - start
        assert n >= 2 * self.turns, (self.variant, n)
        return elapsed * 1e3


@contextlib.contextmanager
def _threads(backend: str, variants: tuple[str, ...], turns: int) -> Iterator[dict[str, Thread]]:
    questions, replies = _corpus(turns)
    with contextlib.ExitStack() as stack:
        threads = {}
        for variant in variants:
            lib = "waypoint" if variant == "waypoint" else "langgraph"
            where = stack.enter_context(location(backend, variant.replace(" ", "_")))
            cp = stack.enter_context(saver(lib, where))
            threads[variant] = Thread(variant, where, build(variant, cp, replies), questions)
        yield threads


def _median_alternating(fns: dict[str, Any]) -> dict[str, float]:
    samples = h.alternate({k: (lambda rep, f=f: f()) for k, f in fns.items()})
    return {k: h.median(v) for k, v in samples.items()}


def _histories(threads: list[Thread]) -> dict[str, tuple[float, int]]:
    """Full history read time per variant: median of 5 alternating, or 1 read if slow."""
    first = {t.variant: t.history() for t in threads}
    result = {}
    repeat = [t for t in threads if first[t.variant] < HISTORY_SLOW * 1e3]
    for t in threads:
        if t not in repeat:
            result[t.variant] = (first[t.variant], 1)
    if repeat:
        samples = h.alternate({t.variant: (lambda rep, t=t: t.history()) for t in repeat})
        for t in repeat:
            result[t.variant] = (h.median(samples[t.variant]), len(samples[t.variant]))
    return result


def measure(backend: str, milestones: tuple[int, ...], cap: int,
            history_max: int | None = None) -> list[dict[str, Any]]:
    """Raw measurements: one dict per (variant, milestone)."""
    out: list[dict[str, Any]] = []
    with _threads(backend, VARIANTS, milestones[-1]) as threads:
        for block, target in enumerate(milestones):
            active = [t for v, t in threads.items() if v != "langgraph" or target <= cap]
            if block % 2:
                active = active[::-1]
            for t in active:
                t.grow(target)
            gets = _median_alternating({t.variant: t.get_state for t in active})
            at = target == milestones[-1] if history_max is None else target == history_max
            hist = _histories(active) if at else {}
            for t in active:
                out.append(
                    {
                        "variant": t.variant,
                        "backend": backend,
                        "turns": target,
                        "bytes": t.stored_bytes(),
                        "tail_ms": sum(t.turn_seconds[-TAIL:]) * 1e3,
                        "tail_turns": min(TAIL, len(t.turn_seconds)),
                        "get_state_ms": gets[t.variant],
                        "history_ms": hist[t.variant][0] if hist else None,
                        "history_repeats": hist[t.variant][1] if hist else None,
                    }
                )
    return out


def _fmt_history(m: dict[str, Any] | None) -> float | None:
    return None if m is None else m["history_ms"]


def rows_from(raw: list[dict[str, Any]], milestones: tuple[int, ...]) -> list[dict[str, Any]]:
    """Table rows: per metric, backend and milestone, waypoint vs LangGraph default and delta."""
    by = {(m["variant"], m["backend"], m["turns"]): m for m in raw}
    present = {m["backend"] for m in raw}
    backends = [b for b in ("memory", "sqlite", "postgres") if b in present]
    big = 1000 if 1000 in milestones else milestones[-1]
    last = milestones[-1]
    # the largest milestone LangGraph's default saver reached
    cap_turns = max((m["turns"] for m in raw if m["variant"] == "langgraph"), default=last)
    rows: list[dict[str, Any]] = []

    def row(metric: str, backend: str, turns: Any, key: str, target: str = "",
            delta_target: bool = False) -> dict[str, Any]:
        wp = by.get(("waypoint", backend, turns), {}).get(key)
        lg = by.get(("langgraph", backend, turns), {}).get(key)
        dl = by.get(("langgraph delta", backend, turns), {}).get(key)
        r = {"metric": metric, "backend": backend, "turns": turns, **h.compare(wp, lg, target)}
        r["langgraph delta"] = h._round(dl)
        ratio_d = None if wp is None or not dl else wp / dl
        r["ratio vs delta"] = h._round(ratio_d)
        if delta_target:
            r["target"] = (r["target"] + "; < delta").lstrip("; ")
            vs_default = r["met?"] != "NO"
            r["met?"] = "yes" if (ratio_d is not None and ratio_d < 1 and vs_default) else "NO"
        if target and lg is None and not delta_target:
            r["met?"] = "n/a (no LangGraph default run)"
        return r

    for backend in backends:
        if backend == "memory":
            continue
        for turns in milestones:
            big_target = turns == big
            rows.append(row("bytes stored", backend, turns, "bytes",
                            "<= 0.05" if big_target else "", delta_target=big_target))
    for backend in backends:
        if backend == "memory":
            continue
        xs = {v: [t for t in milestones if (v, backend, t) in by and by[(v, backend, t)]["bytes"]]
              for v in VARIANTS}
        exps = {v: h.fit_exponent(xs[v], [by[(v, backend, t)]["bytes"] for t in xs[v]]) for v in VARIANTS}
        r = {"metric": "growth exponent (bytes vs turns)", "backend": backend,
             "turns": f"{milestones[0]}..{last}",
             "waypoint": h._round(exps["waypoint"]), "langgraph": h._round(exps["langgraph"]),
             "ratio": None, "target": "waypoint <= 1.1",
             "met?": h.check(exps["waypoint"], "<= 1.1"),
             "langgraph delta": h._round(exps["langgraph delta"]), "ratio vs delta": None}
        rows.append(r)
    for backend in backends:
        for turns in milestones:
            rows.append(row(f"last {TAIL} turns (ms)", backend, turns, "tail_ms"))
    for backend in backends:
        for turns in milestones:
            r = row("get_state (ms)", backend, turns, "get_state_ms",
                    "<= 0.5" if turns in (last, cap_turns) else "")
            if turns == last and r["langgraph"] is None and r["ratio vs delta"] is not None:
                # LangGraph's default saver stopped at its cap: judge against DeltaChannel here
                # (and against the default at the cap, the row above)
                r["target"] = "<= 0.5 vs delta"
                r["met?"] = h.check(r["ratio vs delta"], "<= 0.5")
            rows.append(r)
    for backend in backends:
        for turns in milestones:
            if all(by.get((v, backend, turns), {}).get("history_ms") is None for v in VARIANTS):
                continue
            r = row("get_state_history, full (ms)", backend, turns, "history_ms")
            ones = [v for v in VARIANTS if by.get((v, backend, turns), {}).get("history_repeats") == 1]
            if ones:
                r["metric"] += " [1 read: " + ", ".join(ones) + "]"
            rows.append(r)
    return rows


# The last full run's raw measurements, for growth.png.
LAST_RAW: list[dict[str, Any]] = []


def run(quick: bool = False) -> list[dict[str, Any]]:
    milestones = QUICK_TURNS if quick else FULL_TURNS
    cap = milestones[-1] if quick else LANGGRAPH_DEFAULT_CAP
    raw: list[dict[str, Any]] = []
    for backend in ("memory", "sqlite", "postgres"):
        raw += measure(backend, milestones, cap, None if quick else HISTORY_MAX_TURNS)
    LAST_RAW[:] = raw
    return rows_from(raw, milestones)


def plot(raw: list[dict[str, Any]], path: str) -> None:
    """growth.png: bytes stored vs turns, log-log, per library and durable backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    styles = {"waypoint": ("tab:green", "o"), "langgraph": ("tab:red", "s"),
              "langgraph delta": ("tab:orange", "^")}
    lines = {"sqlite": "-", "postgres": "--"}
    for backend in ("sqlite", "postgres"):
        for variant in VARIANTS:
            pts = sorted((m["turns"], m["bytes"]) for m in raw
                         if m["variant"] == variant and m["backend"] == backend and m["bytes"])
            if not pts:
                continue
            color, marker = styles[variant]
            label = {"waypoint": "waypoint", "langgraph": "LangGraph (default)",
                     "langgraph delta": "LangGraph DeltaChannel (beta)"}[variant]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lines[backend], color=color,
                    marker=marker, label=f"{label}, {'SQLite' if backend == 'sqlite' else 'PostgreSQL'}")
    turns = sorted({m["turns"] for m in raw})
    payload = [2 * t * CONTENT for t in turns]
    ax.plot(turns, payload, ":", color="grey", label="message text itself (2 x 200 B per turn)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("turns (one user + one assistant message each)")
    ax.set_ylabel("bytes stored in the database")
    ax.set_title("Chat thread storage vs length (log-log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
