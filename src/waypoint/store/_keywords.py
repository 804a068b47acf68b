"""An incremental BM25 keyword index, for stores that score keywords in Python (in memory).

Documents are any hashable handles (the in-memory store uses its item records); each is added
with its texts (the same texts the store embeds) and removed when the item is overwritten,
deleted or swept, so the statistics (document count, average length, document frequencies)
always describe the live documents. Tokens come from :func:`waypoint.store._hybrid.tokenize`:
lower-cased runs of word characters, no stemming, the same for every language. Not
thread-safe: the owning store serializes access.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from waypoint.store._hybrid import bm25_idf, bm25_term, tokenize


class KeywordIndex:
    """Postings (term -> document -> term frequency) and document lengths, kept in step."""

    def __init__(self) -> None:
        self._postings: dict[str, dict[Hashable, int]] = {}
        self._lengths: dict[Hashable, int] = {}
        self._terms: dict[Hashable, tuple[str, ...]] = {}
        self._total = 0

    def __len__(self) -> int:
        """Documents holding at least one token."""
        return len(self._lengths)

    def add(self, doc: Hashable, texts: Iterable[str]) -> None:
        """Index ``doc``'s texts (replacing what it had); a document without tokens is not
        indexed (it can never match)."""
        self.remove(doc)
        counts: dict[str, int] = {}
        length = 0
        for text in texts:
            for token in tokenize(text):
                counts[token] = counts.get(token, 0) + 1
                length += 1
        if not length:
            return
        for term, tf in counts.items():
            posting = self._postings.get(term)
            if posting is None:
                self._postings[term] = {doc: tf}
            else:
                posting[doc] = tf
        self._lengths[doc] = length
        self._terms[doc] = tuple(counts)
        self._total += length

    def remove(self, doc: Hashable) -> None:
        """Forget ``doc`` (absent documents are fine)."""
        length = self._lengths.pop(doc, None)
        if length is None:
            return
        self._total -= length
        for term in self._terms.pop(doc):
            posting = self._postings[term]
            del posting[doc]
            if not posting:
                del self._postings[term]

    def scores(self, query: str, allowed: Mapping[Hashable, object] | None = None) -> dict[Hashable, float]:
        """BM25 score of every document holding a query term (and in ``allowed``, when
        given); statistics over all indexed documents. Documents without a query term are
        absent."""
        docs = len(self._lengths)
        if not docs:
            return {}
        avg = self._total / docs
        out: dict[Hashable, float] = {}
        for term in dict.fromkeys(tokenize(query)):  # a repeated query word counts once
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = bm25_idf(docs, len(posting))
            lengths = self._lengths
            for doc, tf in posting.items():
                if allowed is None or doc in allowed:
                    out[doc] = out.get(doc, 0.0) + bm25_term(tf, lengths[doc], avg, idf)
        return out
