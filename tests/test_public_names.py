"""Names LangGraph programs and custom savers import exist in waypoint at the same paths and
behave the same; each is compared with the installed LangGraph where it can be."""

from __future__ import annotations

import operator
import uuid
import warnings
from typing import Annotated, TypedDict

import pytest


def test_checkpoint_base_package_names() -> None:
    from waypoint.checkpoint.base import EXCLUDED_METADATA_KEYS, create_checkpoint, empty_checkpoint
    from waypoint.checkpoint.base.id import uuid6
    from waypoint.channels.binop import BinaryOperatorAggregate
    from waypoint.channels.last_value import LastValue

    from langgraph.checkpoint.base import EXCLUDED_METADATA_KEYS as LG_EXCLUDED

    assert set(EXCLUDED_METADATA_KEYS) == set(LG_EXCLUDED)
    base = empty_checkpoint()
    base["channel_versions"] = {"a": "1", "b": "1"}
    base["versions_seen"] = {"n": {"a": "1"}}
    a, b, c = LastValue(int, "a"), BinaryOperatorAggregate(list, operator.add, "b"), LastValue(int, "c")
    a.update([5])
    b.update([["x"]])
    c.update([7])  # no version in the checkpoint: left out
    made = create_checkpoint(base, {"a": a, "b": b, "c": c}, 3)
    assert made["channel_values"] == {"a": 5, "b": ["x"]}
    assert made["channel_versions"] == base["channel_versions"]
    assert made["versions_seen"] == base["versions_seen"]
    assert made["id"] > base["id"]  # time-ordered with waypoint's own ids
    assert create_checkpoint(base, None, 0, id="fixed")["id"] == "fixed"
    empty = LastValue(int, "a")
    assert create_checkpoint(base, {"a": empty}, 1)["channel_values"] == {}
    with pytest.raises(ValueError, match="step"):
        create_checkpoint(base, None, "3")  # type: ignore[arg-type]

    ids = [uuid6() for _ in range(200)]
    assert all(isinstance(i, uuid.UUID) and i.version == 6 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 200
    fixed = uuid6(node=0xABC, clock_seq=5)
    assert fixed.node == 0xABC and fixed.clock_seq == 5
    from langgraph.checkpoint.base.id import uuid6 as lg_uuid6

    lg = lg_uuid6(node=0xABC, clock_seq=5)  # same layout: time first, then clock_seq and node
    assert (lg.version, lg.clock_seq, lg.node) == (6, 5, 0xABC)
    # the top 48 bits are the same 100 ns Gregorian clock (>> 12): within 10 s of each other
    assert abs((lg.int >> 80) - (fixed.int >> 80)) < 10 * 10**7 >> 12


def test_metadata_never_copies_excluded_keys() -> None:
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.graph import START, StateGraph

    class S(TypedDict):
        x: int

    graph = StateGraph(S).add_node("n", lambda s: {"x": 1}).add_edge(START, "n")
    graph = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}, "metadata": {"thread_id": "x", "checkpoint_map": {}, "mine": 1}}
    graph.invoke({"x": 0}, config)
    meta = graph.get_state({"configurable": {"thread_id": "t"}}).metadata
    assert meta["mine"] == 1 and "checkpoint_map" not in meta and "thread_id" not in meta


def test_serde_types_module() -> None:
    import langgraph.checkpoint.serde.types as lg

    import waypoint.checkpoint.serde.types as wp
    from waypoint.types import Send

    for name in ("ERROR", "INTERRUPT", "RESUME", "SCHEDULED", "TASKS"):
        assert getattr(wp, name) == getattr(lg, name), name
    assert isinstance(Send("n", 1), wp.SendProtocol)
    assert wp.ChannelProtocol is not None


def test_errors_module_names() -> None:
    import langgraph.errors as lg

    import waypoint.errors as wp

    for code in lg.ErrorCode:
        assert wp.ErrorCode(code.value).name == code.name
    msg = dict(message="boom", error_code=wp.ErrorCode.GRAPH_RECURSION_LIMIT)
    assert wp.create_error_message(**msg) == lg.create_error_message(
        message="boom", error_code=lg.ErrorCode.GRAPH_RECURSION_LIMIT
    )
    for name in ("EmptyChannelError", "EmptyInputError", "GraphBubbleUp", "GraphInterrupt",
                 "GraphRecursionError", "InvalidUpdateError", "NodeInterrupt", "ParentCommand"):
        assert issubclass(getattr(wp, name), Exception), name
    assert issubclass(wp.GraphInterrupt, wp.GraphBubbleUp)
    assert issubclass(wp.ParentCommand, wp.GraphBubbleUp)
    assert not issubclass(wp.InvalidUpdateError, wp.GraphBubbleUp)


