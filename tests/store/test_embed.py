"""Unit tests of field paths, embedder adaptation and index configs (``_embed``, ``_batch``)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from waypoint.errors import ConfigError
from waypoint.store._batch import aembed_plan, embed_plan, plan_batch
from waypoint.store._embed import (
    Embedder,
    ensure_embeddings,
    get_text_at_path,
    normalize_index,
    parse_field_path,
    run_coroutine_sync,
)
from waypoint.store.base import GetOp, PutOp, SearchOp

DOC = {
    "text": "hello",
    "a": {"b": "nested", "n": 3, "flag": True},
    "tags": ["t1", "t2", None, ""],
    "items": [{"name": "first"}, {"name": "second", "x": 1}],
    "empty": "",
    "none": None,
    "meta": {"title": "T", "summary": "S"},
}


@pytest.mark.parametrize(
    "path, texts",
    [
        ("text", ["hello"]),
        ("$.text", ["hello"]),
        ("a.b", ["nested"]),
        ("a.n", ["3"]),
        ("a.flag", ["true"]),
        ("tags[*]", ["t1", "t2"]),
        ("tags[0]", ["t1"]),
        ("tags[9]", []),
        ("items[0].name", ["first"]),
        ("items[-1].name", ["second"]),
        ("items[*].name", ["first", "second"]),
        ("items[-1]", ['{"name": "second", "x": 1}']),
        ("meta.{title,summary}", ["T", "S"]),
        ("meta.{title, missing}", ["T"]),
        ("missing", []),
        ("none", []),
        ("empty", []),
        ("text[*]", []),
        ("a[0]", []),
        ("a.b.c", []),
    ],
)
def test_get_text_at_path(path, texts):
    assert get_text_at_path(DOC, path) == texts


def test_whole_value_is_sorted_json():
    assert get_text_at_path({"b": 1, "a": "é"}, "$") == ['{"a": "é", "b": 1}']


@pytest.mark.parametrize(
    "path", ["", "a.", ".a", "a..b", "a[", "a[x]", "a[*", "{}", "a]b", "a[0]b", 3]
)
def test_invalid_field_paths(path):
    with pytest.raises(ConfigError, match="field path"):
        parse_field_path(path)  # type: ignore[arg-type]


def test_parse_field_path_steps():
    assert parse_field_path("$") == ()
    assert parse_field_path("a.b[2][*].{c,d}") == (
        ("key", "a"), ("key", "b"), ("index", 2), ("each", None), ("keys", ("c", "d")),
    )


def _vec(text: str) -> list[float]:
    return [float(len(text)), 1.0]


class SyncOnly:
    def embed_documents(self, texts):
        return [_vec(t) for t in texts]


class AsyncOnly:
    async def aembed_documents(self, texts):
        return [_vec(t) for t in texts]

    async def aembed_query(self, text):
        return [*_vec(text), 0.0]  # distinguishable from the documents path


async def _afn(texts):
    return [_vec(t) for t in texts]


@pytest.mark.parametrize("embed", [lambda ts: [_vec(t) for t in ts], _afn, SyncOnly(), AsyncOnly()])
async def test_every_shape_works_from_both_faces(embed):
    e = ensure_embeddings(embed)
    assert isinstance(e, Embedder) and ensure_embeddings(e) is e
    assert await asyncio.to_thread(e.embed_documents, ["ab"]) == [[2.0, 1.0]]
    assert (await e.aembed_documents(["abc"])) == [[3.0, 1.0]]
    assert (await asyncio.to_thread(e.embed_query, "a"))[:2] == [1.0, 1.0]
    assert (await e.aembed_query("a"))[:2] == [1.0, 1.0]


async def test_async_embedder_from_sync_code_on_the_loop_thread():
    e = ensure_embeddings(_afn)
    assert e.embed_documents(["abcd"]) == [[4.0, 1.0]]  # runs on a helper thread's loop


def test_run_coroutine_sync_without_a_loop():
    async def seven():
        return 7

    assert run_coroutine_sync(seven()) == 7


def test_sync_function_returning_an_awaitable():
    e = ensure_embeddings(lambda texts: _afn(texts))
    assert e.embed_documents(["a"]) == [[1.0, 1.0]]
    assert asyncio.run(e.aembed_documents(["ab"])) == [[2.0, 1.0]]


def test_provider_string_without_langchain(monkeypatch):
    monkeypatch.setitem(sys.modules, "langchain.embeddings", None)
    with pytest.raises(ConfigError, match="pip install langchain"):
        ensure_embeddings("openai:text-embedding-3-small")


def test_unusable_embed_value():
    with pytest.raises(ConfigError, match="not usable"):
        ensure_embeddings(42)


@pytest.mark.parametrize(
    "index, fragment",
    [
        ({"dims": 0, "embed": _afn}, "dims=0"),
        ({"dims": True, "embed": _afn}, "dims=True"),
        ({"dims": 2}, "no 'embed'"),
        ({"dims": 2, "embed": _afn, "fields": "text"}, "list of field paths"),
        ({"dims": 2, "embed": _afn, "fields": ["a..b"]}, "'a..b'"),
        ([("dims", 2)], "must be a dict"),
    ],
)
def test_invalid_index_configs(index, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        normalize_index(index)  # type: ignore[arg-type]


def test_index_defaults_to_whole_value():
    spec = normalize_index({"dims": 2, "embed": _afn})
    assert spec is not None and spec.fields == ("$",) and spec.config["fields"] == ["$"]
    assert normalize_index(None) is None


def test_plan_embeds_all_puts_once_and_queries_once_each():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return [_vec(t) for t in texts]

    spec = normalize_index({"dims": 2, "embed": embed, "fields": ["text", "tags[*]"]})
    ops = [
        PutOp(("n",), "1", {"text": "a", "tags": ["b", "c"]}),
        GetOp(("n",), "1"),
        PutOp(("n",), "2", {"text": "dd"}, index=False),
        PutOp(("n",), "3", {"other": "x", "text": "eee"}, index=["other"]),
        PutOp(("n",), "4", None),
        SearchOp(("n",), query="q"),
        SearchOp(("n",), query="q", filter={"a": 1}),
        SearchOp(("n",)),
    ]
    plan = plan_batch(ops, spec)
    assert plan.texts == ["a", "b", "c", "x"]
    assert plan.owners == [(0, "text"), (0, "tags[*]"), (0, "tags[*]"), (3, "other")]
    assert plan.indexed == {0, 2, 3}
    assert plan.queries == {5: "q", 6: "q"}
    assert set(plan.filters) == {5, 6, 7}
    vectors = embed_plan(plan, spec)
    assert calls == [["a", "b", "c", "x"], ["q"]]
    assert vectors.documents[0] == [("text", [1.0, 1.0]), ("tags[*]", [1.0, 1.0]),
                                    ("tags[*]", [1.0, 1.0])]
    assert vectors.documents[2] == [] and 4 not in vectors.documents
    assert vectors.queries == {5: [1.0, 1.0], 6: [1.0, 1.0]}
    calls.clear()
    assert asyncio.run(aembed_plan(plan, spec)) == vectors
    assert sorted(map(tuple, calls)) == [("a", "b", "c", "x"), ("q",)]


def test_plan_without_index_embeds_nothing():
    plan = plan_batch([PutOp(("n",), "1", {"text": "a"}), SearchOp((), query="q")], None)
    assert plan.texts == [] and plan.queries == {} and plan.indexed == frozenset()
    assert embed_plan(plan, None) == ({}, {})


def test_embedder_output_is_checked():
    spec = normalize_index({"dims": 2, "embed": lambda ts: [[1.0, 2.0]]})
    with pytest.raises(ConfigError, match="returned 1 vectors for 2 documents"):
        op = PutOp(("n",), "1", {"a": "x", "b": "y"}, index=["a", "b"])
        embed_plan(plan_batch([op], spec), spec)
    spec = normalize_index({"dims": 2, "embed": lambda ts: 5})
    with pytest.raises(ConfigError, match="list of vectors"):
        embed_plan(plan_batch([PutOp(("n",), "1", {"a": "x"})], spec), spec)


def test_plan_rejects_bad_ops():
    with pytest.raises(ValueError, match="unknown store op"):
        plan_batch([("get", "x")], None)  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        plan_batch([PutOp(("n",), "1", {"a": 1}, index=["a["])], None)
    with pytest.raises(ValueError, match="offset"):
        plan_batch([SearchOp((), offset=-1)], None)


def test_block_converts_every_accepted_shape_like_check():
    """``IndexSpec.block`` (the SQLite store's one conversion to float32) agrees with
    ``check`` on plain lists, ints and bools, numpy input and the slow path's strings, and
    raises the same errors for wrong counts, dims and non-numbers."""
    import numpy as np

    spec = normalize_index({"dims": 3, "embed": lambda ts: []})
    for raw in ([[1.0, 2.5, -3.0], [0.0, 1e-3, 7.0]], [[1, 2, 3], [True, 0, 2.5]],
                np.arange(6, dtype=np.float64).reshape(2, 3), [np.ones(3), [1.0, 2.0, 3.0]],
                [["1.5", 2, 3], [4, 5, 6]], [[1e39, 0.0, 0.0], [1.0, 2.0, 3.0]]):
        block = spec.block(raw, 2, "documents")
        assert block.dtype == np.float32 and block.shape == (2, 3)
        with np.errstate(over="ignore"):
            expected = np.array(spec.check(raw, 2, "documents"), dtype=np.float32)
        assert np.array_equal(block, expected)
    for raw, message in (([[1.0, 2.0, 3.0]], "returned 1 vectors for 2"),
                         ([[1.0, 2.0], [1.0, 2.0]], "dims=3"),
                         ([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]], "dims=3"),
                         ([[1.0, 2.0, 3.0], 5], "list of vectors"),
                         ([[1.0, 2.0, 1j], [1.0, 2.0, 3.0]], "list of vectors")):
        with pytest.raises(ConfigError, match=message):
            spec.block(raw, 2, "documents")
