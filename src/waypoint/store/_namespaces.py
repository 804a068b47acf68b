"""Namespace and key rules of the store, shared by every backend.

A namespace is a non-empty tuple of non-empty ``str`` labels without ``"."``; the first label
may not be ``"waypoint"`` (reserved for the library's own data). Keys are non-empty ``str``.
Neither labels nor keys may hold NUL or lone surrogates (see ``waypoint._text``): PostgreSQL
cannot store them and SQLite's JSON functions cut text at NUL, so every backend refuses them.

Why ``"."`` is forbidden: backends store a namespace as one text column joined with ``"."``
(:func:`namespace_to_text`); a dotted label would make ``("a.b",)`` and ``("a", "b")`` the same
row. Reads validate the shape too, so ``get(("a.b",), k)`` can never alias ``("a", "b")``.

Ordering contract (every backend): namespaces sort as Python tuples of ``str`` compared by code
point, shorter prefix first. In SQL this is ``ORDER BY`` on the joined text with ``"."``
replaced by a character lower than any label character (e.g. ``replace(prefix, '.', char(1))``),
or a sort in Python over the fetched rows.

This module is pure Python with no I/O; SQL and Mongo backends reuse it as is.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Sequence, cast

from waypoint._text import text_problem
from waypoint.errors import InvalidKeyError, InvalidNamespaceError

RESERVED_LABEL = "waypoint"
"""First namespace label reserved for waypoint's own data; user writes there are refused."""

SEPARATOR = "."
"""Joins labels into a namespace's text form (:func:`namespace_to_text`)."""

WILDCARD = "*"
"""Matches any single label in ``list_namespaces`` prefix/suffix paths."""


def _bad(namespace: Any, rule: str) -> InvalidNamespaceError:
    return InvalidNamespaceError(f"invalid namespace {namespace!r}: {rule}")


def _check_labels(namespace: Any, what: str) -> None:
    if isinstance(namespace, str):
        raise _bad(
            namespace,
            f"a {what} is a tuple of labels, not a str; write ({namespace!r},) "
            "with a trailing comma for a one-label namespace",
        )
    if not isinstance(namespace, tuple):
        raise _bad(namespace, f"a {what} must be a tuple of str labels, e.g. ('users', '123')")
    for label in namespace:
        if not isinstance(label, str):
            raise _bad(
                namespace,
                f"label {label!r} is a {type(label).__name__}; every label must be a str",
            )
        if not label:
            raise _bad(namespace, "labels must be non-empty strings")
        problem = text_problem(label)
        if problem is not None:
            raise _bad(namespace, f"label {label!r} {problem}; no database can store it")
        if SEPARATOR in label:
            raise _bad(
                namespace,
                f"label {label!r} contains '.', which is not allowed; "
                f"split it into separate labels: {tuple(label.split(SEPARATOR))!r}",
            )


_VALID: dict[tuple[str, ...], None] = {}  # namespaces whose labels passed, most recent ones
_VALID_MAX = 4096


def _known_valid(namespace: Any) -> bool:
    """Whether ``namespace`` already passed the label checks (a hot path for every op)."""
    if type(namespace) is not tuple:
        return False
    try:
        return namespace in _VALID
    except TypeError:  # an unhashable label: validation will name it
        return False


def _remember_valid(namespace: tuple[str, ...]) -> None:
    if len(_VALID) >= _VALID_MAX:
        _VALID.clear()
    _VALID[namespace] = None


def validate_namespace(namespace: Any, *, write: bool = True) -> tuple[str, ...]:
    """Check an item's namespace and return it; raise InvalidNamespaceError naming the rule.

    ``write=False`` (gets) skips the reserved-label rule: reading a reserved namespace is
    harmless, it is simply empty for users.
    """
    if not _known_valid(namespace):
        _check_labels(namespace, "namespace")
        if not namespace:
            raise _bad(namespace, "a namespace must have at least one label, e.g. ('memories',)")
        _remember_valid(namespace)
    if write and namespace[0] == RESERVED_LABEL:
        raise _bad(
            namespace,
            f"the first label {RESERVED_LABEL!r} is reserved for waypoint's own data; "
            "choose another root label",
        )
    return namespace  # type: ignore[no-any-return]


def validate_namespace_prefix(prefix: Any) -> tuple[str, ...]:
    """Check a ``search`` namespace prefix: like a namespace, but ``()`` (everything) is fine."""
    _check_labels(prefix, "namespace prefix")
    return cast("tuple[str, ...]", prefix)


def validate_match_path(path: Any) -> tuple[str, ...]:
    """Check a ``list_namespaces`` prefix/suffix path; ``"*"`` labels are wildcards."""
    if isinstance(path, list):
        path = tuple(path)
    _check_labels(path, "namespace path")
    return cast("tuple[str, ...]", path)


def validate_key(key: Any) -> str:
    """Check an item key: a non-empty ``str`` without NUL or lone surrogates (raises
    InvalidKeyError, a ValueError, naming the bad key)."""
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"invalid store key {key!r}: keys must be str, got {type(key).__name__}; "
            f"pass str({key!r}) if that is what you mean"
        )
    if not key:
        raise InvalidKeyError("invalid store key '': keys must be non-empty strings")
    problem = text_problem(key)
    if problem is not None:
        raise InvalidKeyError(f"invalid store key {key!r}: it {problem}; no database can store it")
    return key


def namespace_to_text(namespace: Sequence[str]) -> str:
    """The single-column form backends store: labels joined with ``"."``."""
    return SEPARATOR.join(namespace)


def text_to_namespace(text: str) -> tuple[str, ...]:
    """Inverse of :func:`namespace_to_text`."""
    return tuple(text.split(SEPARATOR))


def has_prefix(namespace: Sequence[str], prefix: Sequence[str]) -> bool:
    """True if ``prefix`` is a label-wise prefix of ``namespace`` (``("a",)`` never matches
    ``("ab",)``); the empty prefix matches everything."""
    n = len(prefix)
    return len(namespace) >= n and tuple(namespace[:n]) == tuple(prefix)


def path_matches(
    namespace: Sequence[str], match_type: Literal["prefix", "suffix"], path: Sequence[str]
) -> bool:
    """True if ``namespace`` starts (``"prefix"``) or ends (``"suffix"``) with ``path``,
    where a ``"*"`` label in ``path`` matches any one label."""
    n = len(path)
    if n == 0:
        return True
    if len(namespace) < n:
        return False
    if match_type == "prefix":
        part = namespace[:n]
    elif match_type == "suffix":
        part = namespace[len(namespace) - n :]
    else:
        raise ValueError(f"unknown match_type {match_type!r}; use 'prefix' or 'suffix'")
    return all(p in (WILDCARD, label) for p, label in zip(path, part, strict=True))


def select_namespaces(
    namespaces: Iterable[tuple[str, ...]],
    conditions: Iterable[Any] | None = None,
    *,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[str, ...]]:
    """The ``list_namespaces`` result over a set of stored namespaces.

    Conditions (objects with ``match_type`` and ``path``, i.e. ``MatchCondition``) are tested
    on the full namespace; then namespaces are truncated to ``max_depth`` labels, de-duplicated,
    sorted as tuples, and ``offset``/``limit`` applied. Backends that can only fetch distinct
    namespaces use this for the rest.
    """
    conds = list(conditions or ())
    selected = set()
    for ns in namespaces:
        if all(path_matches(ns, c.match_type, c.path) for c in conds):
            selected.add(ns[:max_depth] if max_depth is not None else ns)
    return sorted(selected)[offset : offset + limit]
