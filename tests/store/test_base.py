"""BaseStore: conveniences built on batch, sync/async parity, Item types."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, Iterable

import pytest

from waypoint.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)


class Recorder(BaseStore):
    """Records the ops the conveniences build; answers with placeholders."""

    def __init__(self, ttl_config: Any = None, supports_ttl: bool = True) -> None:
        self.ops: list[Any] = []
        self.ttl_config = ttl_config
        self.supports_ttl = supports_ttl

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        ops = list(ops)
        self.ops.extend(ops)
        return [[] if isinstance(op, (SearchOp, ListNamespacesOp)) else None for op in ops]

    async def abatch(self, ops: Iterable[Any]) -> list[Any]:
        return self.batch(ops)


PUBLIC = ["get", "put", "delete", "search", "list_namespaces", "batch"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_sync_method_has_an_async_twin_with_the_same_signature(name):
    sync, asyn = getattr(BaseStore, name), getattr(BaseStore, "a" + name)
    assert inspect.iscoroutinefunction(asyn)
    assert inspect.signature(sync) == inspect.signature(asyn)


def test_signatures_follow_langgraph():
    params = inspect.signature(BaseStore.search).parameters
    assert params["namespace_prefix"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert inspect.signature(BaseStore.put).parameters["ttl"].default is NOT_PROVIDED
    assert inspect.signature(BaseStore.put).parameters["ttl"].kind is inspect.Parameter.KEYWORD_ONLY


def test_batch_is_the_only_abstract_primitive():
    assert BaseStore.__abstractmethods__ == {"batch", "abatch"}
    with pytest.raises(TypeError):
        BaseStore()  # type: ignore[abstract]


@pytest.mark.parametrize("face", ["sync", "async"])
async def test_conveniences_build_resolved_ops_on_both_faces(face):
    store = Recorder(ttl_config={"default_ttl": 5, "refresh_on_read": False})

    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        if face == "sync":
            return getattr(store, name)(*args, **kwargs)
        return await getattr(store, "a" + name)(*args, **kwargs)

    await call("get", ("a",), "k")
    await call("get", ("a",), "k", refresh_ttl=True)
    await call("put", ("a",), "k", {"v": 1})
    await call("put", ("a",), "k", {"v": 1}, ["text"], ttl=None)
    await call("delete", ("a",), "k")
    await call("search", ("a",), query="q", filter={"v": 1}, limit=3, offset=1)
    await call("list_namespaces", prefix=["a", "*"], suffix=("z",), max_depth=2)
    await call("list_namespaces")
    conditions = (MatchCondition("prefix", ("a", "*")), MatchCondition("suffix", ("z",)))
    assert store.ops == [
        GetOp(("a",), "k", False),
        GetOp(("a",), "k", True),
        PutOp(("a",), "k", {"v": 1}, None, 5.0),
        PutOp(("a",), "k", {"v": 1}, ["text"], None),
        PutOp(("a",), "k", None),
        SearchOp(("a",), {"v": 1}, 3, 1, "q", False),
        ListNamespacesOp(conditions, 2, 100, 0),
        ListNamespacesOp(None, None, 100, 0),
    ]


def test_ttl_on_a_store_without_ttl_support_is_refused():
    store = Recorder(ttl_config={"default_ttl": 5}, supports_ttl=False)
    with pytest.raises(ValueError, match="does not support TTL"):
        store.put(("a",), "k", {"v": 1}, ttl=5)
    store.put(("a",), "k", {"v": 1})
    store.put(("a",), "k", {"v": 1}, ttl=None)
    assert [op.ttl for op in store.ops] == [None, None]


def test_argument_errors_are_raised_before_batch():
    store = Recorder()
    for call in (
        lambda: store.put(("a",), "k", "text"),  # type: ignore[arg-type]
        lambda: store.search(("a",), limit=-1),
        lambda: store.search(("a",), query=3),  # type: ignore[arg-type]
        lambda: store.list_namespaces(max_depth=0),
        lambda: store.list_namespaces(offset=-2),
        lambda: store.list_namespaces(prefix="a"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            call()
    assert store.ops == []


def test_item_and_search_item():
    ts = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    item = Item(value={"x": 1}, key="k", namespace=["a", "b"], created_at=ts.isoformat(),
                updated_at=ts)
    assert item.namespace == ("a", "b") and item.created_at == ts
    assert item.dict() == {"namespace": ["a", "b"], "key": "k", "value": {"x": 1},
                           "created_at": ts.isoformat(), "updated_at": ts.isoformat()}
    same = Item(value={"x": 1}, key="k", namespace=("a", "b"), created_at=ts, updated_at=ts)
    assert item == same and hash(item) == hash(same) and item != "x"
    hit = SearchItem(("a", "b"), "k", {"x": 1}, ts, ts, 0.5)
    assert hit.score == 0.5 and hit.dict()["score"] == 0.5 and isinstance(hit, Item)
    assert "score=0.5" in repr(hit) and repr(item).startswith("Item(namespace=['a', 'b']")


def test_importing_the_interface_does_not_load_numpy():
    code = "import sys, waypoint.store, waypoint.store.base; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_search_mode_is_passed_and_validated():
    store = Recorder()
    store.search(("a",), query="q", mode="hybrid")
    assert store.ops[-1].mode == "hybrid"
    assert store.ops[-1] == SearchOp(("a",), None, 10, 0, "q", True, "hybrid")
    # SearchOp built positionally the LangGraph way still works; mode defaults to None.
    assert SearchOp(("a",), None, 10, 0, "q", True).mode is None
    with pytest.raises(ValueError, match="'vector', 'keyword', 'hybrid'"):
        store.search(("a",), query="q", mode="bm25")
    with pytest.raises(ValueError, match="pass query="):
        store.search(("a",), mode="keyword")


async def test_asearch_mode_is_passed_and_validated():
    store = Recorder()
    await store.asearch(("a",), query="q", mode="keyword")
    assert store.ops[-1].mode == "keyword"
    with pytest.raises(ValueError, match="not a search mode"):
        await store.asearch(("a",), query="q", mode="Hybrid")
