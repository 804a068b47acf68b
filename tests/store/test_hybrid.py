"""The shared hybrid-search pieces: rank fusion, tokens, BM25, mode validation."""

from __future__ import annotations

import pytest

from waypoint.errors import ConfigError
from waypoint.store._hybrid import (
    bm25_rank,
    candidates,
    keyword_language,
    parse_mode,
    rrf_fuse,
    tokenize,
)

INDEX = {"dims": 4, "embed": lambda texts: [[1.0] * 4 for _ in texts]}


def test_rrf_fuse_sums_reciprocal_ranks():
    fused = rrf_fuse([["a", "b", "c"], ["c", "a"]], k=60)
    assert [key for key, _ in fused] == ["a", "c", "b"]
    assert dict(fused)["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert dict(fused)["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert dict(fused)["b"] == pytest.approx(1 / 62)


def test_rrf_fuse_breaks_ties_by_first_appearance():
    assert [k for k, _ in rrf_fuse([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert [k for k, _ in rrf_fuse([["p"], ["q"]])] == ["p", "q"]
    assert rrf_fuse([[], []]) == []


def test_candidates():
    assert candidates(10, 0) == 40
    assert candidates(1, 0) == 40
    assert candidates(20, 5) == 100


def test_tokenize_lowercases_and_splits_on_non_word_characters():
    assert tokenize("ERR-4711 in Foo_bar, naïve Café!") == ["err", "4711", "in", "foo_bar", "naïve", "café"]
    assert tokenize("  --  ") == []


def test_bm25_rank_scores_rare_terms_higher_and_skips_non_matches():
    docs = [("a", ["the printer shows ERR-4711"]), ("b", ["the printer is fine"]),
            ("c", ["nothing here"]), ("d", ["err err err"])]
    ranked = bm25_rank("printer ERR-4711", docs)
    assert [k for k, _ in ranked][0] == "a"
    assert {k for k, _ in ranked} == {"a", "b", "d"}
    assert all(score > 0 for _, score in ranked)
    assert bm25_rank("", docs) == [] and bm25_rank("zzz", docs) == []


def test_parse_mode():
    hybrid = {**INDEX, "hybrid": True}
    assert parse_mode(None, None) is None
    assert parse_mode(None, INDEX) is None
    assert parse_mode("vector", INDEX) == "vector"
    assert parse_mode("keyword", hybrid) == "keyword"
    assert parse_mode("hybrid", hybrid) == "hybrid"
    with pytest.raises(ValueError, match="'vector', 'keyword', 'hybrid'"):
        parse_mode("semantic", hybrid)
    with pytest.raises(ValueError, match="not a search mode"):
        parse_mode(1, hybrid)
    with pytest.raises(ConfigError, match=r'"hybrid": True'):
        parse_mode("hybrid", INDEX)
    with pytest.raises(ConfigError, match=r'"hybrid": True'):
        parse_mode("keyword", None)
    with pytest.raises(ConfigError, match="needs an index"):
        parse_mode("vector", None)


def test_keyword_language():
    assert keyword_language(None) is None
    assert keyword_language(INDEX) is None
    assert keyword_language({**INDEX, "hybrid": True}) == "english"
    assert keyword_language({**INDEX, "hybrid": True, "language": "german"}) == "german"
    with pytest.raises(ConfigError, match="hybrid="):
        keyword_language({**INDEX, "hybrid": "yes"})
    with pytest.raises(ConfigError, match="language="):
        keyword_language({**INDEX, "hybrid": True, "language": ""})


def test_keyword_index_scores_like_bm25_over_the_live_documents():
    from waypoint.store._keywords import KeywordIndex

    index = KeywordIndex()
    docs = {"a": ["the printer shows ERR-4711"], "b": ["the printer is fine"], "c": ["nothing here"]}
    for key, texts in docs.items():
        index.add(key, texts)
    index.add("empty", ["--"])  # no tokens: not indexed
    assert len(index) == 3
    expected = dict(bm25_rank("printer ERR-4711", docs.items()))
    assert index.scores("printer ERR-4711") == pytest.approx(expected)
    assert index.scores("printer err", allowed={"b": 0}).keys() == {"b"}
    index.add("a", ["replaced text"])  # re-adding replaces
    index.remove("b")
    index.remove("never-added")
    assert index.scores("printer") == {}
    assert set(index.scores("text here")) == {"a", "c"}
    for key in ("a", "c"):
        index.remove(key)
    assert len(index) == 0 and index.scores("text") == {} and index._postings == {}
