"""Property-based round trips of nested builtin containers and scalars."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serde._helpers import assert_same
from waypoint.checkpoint.serde import EncryptedSerializer, JsonPlusSerializer

SER = JsonPlusSerializer()

ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
text = st.text()
scalars = st.one_of(st.none(), st.booleans(), ints, floats, text, st.binary())
hashables = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, floats, text, st.binary()),
    lambda inner: st.one_of(
        st.tuples(inner, inner),
        st.frozensets(inner, max_size=4),
    ),
    max_leaves=8,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(text, inner, max_size=5),
        st.dictionaries(hashables, inner, max_size=5),
        st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=5),
    )


values = st.recursive(scalars, _containers, max_leaves=25)


@given(values)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_nested_values_roundtrip(value: Any) -> None:
    assert_same(value, SER.loads_typed(SER.dumps_typed(value)))


@given(values)
@settings(max_examples=150)
def test_untyped_roundtrip(value: Any) -> None:
    assert_same(value, SER.loads(SER.dumps(value)))


@given(st.dictionaries(text, st.lists(text, max_size=4), max_size=6))
@settings(max_examples=100)
def test_encrypted_roundtrip(value: Any) -> None:
    enc = EncryptedSerializer(key=b"k" * 16)
    assert_same(value, enc.loads_typed(enc.dumps_typed(value)))
