"""Search filters: validation, a normalized form for query translators, and a Python matcher.

A filter is a dict mapping a *value path* to a condition::

    {"status": "active"}                       # equality
    {"score": {"$gte": 3, "$lt": 5}}           # operators, all must hold
    {"author.name": {"$in": ["ann", "bob"]}}   # dotted path into nested objects

Paths are dotted keys walking nested objects (``"a.b"`` is ``value["a"]["b"]``); a segment
applied to anything but an object finds nothing. Operators: ``$eq $ne $gt $gte $lt $lte $in
$nin``; anything else is an InvalidFilterError.

Semantics every backend must reproduce exactly (the conformance suite checks them):

- A path that is missing never matches, whatever the operator (``$ne`` and ``$nin`` too).
  A present JSON ``null`` is a value: ``{"x": None}`` matches it.
- Equality is exact JSON equality: ``True`` is not ``1``, ``1 == 1.0``, a list equals only an
  equal list (no "array contains" semantics), objects compare key by key.
- ``$gt $gte $lt $lte`` compare two numbers, or two strings by code point. Any other pairing
  (str vs int, bool, null, list, object) does not match and never raises.
- ``$in``/``$nin`` take a list; ``$in`` matches a value equal to one element, ``$nin`` a
  present value equal to none.

Translators (SQL, Mongo) consume :func:`compile_filter`'s output, a tuple of
:class:`FilterCondition`. Path segments and operand values are user data: pass them as query
*parameters* (e.g. a JSON path built from bound segments, a bound value), never formatted into
query text. Segments cannot start with ``"$"``, so a Mongo translator never sees an operator
name as a field. Where a backend cannot express a condition natively it may fetch more rows and
post-filter with :func:`matches`, which is the reference implementation; :func:`predicate`
gives the same answers as one function per filter, for scanning many values.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal, Mapping, NamedTuple

from waypoint._text import find_bad_text
from waypoint.errors import InvalidFilterError

OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"})
ORDERING_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})
LIST_OPERATORS = frozenset({"$in", "$nin"})

JsonKind = Literal["null", "bool", "number", "string", "array", "object"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by :func:`get_path` when a path does not exist in a value."""


class FilterCondition(NamedTuple):
    """One validated condition: ``path`` (segments), ``op`` (one of OPERATORS), ``value``.

    Plain equality is normalized to ``"$eq"``; tuples in operands become lists; ``$in``/``$nin``
    operands are lists.
    """

    path: tuple[str, ...]
    op: str
    value: Any


def parse_filter_key(key: Any) -> tuple[str, ...]:
    """Split a filter key like ``"a.b"`` into segments, rejecting malformed keys."""
    if not isinstance(key, str):
        raise InvalidFilterError(
            f"invalid filter key {key!r}: keys must be str paths like 'status' or 'a.b'"
        )
    segments = tuple(key.split("."))
    if not key or any(not s for s in segments):
        raise InvalidFilterError(
            f"invalid filter key {key!r}: a path has non-empty segments separated by single dots"
        )
    for s in segments:
        if s.startswith("$"):
            raise InvalidFilterError(
                f"invalid filter key {key!r}: segment {s!r} starts with '$'; operators go "
                f"inside the condition, e.g. {{'score': {{'$gt': 1}}}}, and logical operators "
                "($and, $or) are not supported"
            )
    return segments


