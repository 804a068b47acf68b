"""The opt-in Atlas ``$vectorSearch`` pipeline builder (Atlas itself is not run here)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pymongo import MongoClient

from waypoint.errors import ConfigError, InvalidFilterError
from waypoint.store._filters import compile_filter
from waypoint.store.mongodb import MongoDBStore
from waypoint.store.mongodb._atlas import (
    MAX_CANDIDATES,
    index_definition,
    normalize_vector_index,
    ns_prefixes,
    vector_search_pipeline,
)
from waypoint.store.mongodb._codec import live_filter

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
MATCH = {"$and": [{"ns": "x"}, live_filter(NOW)]}


def _pipeline(filter=None, prefix=("users", "42"), want=10, **config):
    atlas = normalize_vector_index({"filters": ["kind", "meta.level"], **config}, has_index=True)
    conditions = compile_filter(filter)
    return vector_search_pipeline(atlas, [0.5, 0.25], prefix, conditions, MATCH, want)


def test_vector_search_stage_shape() -> None:
    pipeline = _pipeline({"kind": "note", "meta.level": {"$gte": 2}, "other": 1})
    stage = pipeline[0]["$vectorSearch"]
    assert stage == {
        "index": "vector_index",
        "path": "embedding",
        "queryVector": [0.5, 0.25],
        "limit": 20,  # offset + limit, overfetched twice
        "numCandidates": 200,
        "filter": {"$and": [
            {"ns_prefixes": "users.42"},
            {"value.kind": {"$eq": "note"}},
            {"value.meta.level": {"$gte": 2}},
        ]},
    }
    # Everything is re-checked exactly after the ANN stage (incl. 'other', not pre-filterable).
    assert pipeline[1] == {"$match": MATCH}
    assert pipeline[2]["$set"]["score"] == {
        "$subtract": [{"$multiply": [2, {"$meta": "vectorSearchScore"}]}, 1]
    }
    assert pipeline[3] == {"$project": {"vectors": 0, "embedding": 0, "ns_prefixes": 0}}


def test_only_superset_conditions_are_prefiltered() -> None:
    flt = {"kind": {"$ne": "x"}, "meta.level": {"$nin": [1]}, "other": "y"}
    assert _pipeline(flt)[0]["$vectorSearch"]["filter"] == {"ns_prefixes": "users.42"}
    flt = {"kind": None, "meta.level": {"$in": [1, {"a": 1}]}}
    assert _pipeline(flt, prefix=())[0]["$vectorSearch"].get("filter") is None
    stage = _pipeline({"kind": {"$in": ["a", "b"]}}, prefix=())[0]["$vectorSearch"]
    assert stage["filter"] == {"value.kind": {"$in": ["a", "b"]}}


def test_candidate_bounds_and_exact_mode() -> None:
    stage = _pipeline(want=8000)[0]["$vectorSearch"]
    assert stage["limit"] == MAX_CANDIDATES and stage["numCandidates"] == MAX_CANDIDATES
    stage = _pipeline(want=5, exact=True, overfetch=3)[0]["$vectorSearch"]
    assert stage["exact"] is True and "numCandidates" not in stage and stage["limit"] == 15


def test_index_definition_and_prefixes() -> None:
    atlas = normalize_vector_index({"name": "mem", "filters": ["kind"]}, has_index=True)
    assert index_definition(atlas, 1536) == {
        "name": "mem",
        "type": "vectorSearch",
        "definition": {"fields": [
            {"type": "vector", "path": "embedding", "numDimensions": 1536, "similarity": "cosine"},
            {"type": "filter", "path": "ns_prefixes"},
            {"type": "filter", "path": "value.kind"},
        ]},
    }
    assert ns_prefixes(("a", "b", "c")) == ["a", "a.b", "a.b.c"]


@pytest.mark.parametrize(
    "config, error",
    [({"name": ""}, ConfigError), ({"bogus": 1}, ConfigError), ({"filters": "kind"}, ConfigError),
     ({"overfetch": 0}, ConfigError), ({"filters": ["$where"]}, InvalidFilterError),
     ("x", ConfigError)],
)
def test_bad_vector_index_configs(config, error) -> None:
    with pytest.raises(error):
        normalize_vector_index(config, has_index=True)


def test_vector_index_needs_an_index() -> None:
    client: MongoClient = MongoClient(connect=False)
    try:
        with pytest.raises(ConfigError, match="index="):
            MongoDBStore(client, vector_index={"name": "v"})
        store = MongoDBStore(client, index={"dims": 3, "embed": lambda t: [[1, 0, 0]] * len(t)},
                             vector_index={"filters": ["kind"]})
        assert store.atlas_index_definition()["definition"]["fields"][0]["numDimensions"] == 3
        with pytest.raises(ConfigError, match="Atlas mode is off"):
            MongoDBStore(client).atlas_index_definition()
    finally:
        client.close()
