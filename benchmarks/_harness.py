"""Shared machinery for the side-by-side benchmarks: alternating timing, medians, ratios,
targets, Markdown tables, machine information and fresh databases.

Every workload module exposes ``TITLE``, ``KEYS`` (the keys every row has) and
``run(quick: bool) -> list[dict]``. A row is an ordered dict rendered as one table line; the
comparison columns come from :func:`compare`: both figures, ``ratio`` (waypoint / LangGraph),
``target`` and ``met?``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

MIN_REPEATS = 5

# The machine's own PostgreSQL (checkpoint savers); the store workload uses a pgvector server.
PG_ADMIN_URL = os.environ.get("WAYPOINT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

LIBS = ("waypoint", "langgraph")


# ---------------------------------------------------------------------------------------------
# timing


def alternate(
    runners: dict[str, Callable[[int], float | None]], repeats: int = MIN_REPEATS
) -> dict[str, list[float]]:
    """Run every runner ``repeats`` times, alternating which one goes first in each round.

    A runner gets the repeat index and returns its own measurement (e.g. microseconds per
    step), or None to have the harness use the wall time of the call in seconds.
    """
    repeats = max(repeats, MIN_REPEATS)
    names = list(runners)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            value = runners[name](i)
            elapsed = time.perf_counter() - start
            samples[name].append(elapsed if value is None else float(value))
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------------------------------
# comparison rows


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    if value == 0 or abs(value) >= 100:
        return round(value, 1) if abs(value) < 1e6 else round(value)
    digits = 3 if abs(value) >= 1 else 4
    return float(f"{value:.{digits}g}")


def compare(
    waypoint: float | None,
    langgraph: float | None,
    target: str = "",
) -> dict[str, Any]:
    """The comparison columns of a row: both figures, ratio waypoint / LangGraph, target, met?.

    ``target`` is ``"<= X"`` or ``">= X"`` on the ratio (or empty: no target).
    """
    ratio = None
    if waypoint is not None and langgraph not in (None, 0):
        ratio = waypoint / langgraph  # type: ignore[operator]
    return {
        "waypoint": _round(waypoint),
        "langgraph": _round(langgraph),
        "ratio": _round(ratio),
        "target": target,
        "met?": check(ratio, target),
    }


def check(value: float | None, target: str) -> str:
    """"yes"/"NO" when ``value`` meets/misses ``target`` ("<= X", ">= X"); "" without target."""
    if not target:
        return ""
    if value is None:
        return "n/a"
    op, _, bound = target.partition(" ")
    limit = float(bound)
    ok = value <= limit if op == "<=" else value >= limit
    return "yes" if ok else "NO"


# ---------------------------------------------------------------------------------------------
# rendering


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == int(value) and abs(value) >= 100:
            return f"{int(value):,}"
        return f"{value:g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """Render rows as a Markdown table (columns: union of keys in first-seen order)."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# machine


def _commit() -> str:
    """The checked-out commit the run measured (``+ changes`` when the tree is not clean)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(  # the run's own outputs do not count
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             *(f":!benchmarks/{name}" for name in ("RESULTS.md", "results.json", "growth.png"))],
            cwd=root, text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + changes" if dirty else "")


def machine_info() -> dict[str, str]:
    from importlib import metadata

    info: dict[str, str] = {}
    info["cpu"] = _cpu_model()
    info["cores"] = str(os.cpu_count())
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        info["memory"] = "?"
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    info["waypoint commit"] = _commit()
    for dist in ("waypoint-graph", "langgraph", "langgraph-checkpoint", "langgraph-checkpoint-sqlite",
                 "langgraph-checkpoint-postgres", "langchain-core", "psycopg", "numpy",
                 "ormsgpack", "sqlite-vec"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    info["sqlite"] = sqlite3.sqlite_version
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            info["postgresql"] = str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception as exc:  # pragma: no cover - reported, not fatal
        info["postgresql"] = f"unavailable ({exc.__class__.__name__})"
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


# ---------------------------------------------------------------------------------------------
# databases


@contextlib.contextmanager
def fresh_pg_database(admin_url: str = PG_ADMIN_URL, prefix: str = "wpbench") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it (WITH (FORCE)) afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_tables_bytes(url: str, vacuum: bool = True) -> int:
    """Sum of ``pg_total_relation_size`` (heap + TOAST + indexes + FSM/VM) over every table of
    the database's ordinary schemas. With ``vacuum``, a plain ``VACUUM`` first (what autovacuum
    would have done: dead rows become reusable space, files are not compacted)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if vacuum:
            conn.execute("VACUUM")
        row = conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'm') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
    return int(row[0])


def sqlite_file_bytes(conn: sqlite3.Connection | Any, path: str) -> int:
    """Size of the main database file after ``PRAGMA wal_checkpoint(TRUNCATE)``."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    wal = path + "-wal"
    if os.path.exists(wal):
        size += os.path.getsize(wal)  # 0 after a successful TRUNCATE checkpoint
    return size


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x): the growth exponent."""
    import math

    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(points) < 2:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
