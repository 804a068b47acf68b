"""Search filters as MongoDB queries, with the store's exact semantics and no injection.

Input is :func:`waypoint.store._filters.compile_filter`'s output. Each path segment is checked
again here (no leading ``"$"``, no ``"."``, no NUL, not empty: InvalidFilterError) and escaped
like stored keys (``_codec.escape_key``) before it becomes part of a ``"value.a.b"`` field path,
so a filter can only ever name a field, never an operator. Operands go in only as BSON values
under an operator of ours, never as query structure.

MongoDB's own matching differs from the store's in a few places, each guarded:

- implicit array traversal (``{"tags": "x"}`` matching ``["x", "y"]``; ``"a.b"`` reaching into a
  list of objects): every prefix of the path and, for scalar comparisons, the field itself must
  not be an array;
- ``null`` matching a missing field: ``$exists: true``; ``$ne``/``$nin`` skipping arrays that
  contain the operand: an ``$or`` with ``$type: "array"`` (a list never equals a scalar);
- stored NaN under ``$lt``: a ``$ne: NaN`` guard.

Operands MongoDB cannot compare with exact JSON semantics (objects, whose equality is key-order
sensitive there; lists, which match as elements; NaN; ints beyond 64 bits) are translated to a
*superset* condition and the translation is marked inexact: the store then re-checks every
candidate with the reference matcher :func:`waypoint.store._filters.matches` and pages in Python.
Such operands never reach the server at all.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from waypoint.errors import InvalidFilterError
from waypoint.store._filters import ORDERING_OPERATORS, FilterCondition
from waypoint.store.mongodb._codec import escape_key

_NOT_ARRAY = {"$not": {"$type": "array"}}
_IS_ARRAY = {"$type": "array"}
_NAN = float("nan")


class Translation(NamedTuple):
    """``clauses`` to AND into a query; ``exact`` False means candidates need re-checking."""

    clauses: list[dict[str, Any]]
    exact: bool


def field_path(path: tuple[str, ...]) -> str:
    """The stored field path of a filter path; raises InvalidFilterError for unsafe segments."""
    if not path:
        raise InvalidFilterError("empty filter path: name a value key like 'status'")
    for segment in path:
        if not isinstance(segment, str) or not segment:
            raise InvalidFilterError(f"filter path {path!r}: segments are non-empty str")
        if segment.startswith("$"):
            raise InvalidFilterError(
                f"filter path {path!r}: segment {segment!r} starts with '$', which would be a "
                "MongoDB operator; filter keys name value fields"
            )
        if "." in segment or "\x00" in segment:
            raise InvalidFilterError(
                f"filter path {path!r}: segment {segment!r} contains '.' or NUL; write nested "
                "keys as one dotted filter key, e.g. 'a.b'"
            )
    return "value." + ".".join(escape_key(s) for s in path)


def bson_scalar(value: Any) -> bool:
    """Whether MongoDB compares ``value`` exactly as JSON equality does (no NaN, 64-bit ints)."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return not math.isnan(value)
    return False


def _superset(field: str, cond: FilterCondition) -> dict[str, Any]:
    """A condition every true match satisfies, for operands MongoDB cannot compare exactly."""
    if cond.op == "$eq" and isinstance(cond.value, dict):
        return {field: {"$type": "object"}}
    if cond.op == "$eq" and isinstance(cond.value, list):
        return {field: {"$type": "array", "$size": len(cond.value)}}
    return {field: {"$exists": True}}


def _exact(field: str, cond: FilterCondition) -> dict[str, Any]:
    op, value = cond.op, cond.value
    if op == "$eq":
        spec: dict[str, Any] = {"$eq": value, **_NOT_ARRAY}
        return {field: {**spec, "$exists": True} if value is None else spec}
    if op == "$in":
        spec = {"$in": list(value), **_NOT_ARRAY}
        return {field: {**spec, "$exists": True} if None in value else spec}
    if op in ("$ne", "$nin"):
        return {
            field: {"$exists": True},
            "$or": [{field: {op: value}}, {field: _IS_ARRAY}],
        }
    spec = {op: value, **_NOT_ARRAY}
    if not isinstance(value, str):
        spec["$ne"] = _NAN
    return {field: spec}


def _is_exact(cond: FilterCondition) -> bool:
    if cond.op in ("$in", "$nin"):
        return all(bson_scalar(v) for v in cond.value)
    if cond.op in ORDERING_OPERATORS:
        return bson_scalar(cond.value) and cond.value is not None
    return bson_scalar(cond.value)


def translate(conditions: tuple[FilterCondition, ...]) -> Translation:
    """The MongoDB clauses for compiled filter conditions (all must hold)."""
    clauses: list[dict[str, Any]] = []
    exact = True
    guarded: set[str] = set()
    for cond in conditions:
        field = field_path(cond.path)
        parts = field.split(".")
        for depth in range(2, len(parts)):  # every object on the way must not be a list
            parent = ".".join(parts[:depth])
            if parent not in guarded:
                guarded.add(parent)
                clauses.append({parent: _NOT_ARRAY})
        if _is_exact(cond):
            clauses.append(_exact(field, cond))
        else:
            exact = False
            clauses.append(_superset(field, cond))
    return Translation(clauses, exact)