def json_kind(value: Any) -> JsonKind | None:
    """The JSON type of a Python value, or None if it is not JSON data."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _normalize_operand(value: Any, key: str) -> Any:
    kind = json_kind(value)
    if kind is None:
        raise InvalidFilterError(
            f"filter {key!r}: operand {value!r} of type {type(value).__name__} is not JSON "
            "data; use str, int, float, bool, None, lists or dicts of those"
        )
    if kind == "array":
        return [_normalize_operand(v, key) for v in value]
    if kind == "object":
        if not all(isinstance(k, str) for k in value):
            raise InvalidFilterError(f"filter {key!r}: object operands need str keys")
        return {k: _normalize_operand(v, key) for k, v in value.items()}
    return value


def _compile_operator(path: tuple[str, ...], key: str, op: str, operand: Any) -> FilterCondition:
    if op not in OPERATORS:
        raise InvalidFilterError(
            f"filter {key!r}: unknown operator {op!r}; supported: {', '.join(sorted(OPERATORS))}"
        )
    if op in ORDERING_OPERATORS:
        if json_kind(operand) not in ("number", "string"):
            raise InvalidFilterError(
                f"filter {key!r}: {op} compares numbers or strings, got {operand!r}"
            )
        return FilterCondition(path, op, operand)
    if op in LIST_OPERATORS and not isinstance(operand, (list, tuple)):
        raise InvalidFilterError(
            f"filter {key!r}: {op} takes a list of values, got {operand!r}; "
            f"write {{{op!r}: [{operand!r}]}}"
        )
    return FilterCondition(path, op, _normalize_operand(operand, key))


def compile_filter(filter: Mapping[str, Any] | None) -> tuple[FilterCondition, ...]:
    """Validate a filter dict and return its conditions (all must hold).

    Raises InvalidFilterError naming the bad key or operator.
    """
    if filter is None:
        return ()
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(
            f"filter must be a dict like {{'status': 'active'}}, got {type(filter).__name__}"
        )
    bad = find_bad_text(filter)
    if bad is not None:
        raise InvalidFilterError(
            f"filter {dict(filter)!r}: the string {bad[0]!r} {bad[1]}; no database can store such "
            "a value, so a filter may not hold one"
        )
    out: list[FilterCondition] = []
    for key, cond in filter.items():
        path = parse_filter_key(key)
        if isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond):
            plain = [k for k in cond if not str(k).startswith("$")]
            if plain:
                raise InvalidFilterError(
                    f"filter {key!r}: mixes operators with plain keys {plain!r}; use only "
                    "operators, or compare a whole object with {'$eq': {...}}"
                )
            out.extend(_compile_operator(path, key, op, v) for op, v in cond.items())
        else:
            out.append(FilterCondition(path, "$eq", _normalize_operand(cond, key)))
    return tuple(out)


def get_path(value: Any, path: tuple[str, ...]) -> Any:
    """Walk ``path`` through nested dicts; :data:`MISSING` if any step is absent."""
    current = value
    for segment in path:
        # ``type(...) is dict`` first: the ABC check behind isinstance(Mapping) is slow
        if (type(current) is not dict and not isinstance(current, Mapping)) or segment not in current:
            return MISSING
        current = current[segment]
    return current


def json_equal(a: Any, b: Any) -> bool:
    """Exact JSON equality: bools are not numbers, ints equal floats, lists and dicts deep."""
    ta = type(a)
    if ta is type(b) and (ta is str or ta is int or ta is float):  # the common case, exactly
        return bool(a == b)
    ka, kb = json_kind(a), json_kind(b)
    if ka != kb:
        return False
    if ka == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if ka is None:
        try:
            return type(a) is type(b) and bool(a == b)
        except Exception:
            return False
    return bool(a == b)


def compare(a: Any, b: Any) -> int | None:
    """-1/0/1 ordering of two numbers or two strings; None if they are not comparable."""
    ka, kb = json_kind(a), json_kind(b)
    if ka != kb or ka not in ("number", "string"):
        return None
    if ka == "number" and (math.isnan(a) or math.isnan(b)):
        return None
    return int(a > b) - int(a < b)


def condition_matches(cond: FilterCondition, value: Any) -> bool:
    """Whether one compiled condition holds for an item's value dict."""
    found = get_path(value, cond.path)
    if found is MISSING:
        return False
    op = cond.op
    if op == "$eq":
        return json_equal(found, cond.value)
    if op == "$ne":
        return not json_equal(found, cond.value)
    if op == "$in":
        return any(json_equal(found, v) for v in cond.value)
    if op == "$nin":
        return not any(json_equal(found, v) for v in cond.value)
    order = compare(found, cond.value)
    if order is None:
        return False
    if op == "$gt":
        return order > 0
    if op == "$gte":
        return order >= 0
    if op == "$lt":
        return order < 0
    return order <= 0  # $lte


def matches(conditions: tuple[FilterCondition, ...], value: Any) -> bool:
    """Whether every compiled condition holds (the empty filter matches everything)."""
    return all(condition_matches(c, value) for c in conditions)


def _always(value: Any) -> bool:
    return True


def _condition_test(cond: FilterCondition) -> Callable[[Any], bool]:
    """``condition_matches`` bound to ``cond``, with a fast path for the commonest condition:
    equality with a str or number at a one-segment path (same results, fewer calls)."""
    path, op, operand = cond
    kind = type(operand)
    if op != "$eq" or len(path) != 1 or kind not in (str, int, float):
        return lambda value: condition_matches(cond, value)
    segment = path[0]

    def test(value: Any) -> bool:
        if type(value) is dict:
            found = value.get(segment, MISSING)
        else:
            found = get_path(value, path)
        if found is MISSING:
            return False
        if type(found) is kind:
            return bool(found == operand)
        return json_equal(found, operand)

    return test


def predicate(conditions: tuple[FilterCondition, ...]) -> Callable[[Any], bool]:
    """One function ``value -> bool`` equal to ``matches(conditions, value)``, for testing
    many values against the same compiled filter."""
    tests = [_condition_test(c) for c in conditions]
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    return lambda value: all(test(value) for test in tests)


def match_filter(filter: Mapping[str, Any] | None, value: Any) -> bool:
    """Compile and test a filter in one call (compile once when testing many values)."""
    return matches(compile_filter(filter), value)
