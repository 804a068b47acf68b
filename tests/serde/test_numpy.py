"""numpy arrays and scalars: dtype, byte order, shape, memory order and writability kept."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.serde._helpers import roundtrip
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.errors import SerializationError


@pytest.fixture
def ser() -> JsonPlusSerializer:
    return JsonPlusSerializer()


DTYPES = [
    "?", "i1", "u1", "<i2", ">i2", "<i4", ">u4", "<i8", ">u8", "<f2", "<f4", ">f4", "<f8",
    ">f8", "<c8", ">c16", "<M8[ns]", ">M8[s]", "<m8[us]", "<U5", "S3", "V4",
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_dtypes(ser: JsonPlusSerializer, dtype: str) -> None:
    arr = np.frombuffer(np.random.default_rng(1).bytes(np.dtype(dtype).itemsize * 6), dtype)
    if arr.dtype.kind == "U":
        arr = np.array(["a", "bé", "", "xyz", "hello", "ok"], dtype=dtype)
    roundtrip(ser, arr.reshape(2, 3).copy())
    roundtrip(ser, {"nested": arr.copy()})


def test_numpy_layouts(ser: JsonPlusSerializer) -> None:
    base = np.arange(24, dtype="<f8").reshape(2, 3, 4)
    fortran = np.asfortranarray(base)
    assert not fortran.flags.c_contiguous
    roundtrip(ser, fortran)
    roundtrip(ser, [fortran])
    sliced = base[:, ::2, 1:]
    out = ser.loads_typed(ser.dumps_typed(sliced))
    assert np.array_equal(out, sliced) and out.dtype == sliced.dtype and out.flags.writeable
    roundtrip(ser, np.array(3.5))
    roundtrip(ser, np.zeros((0, 3), dtype=">i4"))
    roundtrip(ser, np.array([np.nan, np.inf, -0.0]))


def test_numpy_structured(ser: JsonPlusSerializer) -> None:
    dtype = np.dtype([("id", "<i4"), ("pos", ">f8", (2,)), ("name", "U4")], align=True)
    arr = np.zeros(3, dtype=dtype)
    arr["id"] = [1, 2, 3]
    arr["pos"] = [[1, 2], [3, 4], [5, 6]]
    arr["name"] = ["a", "bb", "ccc"]
    out = roundtrip(ser, arr)
    assert out.dtype == dtype and out.dtype.isalignedstruct
    nested = np.zeros(2, dtype=[("inner", [("a", "u1"), ("b", "<f4")]), ("c", "?")])
    roundtrip(ser, nested)
    titled = np.zeros(2, dtype={"names": ["a"], "formats": ["<i4"], "titles": ["Alpha"]})
    assert ser.loads_typed(ser.dumps_typed(titled)).dtype == titled.dtype


@pytest.mark.parametrize(
    "scalar",
    [
        np.float32(1.5),
        np.float64(2.5),
        np.float16(-1),
        np.int8(-3),
        np.uint64(2**64 - 1),
        np.int64(-(2**63)),
        np.bool_(True),
        np.complex64(1 + 2j),
        np.datetime64("2024-01-01T12:00", "ns"),
        np.timedelta64(5, "s"),
        np.str_("text"),
        np.bytes_(b"by"),
    ],
    ids=lambda s: type(s).__name__,
)
def test_numpy_scalars(ser: JsonPlusSerializer, scalar: Any) -> None:
    roundtrip(ser, scalar)
    roundtrip(ser, {"s": [scalar]})


def test_numpy_object_dtype_refused(ser: JsonPlusSerializer) -> None:
    with pytest.raises(SerializationError, match="dtype object"):
        ser.dumps_typed(np.array([1, "a"], dtype=object))
    with pytest.raises(SerializationError, match="dtype object"):
        ser.dumps_typed({"a": np.zeros(2, dtype=[("o", object)])})
