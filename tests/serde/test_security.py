"""Loading untrusted bytes: nothing is imported, nothing arbitrary is called, errors are clean."""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import subprocess
import sys
import textwrap
import types
import zlib
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from ormsgpack import Ext

from waypoint.checkpoint.serde import EncryptedSerializer, JsonPlusSerializer
from waypoint.checkpoint.serde import _stdlib as codes
from waypoint.errors import SerializationError

NOT_IMPORTED = ("antigravity", "this", "waypoint_never_imported_module")


@dataclasses.dataclass
class Innocent:
    a: int


AliasedPopen = subprocess.Popen  # a module attribute pointing at a class defined elsewhere


class Marker:
    """Pickles to a payload that creates ``path`` when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.path)!r}, 'w').close()",))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture
def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(Marker(marker))


@pytest.fixture(autouse=True)
def _never_import() -> Any:
    for name in NOT_IMPORTED:
        assert name not in sys.modules
    yield
    for name in NOT_IMPORTED:
        assert name not in sys.modules, f"loading imported {name}"


def ext(code: int, payload: Any) -> bytes:
    return ormsgpack.packb(Ext(code, ormsgpack.packb(payload)))


# --- pickle payloads ------------------------------------------------------------------------

TAGS = ["msgpack", "json", "bytes", "bytearray", "null", "pickle", "unknown", "", "msgpack+z",
        "pickle+z", "pickle+aes", "PICKLE", "pickle+z+z", "msgpack+z+z"]  # fmt: skip


@pytest.mark.parametrize("tag", TAGS)
def test_pickle_payload_under_every_tag(tag: str, evil_pickle: bytes, marker: Path) -> None:
    ser = JsonPlusSerializer()
    payload = zlib.compress(evil_pickle) if tag.endswith("+z") else evil_pickle
    if tag in ("bytes", "bytearray"):
        # Raw bytes come back as inert bytes: nothing interprets them.
        assert ser.loads_typed((tag, payload)) == payload
    else:
        with pytest.raises(SerializationError):
            ser.loads_typed((tag, payload))
    assert not marker.exists()


def test_pickle_payload_through_every_entry_point(evil_pickle: bytes, marker: Path) -> None:
    ser = JsonPlusSerializer()
    wrapped = ormsgpack.packb(Ext(codes.PICKLE, evil_pickle))
    for attempt in (
        lambda: ser.loads(evil_pickle),
        lambda: ser.loads(wrapped),
        lambda: ser.loads_typed(("msgpack", wrapped)),
        lambda: ser.loads_typed(("msgpack", ormsgpack.packb([1, Ext(codes.PICKLE, evil_pickle)]))),
    ):
        with pytest.raises(SerializationError):
            attempt()
    enc = EncryptedSerializer(key=b"k" * 32)
    for tag in ("pickle", "msgpack"):
        sealed = enc.dumps_typed(b"")  # a valid ciphertext, then re-sealed with a pickle inside
        nonce = sealed[1][:12]
        body = enc._cipher.encrypt(nonce, evil_pickle, tag.encode())
        with pytest.raises(SerializationError):
            enc.loads_typed((tag + "+aes", nonce + body))
    assert not marker.exists()


# --- class references -----------------------------------------------------------------------

CLASS_CODES = {
    codes.ENUM: lambda m, q: [m, q, 1],
    codes.DATACLASS: lambda m, q: [m, q, {}],
    codes.PYDANTIC_V2: lambda m, q: [m, q, {}],
    codes.PYDANTIC_V1: lambda m, q: [m, q, {}, []],
    codes.NAMEDTUPLE: lambda m, q: [m, q, []],
    codes.EXCEPTION: lambda m, q: [m, q, ["ls"], None],
    codes.OBJECT: lambda m, q: [m, q, False, {}],
    codes.LC_CONSTRUCTOR: lambda m, q: [m, q, {"args": ["ls"]}],
}
DANGEROUS = [
    ("os", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "run"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "__import__"),
    ("posix", "system"),
    ("pickle", "loads"),
    ("importlib", "import_module"),
    ("os", "_wrap_close"),
    ("types", "FunctionType"),
    ("builtins", "type"),
    ("builtins", "object"),
    (__name__, "AliasedPopen"),
    *[(m, "Anything") for m in NOT_IMPORTED],
    ("antigravity.sub", "X"),
]


@pytest.mark.parametrize("code", list(CLASS_CODES))
@pytest.mark.parametrize(("module", "qualname"), DANGEROUS)
def test_dangerous_class_references_refused(code: int, module: str, qualname: str) -> None:
    ser = JsonPlusSerializer()
    data = ext(code, CLASS_CODES[code](module, qualname))
    with pytest.raises(SerializationError, match="refusing to load"):
        ser.loads_typed(("msgpack", data))


def test_refusal_messages_name_the_problem() -> None:
    ser = JsonPlusSerializer()
    cases = {
        ("os", "system"): "refusing to load 'os.system': not an allowed type",
        ("subprocess", "Popen"): "refusing to load 'subprocess.Popen': not an allowed type",
        ("antigravity", "X"): "module 'antigravity' is not imported",
        (__name__, "AliasedPopen"): "refers to subprocess.Popen",
        (__name__, "Missing"): "no such class",
    }
    for (module, qualname), message in cases.items():
        with pytest.raises(SerializationError, match=message):
            ser.loads_typed(("msgpack", ext(codes.OBJECT, [module, qualname, False, {}])))


def test_allowed_modules_does_not_cover_aliases() -> None:
    ser = JsonPlusSerializer(allowed_modules=[__name__])
    with pytest.raises(SerializationError, match=r"refers to subprocess\.Popen"):
        ser.loads_typed(("msgpack", ext(codes.OBJECT, [__name__, "AliasedPopen", False, {}])))


def test_kind_must_match_the_class() -> None:
    ser = JsonPlusSerializer()
    with pytest.raises(SerializationError, match="not one"):
        ser.loads_typed(("msgpack", ext(codes.ENUM, [__name__, "Innocent", 1])))
    good = ext(codes.DATACLASS, [__name__, "Innocent", {"a": 1}])
    assert ser.loads_typed(("msgpack", good)) == Innocent(1)


def test_module_getattr_is_never_called() -> None:
    calls: list[str] = []
    module = types.ModuleType("waypoint_lazy_test_module")

    def __getattr__(name: str) -> Any:  # noqa: N807 - module-level __getattr__ hook
        calls.append(name)
        return Innocent

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[module.__name__] = module
    try:
        ser = JsonPlusSerializer(allowed_modules=[module.__name__])
        with pytest.raises(SerializationError, match="no such class"):
            ser.loads_typed(("msgpack", ext(codes.DATACLASS, [module.__name__, "Lazy", {}])))
    finally:
        del sys.modules[module.__name__]
    assert calls == []


def test_numpy_object_dtype_payloads_refused() -> None:
    ser = JsonPlusSerializer()
    for spec in ["|O", "|O8", "O", ["rec", ["a"], ["|O"], [0], 8, False, None], "<f8;import"]:
        header = ormsgpack.packb([spec, [1], "C"])
        payload = len(header).to_bytes(4, "little") + header + b"\x00" * 8
        with pytest.raises(SerializationError):
            ser.loads_typed(("msgpack", ormsgpack.packb(Ext(codes.NDARRAY, payload))))


def test_malformed_extension_payloads() -> None:
    ser = JsonPlusSerializer()
    bad = [
        ormsgpack.packb(Ext(99, b"")),
        ext(codes.TUPLE, {"not": "a list"}),
        ext(codes.DEQUE, [-1, []]),
        ext(codes.KEYED_DICT, [1, 2, 3]),
        ext(codes.KEYED_DICT, [[1], 2]),
        ext(codes.DATETIME_TZ, ["2024-01-01T00:00:00", ["zone", "../../etc/passwd"], 0]),
        ext(codes.DATETIME_TZ, ["2024-01-01T00:00:00", ["bogus"], 0]),
        ext(codes.DEFAULTDICT, ["eval", []]),
        ext(codes.PATTERN, ["(", 0]),
        ext(codes.NAMEDTUPLE, ["collections", "OrderedDict", []]),
        ormsgpack.packb(Ext(codes.UUID, b"short")),
        ormsgpack.packb(Ext(codes.BIGINT, b"")),
        ormsgpack.packb(Ext(codes.DATE, b"\xff\xfe")),
        ormsgpack.packb(Ext(codes.PATH, b"Zpath")),
        ormsgpack.packb(Ext(codes.NDARRAY, b"\xff\xff\xff\xff")),
        ormsgpack.packb({"k": 1}, option=ormsgpack.OPT_NON_STR_KEYS)[:-1],
        ormsgpack.packb({1: 2}, option=ormsgpack.OPT_NON_STR_KEYS),
    ]
    for data in bad:
        with pytest.raises(SerializationError):
            ser.loads_typed(("msgpack", data))


def test_bad_call_shapes() -> None:
    ser = JsonPlusSerializer()
    for data in [None, ("msgpack",), ("msgpack", "text"), ("msgpack", 5), (1, b"")]:
        with pytest.raises(SerializationError):
            ser.loads_typed(data)  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="expected no bytes"):
        ser.loads_typed(("null", b"x"))


# --- JSON / LangChain constructor form ------------------------------------------------------


@pytest.mark.parametrize(
    "ident",
    [
        ["os", "system"],
        ["subprocess", "Popen"],
        ["builtins", "eval"],
        ["antigravity", "Anything"],
        ["waypoint_never_imported_module", "X"],
        ["langchain", "schema", "Nope"],
        [__name__, "AliasedPopen"],
    ],
)
@pytest.mark.parametrize("lc", [1, 2])
def test_json_constructor_naming_arbitrary_callables(ident: list[str], lc: int) -> None:
    import json

    doc = {"lc": lc, "type": "constructor", "id": ident, "kwargs": {"args": "ls"}}
    ser = JsonPlusSerializer()
    with pytest.raises(SerializationError, match="refusing to load"):
        ser.loads_typed(("json", json.dumps({"wrapped": [doc]}).encode()))
    with pytest.raises(SerializationError):
        ser.loads(json.dumps(doc).encode())


def test_json_secret_form_is_not_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SECRET", "s3cret")
    doc = b'{"lc": 1, "type": "secret", "id": ["SOME_SECRET"]}'
    out = JsonPlusSerializer().loads_typed(("json", doc))
    assert out == {"lc": 1, "type": "secret", "id": ["SOME_SECRET"]}


def test_malformed_json() -> None:
    ser = JsonPlusSerializer()
    for data in [b"{", b"\xff\xfe", b'{"lc": 1, "type": "constructor", "id": "os.system"}',
                 b"[" * 100000]:  # fmt: skip
        with pytest.raises(SerializationError):
            ser.loads_typed(("json", data))


# --- truncation and nesting -----------------------------------------------------------------


def test_truncated_payloads_fail_cleanly() -> None:
    import datetime as dt
    import uuid

    import numpy as np

    from tests.serde.test_roundtrip import VALUES

    ser = JsonPlusSerializer()
    samples = [*VALUES, np.arange(10.0), {"d": dt.datetime(2024, 1, 1), "u": uuid.uuid4()}]
    for value in samples:
        tag, data = ser.dumps_typed(value)
        for cut in range(len(data)):
            with contextlib.suppress(SerializationError):
                ser.loads_typed((tag, data[:cut]))


def test_deeply_nested_extensions_are_refused() -> None:
    ser = JsonPlusSerializer()
    data = ormsgpack.packb(1)
    for _ in range(5000):
        data = ormsgpack.packb(Ext(codes.TUPLE, ormsgpack.packb([1])[:-1] + data))
    with pytest.raises(SerializationError, match="nested too deeply"):
        ser.loads_typed(("msgpack", data))


def test_deep_arrays_inside_extensions_cannot_crash(tmp_path: Path) -> None:
    # Each extension payload is decoded by a fresh ormsgpack call that allows 1024 nested
    # arrays; unbounded, a few dozen such levels overflow the C stack (a segfault). Run in a
    # subprocess so a regression fails this test instead of killing the test run.
    script = textwrap.dedent(
        """
        import ormsgpack
        from ormsgpack import Ext
        from waypoint.checkpoint.serde import JsonPlusSerializer
        from waypoint.errors import SerializationError

        data = ormsgpack.packb(1)
        for _ in range(300):
            data = ormsgpack.packb(Ext(16, b"\\x91" * 1000 + data))
        try:
            JsonPlusSerializer().loads_typed(("msgpack", data))
        except SerializationError as exc:
            print("refused:", exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "nested too deeply" in result.stdout


def test_exact_depth_matches_structure() -> None:
    from waypoint.checkpoint.serde._depth import depth_bound, exact_depth

    for value, depth in [
        (1, 0),
        ([], 0),
        ([1], 1),
        ([[1], {"a": [2]}], 3),
        ({"k": {"k": {"k": {}}}}, 3),
        (["x" * 300, b"\x91" * 300, [1.5]], 2),
    ]:
        data = ormsgpack.packb(value)
        assert exact_depth(data, 100) == depth
        assert depth_bound(data) >= depth
    assert exact_depth(b"\x91" * 50 + b"\x01", 10) == 10
    assert exact_depth(b"\x91\x91", 10) == 2  # truncated: stops early, never raises
    assert exact_depth(b"\xc1", 10) == 0


# --- gadget classes: loading runs none of their code (see also test_gadgets.py) -------------

G = "tests.serde.gadgets"


def _lc_json(lc: int, name: str, **fields: Any) -> bytes:
    import json

    return json.dumps({"lc": lc, "type": "constructor", "id": [G, name], **fields}).encode()


GADGET_PAYLOADS = {
    "ext46 dataclass": lambda p: ("msgpack", ext(codes.LC_CONSTRUCTOR, [G, "Upload", {"path": p}])),
    "ext46 pydantic": lambda p: ("msgpack",
                                 ext(codes.LC_CONSTRUCTOR, [G, "ValidatedModel", {"path": p}])),
    "json constructor": lambda p: ("json", _lc_json(1, "Upload", kwargs={"path": p})),
    "json lc2 pydantic": lambda p: ("json", _lc_json(2, "PostInitModel", kwargs={"path": p})),
    "json lc2 enum": lambda p: ("json", _lc_json(2, "MissingHook", args=[p])),
    "ext42 post_init": lambda p: ("msgpack",
                                  ext(codes.PYDANTIC_V2, [G, "PostInitModel", {"path": p}])),
    "ext42 validators": lambda p: ("msgpack",
                                   ext(codes.PYDANTIC_V2, [G, "ValidatedModel", {"path": p}])),
    "ext42 private": lambda p: ("msgpack",
                                ext(codes.PYDANTIC_V2, [G, "PrivateModel", {"name": p}])),
    "ext43 new": lambda p: ("msgpack", ext(codes.PYDANTIC_V1, [G, "V1Model", {"a": p}, ["a"]])),
    "ext40 missing": lambda p: ("msgpack", ext(codes.ENUM, [G, "MissingHook", p])),
    "ext41 post_init": lambda p: ("msgpack", ext(codes.DATACLASS, [G, "Upload", {"path": p}])),
    "ext47 setattr": lambda p: ("msgpack", ext(codes.EXCEPTION, [G, "HookedError", [p], None])),
}  # fmt: skip


@pytest.mark.parametrize("family", list(GADGET_PAYLOADS))
def test_gadget_payload_families_run_no_class_code(family: str, marker: Path) -> None:
    from tests.serde import gadgets

    data = GADGET_PAYLOADS[family](str(marker))
    gadgets.RAN.clear()
    for ser in (JsonPlusSerializer(), JsonPlusSerializer(allowed_modules=[G])):
        with contextlib.suppress(SerializationError):  # a hook-free rebuild or a refusal
            ser.loads_typed(data)
    assert gadgets.RAN == [] and not marker.exists()


# --- compression bombs ------------------------------------------------------------------------


def _nested_z(levels: int, inner: bytes) -> tuple[str, bytes]:
    data = inner
    for _ in range(levels):
        data = zlib.compress(data, 9)
    return "msgpack" + "+z" * levels, data


def test_nested_compression_tags_are_refused() -> None:
    ser = JsonPlusSerializer()
    assert ser.loads_typed(_nested_z(1, ormsgpack.packb("x" * 10_000))) == "x" * 10_000
    # Two levels of a 64 MiB string: a few hundred bytes stored, refused before inflating twice.
    tag, data = _nested_z(2, ormsgpack.packb("x" * (64 << 20)))
    assert len(data) < 1000
    with pytest.raises(SerializationError, match="at most one compression level"):
        ser.loads_typed((tag, data))
    with pytest.raises(SerializationError, match="at most one compression level"):
        ser.loads_typed(("msgpack" + "+z" * 2000, b"x"))  # once a raw RecursionError


def test_inflated_size_is_capped() -> None:
    from waypoint.checkpoint.serde.jsonplus import MAX_INFLATED_SIZE

    value = "x" * 5000
    tag, data = _nested_z(1, ormsgpack.packb(value))
    small = JsonPlusSerializer(max_inflated_size=4096)
    with pytest.raises(SerializationError, match=r"more than 4096 bytes.*max_inflated_size"):
        small.loads_typed((tag, data))
    assert JsonPlusSerializer(max_inflated_size=5003).loads_typed((tag, data)) == value
    assert MAX_INFLATED_SIZE == 256 << 20
    # the default cap: a stored value inflating past it is refused without inflating it all
    deflate = zlib.compressobj(9)
    chunk = b"\x00" * (1 << 20)
    parts = [deflate.compress(chunk) for _ in range((MAX_INFLATED_SIZE >> 20) + 1)]
    bomb = b"".join(parts) + deflate.flush()
    with pytest.raises(SerializationError, match="max_inflated_size"):
        JsonPlusSerializer().loads_typed(("msgpack+z", bomb))
    for bad in (0, -1, 1.5, True, "big"):
        with pytest.raises(ValueError, match="max_inflated_size"):
            JsonPlusSerializer(max_inflated_size=bad)  # type: ignore[arg-type]


# --- one validator per stdlib type, whichever format names it ---------------------------------


def _lc2(ident: list[str], *args: Any, **kwargs: Any) -> tuple[str, bytes]:
    import json

    doc = {"lc": 2, "type": "constructor", "id": ident, "args": list(args), "kwargs": kwargs}
    return "json", json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("json_form", "msgpack_form", "message"),
    [
        (_lc2(["re", "compile"], "a", 128), ext(codes.PATTERN, ["a", 128]), "bad flags 128"),
        (_lc2(["re", "compile"], "a", flags=1), ext(codes.PATTERN, ["a", 1]), "bad flags 1"),
        (_lc2(["re", "compile"], "a", "x"), ext(codes.PATTERN, ["a", "x"]), "bad flags 'x'"),
        (_lc2(["zoneinfo", "ZoneInfo"], "../../etc/passwd"),
         ext(codes.DATETIME_TZ, ["2024-01-01T00:00:00", ["zone", "../../etc/passwd"], 0]),
         "malformed zone key"),
        (_lc2(["collections", "deque"], [1], 1.5), ext(codes.DEQUE, [1.5, [1]]), "bad maxlen 1.5"),
        (_lc2(["collections", "deque"], [1], maxlen=-1), ext(codes.DEQUE, [-1, [1]]),
         "bad maxlen -1"),
    ],
)  # fmt: skip
def test_json_and_msgpack_share_stdlib_validation(
    json_form: tuple[str, bytes], msgpack_form: bytes, message: str, capsys: Any
) -> None:
    ser = JsonPlusSerializer()
    for data in (json_form, ("msgpack", msgpack_form)):
        with pytest.raises(SerializationError, match=message):
            ser.loads_typed(data)
    assert capsys.readouterr() == ("", "")  # re.DEBUG would have printed the parse tree


def test_json_stdlib_forms_still_load() -> None:
    import collections
    import re
    from zoneinfo import ZoneInfo

    ser = JsonPlusSerializer()
    assert ser.loads_typed(_lc2(["re", "compile"], "a.b", re.I | re.M)) == re.compile("a.b", 10)
    assert ser.loads_typed(_lc2(["re", "compile"], "x")) == re.compile("x")
    assert ser.loads_typed(_lc2(["zoneinfo", "ZoneInfo"], "Europe/Paris")) == ZoneInfo(
        "Europe/Paris"
    )
    d = ser.loads_typed(_lc2(["collections", "deque"], [1, 2], 5))
    assert d == collections.deque([1, 2], 5) and d.maxlen == 5
    assert ser.loads_typed(_lc2(["collections", "deque"], [1])).maxlen is None
