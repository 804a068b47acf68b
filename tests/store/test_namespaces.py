"""Unit tests of namespace/key rules and namespace listing (``waypoint.store._namespaces``)."""

from __future__ import annotations

import pytest

from waypoint.errors import InvalidNamespaceError
from waypoint.store._items import MatchCondition
from waypoint.store._namespaces import (
    has_prefix,
    namespace_to_text,
    path_matches,
    select_namespaces,
    text_to_namespace,
    validate_key,
    validate_match_path,
    validate_namespace,
    validate_namespace_prefix,
)


def test_valid_namespaces_pass_through():
    assert validate_namespace(("users", "1")) == ("users", "1")
    assert validate_namespace(("a", "waypoint")) == ("a", "waypoint")
    assert validate_namespace(("waypoint", "x"), write=False) == ("waypoint", "x")


@pytest.mark.parametrize(
    "namespace, fragment",
    [
        ((), "at least one label"),
        (("",), "non-empty"),
        (("a.b",), "split it into separate labels: ('a', 'b')"),
        (("waypoint",), "reserved"),
        (("a", None), "NoneType"),
        ("users", "('users',) with a trailing comma"),
        (["a"], "tuple"),
    ],
)
def test_invalid_namespaces_name_value_and_rule(namespace, fragment):
    with pytest.raises(InvalidNamespaceError) as info:
        validate_namespace(namespace)
    message = str(info.value)
    assert repr(namespace) in message and fragment in message


def test_error_is_a_value_error():
    with pytest.raises(ValueError):
        validate_namespace(())


def test_prefix_may_be_empty_but_not_malformed():
    assert validate_namespace_prefix(()) == ()
    assert validate_namespace_prefix(("waypoint",)) == ("waypoint",)
    for bad in (("a.b",), ("",), "a", None):
        with pytest.raises(InvalidNamespaceError):
            validate_namespace_prefix(bad)


def test_match_paths_accept_wildcards_and_lists():
    assert validate_match_path(("a", "*")) == ("a", "*")
    assert validate_match_path(["a", "*"]) == ("a", "*")
    with pytest.raises(InvalidNamespaceError):
        validate_match_path(("a.*",))


@pytest.mark.parametrize("key", ["", 1, None, b"k"])
def test_invalid_keys(key):
    with pytest.raises(ValueError, match="key"):
        validate_key(key)


def test_text_form_round_trips():
    assert namespace_to_text(("a", "b")) == "a.b"
    assert text_to_namespace("a.b") == ("a", "b")


def test_has_prefix_is_label_wise():
    assert has_prefix(("a", "b"), ("a",)) and has_prefix(("a",), ())
    assert not has_prefix(("ab",), ("a",)) and not has_prefix(("a",), ("a", "b"))


def test_path_matches():
    ns = ("a", "b", "c")
    assert path_matches(ns, "prefix", ("a", "*"))
    assert path_matches(ns, "suffix", ("*", "c"))
    assert path_matches(ns, "prefix", ())
    assert not path_matches(ns, "suffix", ("b",))
    assert not path_matches(ns, "prefix", ("*", "*", "*", "*"))
    with pytest.raises(ValueError):
        path_matches(ns, "middle", ("a",))  # type: ignore[arg-type]


def test_select_namespaces_truncates_dedups_sorts_and_pages():
    stored = [("b",), ("a", "x", "1"), ("a", "x", "2"), ("a", "y"), ("a-",)]
    assert select_namespaces(stored) == [("a", "x", "1"), ("a", "x", "2"), ("a", "y"), ("a-",),
                                         ("b",)]
    assert select_namespaces(stored, max_depth=1) == [("a",), ("a-",), ("b",)]
    assert select_namespaces(stored, [MatchCondition("prefix", ("a",))], max_depth=2) == [
        ("a", "x"), ("a", "y"),
    ]
    assert select_namespaces(stored, [MatchCondition("suffix", ("2",))]) == [("a", "x", "2")]
    assert select_namespaces(stored, limit=2, offset=3) == [("a-",), ("b",)]