def test_warnings_module_and_emitted_on_deprecated_spellings() -> None:
    import langgraph.warnings as lg

    import waypoint.warnings as wp
    from waypoint.graph import StateGraph

    for name in lg.__all__:
        mine, theirs = getattr(wp, name), getattr(lg, name)
        assert issubclass(mine, DeprecationWarning)
        if name != "LangGraphDeprecationWarning":
            assert (mine("x").since, mine("x").expected_removal) == (theirs("x").since, theirs("x").expected_removal)
            assert str(mine("Gone.")) == str(theirs("Gone."))

    class S(TypedDict):
        x: int

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = StateGraph(S, input=S)
        g.add_node("a", lambda s: s, retry=None)
        StateGraph(S, config_schema=S)
    kinds = [type(w.message) for w in caught]
    assert kinds == [wp.LangGraphDeprecatedSinceV05, wp.LangGraphDeprecatedSinceV05, wp.LangGraphDeprecatedSinceV10]
    assert all(w.filename == __file__ for w in caught)  # points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=wp.LangGraphDeprecationWarning)
        StateGraph(S, input=S)  # a LangGraph-style filter silences it


def test_encrypted_from_pycryptodome_aes(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography")
    from waypoint.checkpoint.serde.encrypted import EncryptedSerializer
    from waypoint.errors import SerializationError

    monkeypatch.delenv("LANGGRAPH_AES_KEY", raising=False)
    monkeypatch.delenv("WAYPOINT_AES_KEY", raising=False)
    with pytest.raises(SerializationError, match="LANGGRAPH_AES_KEY"):
        EncryptedSerializer.from_pycryptodome_aes()
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "0123456789abcdef0123456789abcdef")  # 32 raw bytes
    serde = EncryptedSerializer.from_pycryptodome_aes()
    data = serde.dumps_typed({"a": (1, 2)})
    assert data[0].endswith("+aes") and b"(1, 2)" not in data[1]
    assert serde.loads_typed(data) == {"a": (1, 2)}
    raw = EncryptedSerializer(key=b"0123456789abcdef0123456789abcdef")  # the same raw key
    assert raw.loads_typed(data) == {"a": (1, 2)}
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "short")
    with pytest.raises(SerializationError, match="16, 24 or 32"):
        EncryptedSerializer.from_pycryptodome_aes()
    monkeypatch.delenv("LANGGRAPH_AES_KEY")
    monkeypatch.setenv("WAYPOINT_AES_KEY", "k" * 16)
    assert EncryptedSerializer.from_pycryptodome_aes().loads_typed(
        EncryptedSerializer(key="k" * 16).dumps_typed([1])
    ) == [1]
    key = b"x" * 24
    assert EncryptedSerializer.from_pycryptodome_aes(key=key).loads_typed(
        EncryptedSerializer(key=key).dumps_typed("v")
    ) == "v"
    with pytest.raises(SerializationError, match="AES-GCM"):
        EncryptedSerializer.from_pycryptodome_aes(key=key, mode=9)


def _delta_reducer(state: list, writes: list) -> list:
    out = list(state)
    for w in writes:
        out.extend(w)
    return out


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_delta_channel_in_a_schema(backend: str, tmp_path) -> None:
    from waypoint.channels.delta import DeltaChannel
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.checkpoint.sqlite import SqliteSaver
    from waypoint.graph import START, StateGraph
    from waypoint.types import Overwrite

    class S(TypedDict):
        log: Annotated[list, DeltaChannel(_delta_reducer)]
        raw: Annotated[list, DeltaChannel(operator.add, snapshot_frequency=10)]
        unused: Annotated[list, DeltaChannel(_delta_reducer)]

    calls: list[list] = []

    def b(state: S) -> dict:
        calls.append(list(state["log"]))
        return {"log": ["b"], "raw": ["b"]}

    g = StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"], "raw": ["a"]})
    g.add_node("b", b)
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_node("d", lambda s: {"log": Overwrite(["d"])})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge("b", "d")
    saver = InMemorySaver() if backend == "memory" else SqliteSaver(tmp_path / "c.db")
    graph = g.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "1"}}
    out = graph.invoke({"log": ["in"], "raw": ["in"]}, cfg)
    # the reducer gets each step's writes as one list: b and c in one call, as in LangGraph
    assert calls == [["in", "a"]]
    assert out == {"log": ["d"], "raw": [["in"], ["a"], ["b"]], "unused": []}
    history = [h.values["log"] for h in graph.get_state_history(cfg)]
    assert history[:3] == [["d"], ["in", "a", "b", "c"], ["in", "a"]]
    with pytest.raises(ValueError, match="snapshot_frequency"):
        DeltaChannel(_delta_reducer, snapshot_frequency=0)


