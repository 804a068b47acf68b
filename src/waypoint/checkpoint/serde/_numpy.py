"""numpy arrays and scalars: dtype (byte order, structured fields), shape and memory order kept.

Payload: a 4-byte little-endian header length, a small msgpack header
``[dtype_spec, shape, order]`` and the raw element bytes in that order. Object dtypes are
refused both ways: their bytes are pointers, and loading them from stored data would be unsafe.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import ormsgpack
from ormsgpack import Ext

from waypoint.checkpoint.serde._stdlib import NDARRAY, NP_SCALAR, Decoder, Encoder, Pack, Unpack

# Simple dtype strings as ``dtype.str`` writes them; "O" (object) is deliberately absent.
_DTYPE_STR = re.compile(r"[<>|=][?biufcmMSUVa]\d{1,9}(\[\d{0,9}[A-Za-z]{1,3}\])?")
_MAX_DIMS = 64


def _dtype_spec(dt: Any) -> Any:
    if dt.hasobject:
        raise TypeError(
            "numpy arrays with dtype object cannot be serialized safely; convert them to "
            "lists or a numeric dtype (or use pickle_fallback=True)"
        )
    if dt.fields is not None:
        names = list(dt.names)
        fields = [dt.fields[n] for n in names]
        titles = [f[2] if len(f) > 2 else None for f in fields]
        return [
            "rec",
            names,
            [_dtype_spec(f[0]) for f in fields],
            [f[1] for f in fields],
            dt.itemsize,
            bool(dt.isalignedstruct),
            titles if any(t is not None for t in titles) else None,
        ]
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return ["sub", _dtype_spec(base), list(shape)]
    return dt.str


def _dtype_from(np: Any, spec: Any) -> Any:
    if isinstance(spec, str):
        if not _DTYPE_STR.fullmatch(spec):
            raise ValueError(f"refusing numpy dtype {spec!r:.40}")
        dt = np.dtype(spec)
    elif isinstance(spec, list) and len(spec) == 3 and spec[0] == "sub":
        shape = _shape(spec[2])
        dt = np.dtype((_dtype_from(np, spec[1]), shape))
    elif isinstance(spec, list) and len(spec) == 7 and spec[0] == "rec":
        _, names, formats, offsets, itemsize, aligned, titles = spec
        if not (isinstance(names, list) and isinstance(formats, list)):
            raise TypeError("malformed structured dtype")
        if not all(isinstance(n, str) for n in names) or len(names) != len(formats):
            raise TypeError("malformed structured dtype")
        desc: dict[str, Any] = {
            "names": names,
            "formats": [_dtype_from(np, f) for f in formats],
            "offsets": [int(o) for o in offsets],
            "itemsize": int(itemsize),
        }
        if titles is not None:
            desc["titles"] = titles
        dt = np.dtype(desc, align=bool(aligned))
    else:
        raise ValueError("malformed numpy dtype")
    if dt.hasobject:
        raise ValueError("refusing numpy dtype object")
    return dt


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > _MAX_DIMS:
        raise TypeError("malformed numpy shape")
    for n in value:
        if type(n) is not int or n < 0:
            raise ValueError("malformed numpy shape")
    return tuple(value)


def _array_parts(np: Any, arr: Any) -> tuple[bytes, Any]:
    """The length-prefixed header and the raw element bytes (a buffer, not copied)."""
    if arr.flags.c_contiguous:
        flat, order = arr.reshape(-1), "C"
    elif arr.flags.f_contiguous:
        flat, order = arr.T.reshape(-1), "F"
    else:
        flat, order = np.ascontiguousarray(arr).reshape(-1), "C"
    header = ormsgpack.packb([_dtype_spec(arr.dtype), list(arr.shape), order])
    raw = flat.view(np.uint8) if flat.dtype.itemsize else b""
    return len(header).to_bytes(4, "little") + header, raw


def _encode_array(np: Any, arr: Any, code: int) -> Ext:
    header, raw = _array_parts(np, arr)
    return Ext(code, b"".join((header, raw)))


def pack_array(arr: Any) -> bytes:
    """A whole msgpack document holding one array ext, written with a single copy.

    Used when an array is the top-level value: ormsgpack would copy a large ext payload
    through its growing output buffer several times.
    """
    import numpy as np

    header, raw = _array_parts(np, arr)
    size = len(header) + len(raw)
    if size >= 1 << 32:
        raise TypeError("numpy array too large for one msgpack value (4 GiB max)")
    frame = b"\xc9" + size.to_bytes(4, "big") + bytes([NDARRAY])
    return b"".join((frame, header, raw))


def unpack_array(data: Any) -> Any:
    """Decode a document written by ``pack_array``, or return ``None`` if it is not one."""
    if (
        len(data) > 6
        and data[0] == 0xC9
        and data[5] == NDARRAY
        and int.from_bytes(data[1:5], "big") == len(data) - 6
    ):
        return _decode_array(data, 6)
    return None


def _decode_array(data: Any, start: int = 0) -> Any:
    import numpy as np  # waypoint's own dependency; the only module loading may import

    if len(data) < start + 4:
        raise ValueError("truncated numpy payload")
    end = start + 4 + int.from_bytes(data[start : start + 4], "little")
    if end > len(data):
        raise ValueError("truncated numpy payload")
    header = ormsgpack.unpackb(bytes(data[start + 4 : end]))
    if not isinstance(header, list) or len(header) != 3:
        raise TypeError("malformed numpy header")
    spec, shape_list, order = header
    dt = _dtype_from(np, spec)
    shape = _shape(shape_list)
    if order not in ("C", "F"):
        raise ValueError("malformed numpy order")
    count = 1
    for n in shape:
        count *= n
    if count * dt.itemsize != len(data) - end:
        raise ValueError(
            f"numpy payload holds {len(data) - end} bytes, expected {count * dt.itemsize}"
        )
    if count == 0 or dt.itemsize == 0:
        return np.zeros(shape, dtype=dt, order=order)
    flat = np.frombuffer(data, dtype=dt, count=count, offset=end)
    return flat.reshape(shape, order=order).copy(order="K")


def encoder_for(cls: type) -> Encoder | None:
    """Encoder for numpy arrays and scalars, if numpy is imported and ``cls`` is one."""
    np = sys.modules.get("numpy")
    if np is None or not hasattr(np, "generic") or not hasattr(np, "ndarray"):
        return None  # not imported, or still being imported by another thread (no instances yet)
    if cls is np.ndarray:

        def enc_array(obj: Any, pack: Pack) -> Ext:
            return _encode_array(np, obj, NDARRAY)

        return enc_array
    if issubclass(cls, np.generic):

        def enc_scalar(obj: Any, pack: Pack) -> Ext:
            return _encode_array(np, np.asarray(obj), NP_SCALAR)

        return enc_scalar
    return None


def _dec_array(data: bytes, unpack: Unpack) -> Any:
    return _decode_array(data)


def _dec_scalar(data: bytes, unpack: Unpack) -> Any:
    arr = _decode_array(data)
    if arr.shape != ():
        raise ValueError("malformed numpy scalar")
    return arr[()]


DECODERS: dict[int, Decoder] = {NDARRAY: _dec_array, NP_SCALAR: _dec_scalar}
