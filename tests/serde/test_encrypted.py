"""EncryptedSerializer: AES-GCM round trips, keys, tampering, passthrough."""

from __future__ import annotations

import base64
import sys
from typing import Any

import numpy as np
import pytest

from tests.serde._helpers import assert_same
from tests.serde.test_roundtrip import Pair, Point
from waypoint.checkpoint.serde import EncryptedSerializer, JsonPlusSerializer
from waypoint.checkpoint.serde.encrypted import ENV_VAR, parse_key
from waypoint.errors import SerializationError

KEY = bytes(range(32))


@pytest.fixture
def enc() -> EncryptedSerializer:
    return EncryptedSerializer(key=KEY)


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"raw",
        bytearray(b"ba"),
        1,
        "text",
        (1, 2),
        {1: {2}},
        Point(3),
        Pair(1, 2),
        np.arange(6.0).reshape(2, 3),
        [{"role": "user", "content": "hi"}],
    ],
    ids=lambda v: type(v).__name__,
)
def test_roundtrip(enc: EncryptedSerializer, value: Any) -> None:
    tag, data = enc.dumps_typed(value)
    assert tag.endswith("+aes")
    inner_tag, inner_data = JsonPlusSerializer().dumps_typed(value)
    assert tag == inner_tag + "+aes"
    assert len(data) == len(inner_data) + 12 + 16
    assert_same(value, enc.loads_typed((tag, data)))


def test_ciphertext_hides_plaintext_and_uses_fresh_nonces(enc: EncryptedSerializer) -> None:
    first = enc.dumps_typed({"secret": "attack at dawn"})
    second = enc.dumps_typed({"secret": "attack at dawn"})
    assert b"attack" not in first[1]
    assert first[1][:12] != second[1][:12] and first[1] != second[1]


@pytest.mark.parametrize("size", [16, 24, 32])
def test_key_sizes(size: int) -> None:
    enc = EncryptedSerializer(key=bytes(size))
    assert enc.loads_typed(enc.dumps_typed([1])) == [1]


def test_wrong_key(enc: EncryptedSerializer) -> None:
    data = enc.dumps_typed({"a": 1})
    other = EncryptedSerializer(key=bytes(32))
    with pytest.raises(SerializationError, match="wrong key"):
        other.loads_typed(data)


def test_tampered_ciphertext(enc: EncryptedSerializer) -> None:
    tag, data = enc.dumps_typed({"a": (1, 2)})
    for pos in (0, 11, 12, len(data) // 2, len(data) - 1):
        tampered = bytearray(data)
        tampered[pos] ^= 0x01
        with pytest.raises(SerializationError, match="tampered"):
            enc.loads_typed((tag, bytes(tampered)))
    with pytest.raises(SerializationError, match="too short"):
        enc.loads_typed((tag, data[:20]))
    with pytest.raises(SerializationError):
        enc.loads_typed((tag, data[:-1]))


def test_tag_is_authenticated(enc: EncryptedSerializer) -> None:
    _, data = enc.dumps_typed({"a": 1})
    for swapped in ("json+aes", "pickle+aes", "bytes+aes"):
        with pytest.raises(SerializationError, match="tampered"):
            enc.loads_typed((swapped, data))


def test_unencrypted_data_passes_through(enc: EncryptedSerializer) -> None:
    plain = JsonPlusSerializer().dumps_typed({"old": (1,)})
    assert enc.loads_typed(plain) == {"old": (1,)}
    assert enc.loads_typed(("null", b"")) is None
    strict = EncryptedSerializer(key=KEY, allow_unencrypted=False)
    with pytest.raises(SerializationError, match="unencrypted"):
        strict.loads_typed(plain)
    assert strict.loads_typed(enc.dumps_typed(5)) == 5


def test_custom_inner_serializer() -> None:
    inner = JsonPlusSerializer(pickle_fallback=True, compress_threshold=100)
    enc = EncryptedSerializer(inner, key=KEY)
    tag, data = enc.dumps_typed({"t": "x" * 1000})
    assert tag == "msgpack+z+aes"
    assert enc.loads_typed((tag, data)) == {"t": "x" * 1000}


def test_env_key_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    data = EncryptedSerializer(key=KEY).dumps_typed([1, 2])
    for text in (
        KEY.hex(),
        "hex:" + KEY.hex(),
        base64.b64encode(KEY).decode(),
        "base64:" + base64.b64encode(KEY).decode(),
        base64.urlsafe_b64encode(KEY).decode().rstrip("="),
        f"  {KEY.hex()}\n",
    ):
        monkeypatch.setenv(ENV_VAR, text)
        assert EncryptedSerializer().loads_typed(data) == [1, 2]
    monkeypatch.setenv(ENV_VAR, "0123456789abcdef")  # 16 characters: a raw AES-128 key
    raw = EncryptedSerializer()
    assert EncryptedSerializer(key=b"0123456789abcdef").loads_typed(raw.dumps_typed(3)) == 3


def test_key_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(SerializationError, match=ENV_VAR):
        EncryptedSerializer()
    for bad in (b"short", bytes(33), "too short", "hex:abcd", "base64:!!!"):
        with pytest.raises(SerializationError, match="16, 24 or 32"):
            EncryptedSerializer(key=bad)
    with pytest.raises(SerializationError):
        parse_key(123)  # type: ignore[arg-type]


def test_missing_cryptography_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith("cryptography"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(SerializationError, match=r"waypoint-graph\[crypto\]"):
        EncryptedSerializer(key=KEY)


def test_values_sealed_to_a_place(enc: EncryptedSerializer) -> None:
    """Issue 19 #3: with a place, the ciphertext is bound to it (tag ``+aesb``); elsewhere it
    is an EncryptedPlacementError naming the place it was expected at; ``reseal`` moves it;
    unbound ``+aes`` data written before binding stays readable at any place."""
    from waypoint.errors import EncryptedPlacementError

    here = ("write", "t1", "", "cp-1", "task-a", "0")
    there = ("write", "t2", "", "cp-1", "task-a", "0")
    tag, data = enc.dumps_typed(["secret"], here)
    assert tag == "msgpack+aesb"
    assert enc.loads_typed((tag, data), here) == ["secret"]
    with pytest.raises(EncryptedPlacementError, match="expected at write thread_id='t2'") as info:
        enc.loads_typed((tag, data), there)
    assert "secret" not in str(info.value)
    moved = enc.reseal((tag, data), here, there)
    assert enc.loads_typed(moved, there) == ["secret"]
    with pytest.raises(EncryptedPlacementError):
        enc.loads_typed(moved, here)
    with pytest.raises(EncryptedPlacementError):  # resealing from the wrong place
        enc.reseal((tag, data), there, here)
    legacy = enc.dumps_typed(["old"])
    assert legacy[0] == "msgpack+aes" and enc.reseal(legacy, here, there) == legacy
    assert enc.loads_typed(legacy, there) == enc.loads_typed(legacy) == ["old"]
    with pytest.raises(SerializationError, match="load it with EncryptedSerializer"):
        JsonPlusSerializer().loads_typed((tag, data))