# --- the audit: every public name of LangGraph 1.2's public modules ----------------------------

_ROOTS = ("langgraph.graph", "langgraph.types", "langgraph.config", "langgraph.errors",
          "langgraph.constants", "langgraph.channels", "langgraph.managed", "langgraph.runtime",
          "langgraph.cache", "langgraph.pregel", "langgraph.store", "langgraph.checkpoint")


def _langgraph_modules() -> list[str]:
    """LangGraph's public modules under the audited roots (no ``_private`` modules)."""
    import importlib
    import pkgutil

    out: list[str] = []

    def walk(name: str) -> None:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency of LangGraph's (e.g. redis) is missing
            return
        out.append(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not info.name.startswith("_"):
                walk(f"{name}.{info.name}")

    for root in _ROOTS:
        walk(root)
    return out


def _public_names(module_name: str) -> list[str]:
    """A module's ``__all__`` plus what its own source defines at top level (imports of
    other modules' names are left to those modules), without ``_private`` names."""
    import ast
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    names = set(getattr(module, "__all__", ()) or ())
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        source = ""
    for node in ast.parse(source).body if source else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return sorted(n for n in names if not n.startswith("_"))


def _waypoint_module(module_name: str):  # type: ignore[no-untyped-def]
    import importlib

    try:
        return importlib.import_module("waypoint" + module_name[len("langgraph"):])
    except ImportError:
        return None


def test_every_langgraph_public_name_is_here_or_documented() -> None:
    from tests._langgraph_differences import MODULES, NAMES, PENDING

    modules = _langgraph_modules()
    assert len(modules) > 40  # the walk found LangGraph's packages
    undocumented: list[str] = []
    for name in modules:
        if any(name == m or name.startswith(m + ".") for m in MODULES):
            continue
        ours = _waypoint_module(name)
        for attr in _public_names(name):
            if ours is not None and hasattr(ours, attr):
                continue
            if attr not in NAMES.get(name, {}):
                undocumented.append(f"{name}.{attr}")
    assert not undocumented, (
        "LangGraph names neither in waypoint nor in tests/_langgraph_differences.py "
        f"(add them, or document why not): {undocumented}"
    )
    stale = [
        f"{mod}.{attr}"
        for mod, names in NAMES.items()
        for attr, why in names.items()
        if why != PENDING and (ours := _waypoint_module(mod)) is not None and hasattr(ours, attr)
    ]
    stale += [mod for mod in MODULES if _waypoint_module(mod) is not None]
    assert not stale, f"documented as missing but present in waypoint now: {stale}"


def test_present_names_have_the_same_kind_and_constant_values() -> None:
    """A name waypoint has at LangGraph's path is the same kind of thing: a class where
    LangGraph has a class, a callable where it has one, an equal string/number constant."""
    import importlib

    mismatched: list[str] = []
    for name in _langgraph_modules():
        ours = _waypoint_module(name)
        if ours is None:
            continue
        theirs = importlib.import_module(name)
        for attr in _public_names(name):
            if not hasattr(ours, attr) or not hasattr(theirs, attr):
                continue
            a, b = getattr(ours, attr), getattr(theirs, attr)
            if isinstance(b, type) and not isinstance(a, type):
                mismatched.append(f"{name}.{attr}: class expected")
            elif callable(b) and not isinstance(b, type) and not callable(a):
                mismatched.append(f"{name}.{attr}: callable expected")
            elif isinstance(b, (str, int, float, bytes)) and not isinstance(b, bool) and a != b:
                mismatched.append(f"{name}.{attr}: {a!r} != {b!r}")
    assert not mismatched, mismatched


def test_readme_covers_every_documented_module() -> None:
    from pathlib import Path

    from tests._langgraph_differences import MODULES, NAMES

    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    section = text[text.index("## LangGraph API coverage"):]
    section = section[: section.find("\n## ", 4)]
    # a module is named in full or, in a row about its package, by its suffix (`.store.memory`)
    missing = [m for m in (*MODULES, *NAMES)
               if f"`{m}`" not in section and f"`{m[len('langgraph'):]}`" not in section]
    assert not missing, f"README's LangGraph API coverage section does not mention {missing}"
