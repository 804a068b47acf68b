"""Bounding how deeply nested a msgpack payload is, before handing it to ormsgpack.

ormsgpack decodes recursively and allows 1024 nested containers per call, using roughly 600
bytes of C stack per level; every extension payload is decoded by a fresh call. A crafted
payload nesting extension types inside deep arrays could therefore exhaust the C stack
(a crash, not an exception). The codec budgets the container depth of nested payloads with a
cheap upper bound (the count of bytes that could start a container) and, only when that bound
is too high, an exact iterative scan.
"""

from __future__ import annotations

# Bytes that may start an array or map: fixmap, fixarray, array16/32, map16/32.
_CONTAINER_BYTES = bytes(range(0x80, 0xA0)) + b"\xdc\xdd\xde\xdf"

# Extra bytes to skip after the first byte, for fixed-size items.
_FIXED: dict[int, int] = {
    0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8,
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
    0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
# Length-prefixed items: first byte -> (size of the length field, extra bytes after it).
_SIZED: dict[int, tuple[int, int]] = {
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),
}  # fmt: skip
_COLLECTIONS: dict[int, tuple[int, int]] = {  # first byte -> (size of count field, items per count)
    0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2),
}  # fmt: skip


def depth_bound(data: bytes) -> int:
    """An upper bound of the container nesting depth of ``data`` (fast, C-speed)."""
    return len(data) - len(data.translate(None, _CONTAINER_BYTES))


def exact_depth(data: bytes, limit: int) -> int:
    """The container nesting depth of ``data``, or ``limit`` as soon as it reaches ``limit``.

    Iterative, so it cannot overflow any stack. Stops early on truncated input (the decoder
    reports that); never raises.
    """
    pos = 0
    end = len(data)
    pending = [1]  # items still expected at each open level
    deepest = 0
    while pending and pos < end:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        b = data[pos]
        pos += 1
        if b <= 0x7F or b >= 0xE0:
            continue
        count = 0
        if 0x80 <= b <= 0x8F:
            count = 2 * (b & 0x0F)
        elif 0x90 <= b <= 0x9F:
            count = b & 0x0F
        elif 0xA0 <= b <= 0xBF:
            pos += b & 0x1F
            continue
        elif b in _FIXED:
            pos += _FIXED[b]
            continue
        elif b in _SIZED:
            width, extra = _SIZED[b]
            pos += width + extra + int.from_bytes(data[pos : pos + width], "big")
            continue
        elif b in _COLLECTIONS:
            width, per = _COLLECTIONS[b]
            count = per * int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            return deepest  # invalid byte: the decoder rejects the payload
        if count:
            pending.append(count)
            if len(pending) - 1 > deepest:
                deepest = len(pending) - 1
                if deepest >= limit:
                    return limit
    return deepest
