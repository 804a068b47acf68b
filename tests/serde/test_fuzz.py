"""Seeded fuzzing: random and mutated bytes load as a value or raise SerializationError only."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import sys
import uuid
import zlib
from typing import Any

import numpy as np
import pytest

from tests.serde.test_roundtrip import VALUES, Pair, Point, User
from waypoint.checkpoint.serde import EncryptedSerializer, JsonPlusSerializer
from waypoint.errors import SerializationError

ITERATIONS = 10_000
TAGS = ["msgpack", "json", "bytes", "bytearray", "null", "pickle", "msgpack+z", "msgpack+z+z",
        "bogus"]  # fmt: skip


def _random_bytes(rng: random.Random) -> bytes:
    size = rng.choice((0, 1, 2, 3, 5, 8, 16, 64, 256))
    if rng.random() < 0.5:
        # Bias towards msgpack's interesting first bytes: ext, containers, strings.
        head = bytes([rng.choice((0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0x91,
                                  0x92, 0xDC, 0x81, 0xDE, 0xA3, 0xD9, 0xC4))])  # fmt: skip
        ext_code = bytes([rng.randrange(0, 70)])
        return head + ext_code + rng.randbytes(size)
    return rng.randbytes(size)


@pytest.fixture(autouse=True)
def _nothing_imported() -> Any:
    # Warm up what libraries import lazily on first use (not driven by the data).
    enc = EncryptedSerializer(key=b"0123456789abcdef")
    enc.loads_typed(enc.dumps_typed(1))
    with pytest.raises(SerializationError):
        enc.loads_typed(("msgpack+aes", b"\x00" * 40))
    before = set(sys.modules)
    yield
    # ZoneInfo keys the system tz database lacks are looked up in the data-only ``tzdata``
    # package by the standard library; nothing else may be imported.
    new = {m for m in set(sys.modules) - before if not m.startswith("tzdata")}
    assert new == set()


def _load(ser: Any, tag: str, data: bytes) -> None:
    with contextlib.suppress(SerializationError):
        ser.loads_typed((tag, data))


@pytest.mark.parametrize("tag", TAGS)
def test_random_bytes_under_each_tag(tag: str) -> None:
    rng = random.Random(f"waypoint-serde-{tag}")
    ser = JsonPlusSerializer()
    for _ in range(ITERATIONS):
        data = _random_bytes(rng)
        if tag.endswith("+z") and rng.random() < 0.7:
            data = zlib.compress(data)
        _load(ser, tag, data)


def _samples() -> list[Any]:
    return [
        *VALUES,
        {"points": [Point(i) for i in range(3)], "pair": Pair((1, 2), {3})},
        User(name="n", tags=("a",)),
        np.arange(12, dtype=">i4").reshape(3, 4),
        np.float32(2.5),
        {"when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "id": uuid.UUID(int=5)},
    ]


def test_mutated_payloads() -> None:
    rng = random.Random(1234)
    ser = JsonPlusSerializer()
    payloads = [ser.dumps_typed(v) for v in _samples()]
    payloads = [(t, d) for t, d in payloads if t == "msgpack" and d]
    for _ in range(ITERATIONS):
        tag, data = rng.choice(payloads)
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            pos = rng.randrange(len(buf)) if buf else 0
            if op < 0.5 and buf:
                buf[pos] = rng.randrange(256)
            elif op < 0.7:
                buf.insert(pos, rng.randrange(256))
            elif op < 0.85 and buf:
                del buf[pos]
            else:
                other = rng.choice(payloads)[1]
                start = rng.randrange(len(other))
                buf[pos:pos] = other[start : start + rng.randint(1, 16)]
        _load(ser, tag, bytes(buf))


def test_random_bytes_encrypted() -> None:
    rng = random.Random(99)
    enc = EncryptedSerializer(key=b"0123456789abcdef")
    for _ in range(2_000):
        data = rng.randbytes(rng.choice((0, 11, 12, 27, 28, 40, 100)))
        with pytest.raises(SerializationError):
            enc.loads_typed((rng.choice(["msgpack+aes", "json+aes", "+aes", "x+aes"]), data))


def test_mutated_gadget_payloads_run_no_class_code() -> None:
    # Payloads naming classes whose hooks have side effects, mutated: whatever loads, no hook
    # (``__post_init__``, ``model_post_init``, validators, ``__new__``, ``_missing_``) runs.
    import ormsgpack

    from tests.serde import gadgets
    from waypoint.checkpoint.serde import _stdlib as codes

    g = gadgets.__name__
    payloads = [
        ormsgpack.packb(ormsgpack.Ext(code, ormsgpack.packb(body)))
        for code, body in [
            (codes.LC_CONSTRUCTOR, [g, "Upload", {"path": "/nonexistent/x"}]),
            (codes.PYDANTIC_V2, [g, "PostInitModel", {"path": "p"}]),
            (codes.PYDANTIC_V2, [g, "ValidatedModel", {"path": "p", "size": 1}]),
            (codes.PYDANTIC_V2, [g, "PrivateModel", {"name": "n"}]),
            (codes.PYDANTIC_V1, [g, "V1Model", {"a": 1}, ["a"]]),
            (codes.ENUM, [g, "MissingHook", "a"]),
            (codes.ENUM, [g, "Perm", 3]),
            (codes.DATACLASS, [g, "NewHook", {"a": 1}]),
            (codes.NAMEDTUPLE, [g, "Point", [1, 2]]),
        ]
    ]
    rng = random.Random(4321)
    ser = JsonPlusSerializer(allowed_modules=[g])
    gadgets.RAN.clear()
    for _ in range(ITERATIONS // 2):
        buf = bytearray(rng.choice(payloads))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(buf))
            if rng.random() < 0.7:
                buf[pos] = rng.randrange(256)
            else:
                del buf[pos]
        _load(ser, "msgpack", bytes(buf))
    assert gadgets.RAN == []


def test_random_and_moved_bytes_under_a_bound_tag() -> None:
    """Issue 19 #3: ``+aesb`` data (sealed to a place) as random bytes, at a random place, or a
    real sealed value at any other place: always a SerializationError (EncryptedPlacementError
    for the moved ones), never a value."""
    from waypoint.errors import EncryptedPlacementError

    rng = random.Random(1919)
    enc = EncryptedSerializer(key=b"0123456789abcdef")
    place = ("blob", "victim", "", "secret", "1")
    sealed = enc.dumps_typed({"card": "4111"}, place)
    assert enc.loads_typed(sealed, place) == {"card": "4111"}
    for _ in range(2_000):
        parts = list(place)
        i = rng.randrange(len(parts))
        parts[i] = parts[i] + rng.choice(["x", "\x00", " ", "é", "1"])
        with pytest.raises(EncryptedPlacementError):
            enc.loads_typed(sealed, tuple(parts))
        data = rng.randbytes(rng.choice((0, 11, 28, 40, 100)))
        with pytest.raises(SerializationError):
            enc.loads_typed((rng.choice(["msgpack+aesb", "json+aesb", "+aesb"]), data), place)
    with pytest.raises(EncryptedPlacementError, match="load it through the saver"):
        enc.loads_typed(sealed)
    with pytest.raises(SerializationError):  # relabelled unbound: the associated data differs
        enc.loads_typed(("msgpack+aes", sealed[1]))
