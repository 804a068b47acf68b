"""Hybrid search, written once for every store: modes, rank fusion and keyword scoring.

A store opts in with ``index={"dims": ..., "embed": ..., "fields": [...], "hybrid": True}``
(optional ``"language"``, default ``"english"``, for backends with a stemmer). It then keeps a
keyword index over the same text it embeds, and ``search(..., query=..., mode=...)`` accepts:

- ``None``: LangGraph's meaning (vector ranking with an index and a query, else a listing);
- ``"vector"``: vector ranking only; ``"keyword"``: keyword relevance only;
- ``"hybrid"``: reciprocal rank fusion (:func:`rrf_fuse`) of the keyword and vector rankings,
  each cut to :func:`candidates` keys after the filter and namespace prefix apply.

:func:`parse_mode` validates a mode against a store's index config; :func:`tokenize` and the
BM25 helpers serve the backends that score keywords in Python (in memory; MongoDB servers
without a text index). This module is pure Python: no I/O, no numpy.
"""

from __future__ import annotations

import math
import re
from typing import Any, Hashable, Iterable, Mapping, Sequence, TypeVar

from waypoint.errors import ConfigError

K = TypeVar("K", bound=Hashable)

MODES = ("vector", "keyword", "hybrid")
"""The values ``search(mode=...)`` accepts besides None."""

KEYWORD_MODES = frozenset({"keyword", "hybrid"})
"""Modes that need the keyword index (``index={..., "hybrid": True}``)."""

RRF_K = 60
"""Reciprocal rank fusion's constant: the usual 60 (Cormack et al., 2009)."""

DEFAULT_LANGUAGE = "english"

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased runs of word characters (letters, digits, ``_``, any script): ``"ERR-4711
    in Foo"`` gives ``["err", "4711", "in", "foo"]``. No stemming, no stop words."""
    return _WORD.findall(text.lower())


def check_mode(mode: Any) -> None:
    """Raise ValueError unless ``mode`` is None or one of :data:`MODES`."""
    if mode is not None and (not isinstance(mode, str) or mode not in MODES):
        raise ValueError(
            f"search mode={mode!r} is not a search mode: use None (LangGraph's default), "
            + ", ".join(repr(m) for m in MODES)
        )


def keyword_language(index_config: Mapping[str, Any] | None) -> str | None:
    """The keyword index's language if ``index_config`` enables hybrid search, else None.

    Raises ConfigError for a non-bool ``hybrid`` or a non-str/empty ``language``.
    """
    if index_config is None:
        return None
    hybrid = index_config.get("hybrid", False)
    if not isinstance(hybrid, bool):
        raise ConfigError(f"index hybrid={hybrid!r}: use True (keep a keyword index) or False")
    language = index_config.get("language", DEFAULT_LANGUAGE)
    if not isinstance(language, str) or not language:
        raise ConfigError(
            f"index language={language!r}: use a language name such as 'english' (the "
            "text search configuration / stemmer of backends that have one)"
        )
    return language if hybrid else None


def parse_mode(mode: Any, index_config: Mapping[str, Any] | None) -> str | None:
    """Validate ``mode`` for a store whose index config is ``index_config`` (None: no index)
    and return it (None stays None: LangGraph's default behaviour).

    Raises ValueError for an unknown mode, ConfigError (a ValueError) naming the index config
    key to set when the store lacks what the mode needs.
    """
    check_mode(mode)
    if mode is None:
        return None
    if index_config is None:
        needs = ', "hybrid": True' if mode in KEYWORD_MODES else ""
        raise ConfigError(
            f"search mode={mode!r} needs an index: create the store with "
            f'index={{"dims": ..., "embed": ..., "fields": [...]{needs}}}'
        )
    if mode in KEYWORD_MODES and keyword_language(index_config) is None:
        raise ConfigError(
            f"search mode={mode!r} needs the keyword index: create the store with "
            'index={..., "hybrid": True}'
        )
    return mode  # type: ignore[no-any-return]


def candidates(limit: int, offset: int) -> int:
    """How many keys each ranker hands to the fusion for a page of ``limit`` after
    ``offset``: ``max(4 * (limit + offset), 40)``."""
    return max(4 * (limit + offset), 40)


def rrf_fuse(rankings: Sequence[Sequence[K]], *, k: int = RRF_K) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: each key scores ``sum(1 / (k + rank))`` over the rankings it
    appears in (rank 1-based); best first, ties in order of first appearance (ranking by
    ranking, rank by rank)."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    # dicts keep first-insertion order and sorted() is stable: ties stay in that order
    return sorted(scores.items(), key=lambda kv: -kv[1])


# BM25 (Robertson/Sparck Jones with the usual k1, b), for backends scoring keywords in Python.

BM25_K1 = 1.2
BM25_B = 0.75


def bm25_idf(docs: int, containing: int) -> float:
    """BM25's inverse document frequency, never negative (Lucene's ``log(1 + ...)`` form)."""
    return math.log(1.0 + (docs - containing + 0.5) / (containing + 0.5))


def bm25_term(tf: int, length: int, avg_length: float, idf: float) -> float:
    """One query term's BM25 contribution for a document with ``tf`` occurrences."""
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / avg_length) if avg_length else BM25_K1
    return idf * tf * (BM25_K1 + 1.0) / (tf + norm)


class BM25:
    """BM25 over a document set seen once, in a stream (the candidates of one search): the
    statistics (document count, average length, document frequencies) are the set's own, and
    only the query terms' counts are kept per document. Documents without any token do not
    count; documents without a query term are not ranked."""

    def __init__(self, query: str) -> None:
        self.terms = frozenset(tokenize(query))
        self.docs = 0
        self.total = 0
        self.df: dict[str, int] = dict.fromkeys(self.terms, 0)
        self.hits: list[tuple[Any, int, dict[str, int]]] = []

    def add(self, key: Any, texts: Iterable[str]) -> None:
        """Count one document (``key``: anything identifying it) with its texts."""
        length = 0
        counts: dict[str, int] = {}
        terms = self.terms
        for text in texts:
            for token in tokenize(text):
                length += 1
                if token in terms:
                    counts[token] = counts.get(token, 0) + 1
        if not length:
            return
        self.docs += 1
        self.total += length
        for term in counts:
            self.df[term] += 1
        if counts:
            self.hits.append((key, length, counts))

    def scores(self) -> list[tuple[Any, float]]:
        """``(key, score)`` of every document holding a query term, in the order added."""
        if not self.hits:
            return []
        avg = self.total / self.docs
        idf = {t: bm25_idf(self.docs, n) for t, n in self.df.items() if n}
        return [
            (key, sum(bm25_term(tf, length, avg, idf[t]) for t, tf in counts.items()))
            for key, length, counts in self.hits
        ]


def bm25_rank(query: str, documents: Iterable[tuple[K, Sequence[str]]]) -> list[tuple[K, float]]:
    """BM25 over a document set given whole (each ``(key, texts)``): best first, ties in
    input order; documents without a query term are left out."""
    bm25 = BM25(query)
    for key, texts in documents:
        bm25.add(key, texts)
    return sorted(bm25.scores(), key=lambda kv: -kv[1])  # stable: ties in input order
