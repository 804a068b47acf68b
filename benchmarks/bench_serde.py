"""Serializer benchmark: waypoint's JsonPlusSerializer against LangGraph's.

Times one ``dumps_typed`` + ``loads_typed`` round trip per case, alternating the two
implementations in every repeat and keeping the median, and compares payload sizes.
LangGraph comes from the ``bench`` extra (``pip install 'waypoint[bench]'``).

Run: ``python benchmarks/bench_serde.py [--quick]``, or as part of ``python -m benchmarks``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import statistics
import string
import sys
import time
import uuid
from typing import Any

import pydantic

TITLE = "Serialization (dumps_typed + loads_typed, µs per round trip; bytes per payload)"
KEYS = ("case", "waypoint_us", "langgraph_us", "ratio", "waypoint_bytes", "langgraph_bytes",
        "bytes_ratio", "target", "met?")
TIME_TARGET, BYTES_TARGET = 0.7, 1.0

class Address(pydantic.BaseModel):
    street: str
    city: str
    zip: str


class Person(pydantic.BaseModel):
    name: str
    age: int
    emails: list[str]
    address: Address


class Team(pydantic.BaseModel):
    name: str
    members: list[Person]
    lead: Person


@dataclasses.dataclass
class Task:
    id: str
    name: str
    priority: int
    tags: list[str]
    done: bool = False
    score: float = 0.0


def _cases() -> dict[str, Any]:
    import numpy as np

    rnd = random.Random(42)

    def text(n: int) -> str:
        return "".join(rnd.choices(string.ascii_letters + "      .,", k=n))

    def person(i: int) -> Person:
        address = Address(street=text(20), city=text(10), zip=str(10000 + i))
        return Person(name=text(12), age=20 + i, emails=[f"p{i}@x.org"], address=address)

    tz = dt.timezone(dt.timedelta(hours=2))
    cases: dict[str, Any] = {
        "chat_messages_100": [
            {
                "role": "user" if i % 2 else "assistant",
                "content": text(200),
                "id": str(uuid.UUID(int=rnd.getrandbits(128))),
            }
            for i in range(100)
        ],
        "numpy_1000x100_f64": np.random.default_rng(0).random((1000, 100)),
        "pydantic_nested": Team(
            name="core", members=[person(i) for i in range(20)], lead=person(99)
        ),
        "dataclass": Task(id="t-1", name=text(30), priority=3, tags=["a", "b", "c"], score=0.5),
        "datetimes_uuids_sets": {
            "created": [dt.datetime(2024, 1, 1, 12, i, tzinfo=tz) for i in range(20)],
            "ids": [uuid.UUID(int=rnd.getrandbits(128)) for _ in range(20)],
            "tags": {f"tag-{i}" for i in range(20)},
            "day": dt.date(2024, 5, 17),
        },
    }
    try:  # the payload LangGraph apps store most: LangChain messages (pydantic models)
        from langchain_core.messages import AIMessage, HumanMessage
    except ImportError:
        return cases
    cases["langchain_messages_100"] = [
        HumanMessage(content=text(200), id=str(i))
        if i % 2
        else AIMessage(content=text(200), id=str(i), response_metadata={"model": "m"})
        for i in range(100)
    ]
    return cases


def _time_roundtrip(ser: Any, value: Any, iterations: int) -> float:
    dumps, loads = ser.dumps_typed, ser.loads_typed
    start = time.perf_counter()
    for _ in range(iterations):
        loads(dumps(value))
    return (time.perf_counter() - start) / iterations * 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Benchmark every case; return one row per case (times in microseconds)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer as LangGraphSerializer

    from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

    # LangGraph logs a warning per unregistered class it loads; keep the output readable.
    logging.getLogger("langgraph").setLevel(logging.ERROR)
    ours = JsonPlusSerializer()
    theirs = LangGraphSerializer()
    repeats = 5 if quick else 15
    budget = 0.01 if quick else 0.1  # seconds per timing sample
    rows = []
    for name, value in _cases().items():
        ours_bytes = len(ours.dumps_typed(value)[1])
        theirs_bytes = len(theirs.dumps_typed(value)[1])
        probe = max(_time_roundtrip(ours, value, 3), _time_roundtrip(theirs, value, 3))  # warm
        iterations = max(1, int(budget * 1e6 / max(probe, 1.0)))
        samples: dict[str, list[float]] = {"ours": [], "theirs": []}
        runners: list[tuple[str, Any]] = [("ours", ours), ("theirs", theirs)]
        for i in range(repeats):
            order = runners if i % 2 == 0 else runners[::-1]
            for key, ser in order:
                samples[key].append(_time_roundtrip(ser, value, iterations))
        ours_us = statistics.median(samples["ours"])
        theirs_us = statistics.median(samples["theirs"])
        rows.append(
            {
                "case": name,
                "waypoint_us": round(ours_us, 2),
                "langgraph_us": round(theirs_us, 2),
                "ratio": round(ours_us / theirs_us, 3),
                "waypoint_bytes": ours_bytes,
                "langgraph_bytes": theirs_bytes,
                "bytes_ratio": round(ours_bytes / theirs_bytes, 3),
                "target": f"time <= {TIME_TARGET}, bytes <= {BYTES_TARGET}",
                "met?": _met(ours_us / theirs_us, ours_bytes / theirs_bytes),
            }
        )
    return rows


def _met(time_ratio: float, bytes_ratio: float) -> str:
    missed = [name for name, ok in (("time", time_ratio <= TIME_TARGET),
                                    ("bytes", bytes_ratio <= BYTES_TARGET)) if not ok]
    return "yes" if not missed else "NO (" + ", ".join(missed) + ")"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """Render rows as a Markdown table."""
    columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    start = time.perf_counter()
    print(to_markdown(run(quick=quick)))
    print(f"\n(total {time.perf_counter() - start:.1f} s, quick={quick})")


if __name__ == "__main__":
    main()
