"""Hybrid search on SQLite: FTS5 keyword ranking (-bm25) fused with the vector ranking."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from waypoint.errors import SetupError
from waypoint.store.sqlite import SqliteStore
from waypoint.store.sqlite.aio import AsyncSqliteStore

ERROR_DOC = "Incident report: ERR-4711 raised by the billing service"


def _embed(texts: list[str]) -> list[list[float]]:
    """Notes spread by angle from the query direction; the incident report sits at note 20's
    angle, so vectors alone rank it 22nd."""
    out = []
    for text in texts:
        if text == ERROR_DOC:
            angle = 20.5 * 0.02
        elif text.startswith("note "):
            angle = int(text.split()[1]) * 0.02
        else:  # a query
            angle = 0.0
        out.append([math.cos(angle), math.sin(angle)])
    return out


INDEX = {"dims": 2, "embed": _embed, "fields": ["text"], "hybrid": True}


def _fill(store: SqliteStore) -> None:
    for i in range(40):
        store.put(("docs", "a" if i % 2 else "b"), f"n{i}", {"text": f"note {i} about billing", "i": i})
    store.put(("docs", "a"), "incident", {"text": ERROR_DOC, "i": 99})


def test_keyword_only_answer_ranks_first_in_hybrid_mode(tmp_path: Path) -> None:
    with SqliteStore.from_conn_string(tmp_path / "h.db", index=INDEX) as store:
        _fill(store)
        vector = [i.key for i in store.search(("docs",), query="ERR-4711", limit=10)]
        assert "incident" not in vector
        hybrid = store.search(("docs",), query="ERR-4711", limit=10, mode="hybrid")
        assert hybrid[0].key == "incident"
        assert hybrid[0].score == pytest.approx(1 / 61 + 1 / 82)  # keyword 1st, vector 22nd
        assert [i.key for i in hybrid[1:4]] == vector[:3]
        keyword = store.search(("docs",), query="err 4711", mode="keyword")
        assert [i.key for i in keyword] == ["incident"] and keyword[0].score > 0
        # a filter and a prefix apply to both rankings
        filtered = store.search(("docs",), query="ERR-4711", filter={"i": {"$lt": 99}}, mode="hybrid")
        assert "incident" not in [i.key for i in filtered] and len(filtered) == 10
        assert store.search(("docs", "b"), query="ERR-4711", mode="keyword") == []
        # Porter stemming: "raise" finds "raised"; a term no item has finds nothing
        assert [i.key for i in store.search(("docs",), query="raise", mode="keyword")] == ["incident"]
        assert store.search(("docs",), query="zebra", mode="keyword") == []
        # pages of the fused ranking (both pages' candidates hold all 41 items)
        everything = store.search(("docs",), query="billing ERR-4711", limit=50, mode="hybrid")
        page = store.search(("docs",), query="billing ERR-4711", limit=5, offset=10, mode="hybrid")
        assert len(everything) == 41 and [i.key for i in page] == [i.key for i in everything[10:15]]


def test_rewrites_and_deletes_by_any_writer_update_the_keyword_index(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with SqliteStore.from_conn_string(path, index=INDEX) as store, SqliteStore(str(path)) as plain:
        _fill(store)
        plain.put(("docs", "a"), "incident", {"text": "closed"})  # a store without an index
        assert store.search(("docs",), query="ERR-4711", mode="keyword") == []
        store.put(("docs", "a"), "incident", {"text": ERROR_DOC})
        assert [i.key for i in store.search(("docs",), query="4711", mode="keyword")] == ["incident"]
        store.put(("docs", "a"), "incident", {"text": ERROR_DOC}, index=False)
        assert store.search(("docs",), query="4711", mode="keyword") == []
        store.put(("docs", "a"), "incident", {"text": ERROR_DOC})
        plain.delete(("docs", "a"), "incident")
        store.put(("docs", "a"), "other", {"text": "unrelated"})  # may reuse the rowid
        assert store.search(("docs",), query="4711", mode="keyword") == []
        assert [i.key for i in store.search(("docs",), query="unrelated", mode="keyword")] == ["other"]


def test_language_picks_the_tokenizer_and_must_match(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with SqliteStore.from_conn_string(path, index={**INDEX, "language": "german"}) as store:
        store.put(("d",), "k", {"text": "raised"})
        assert store.search(("d",), query="raise", mode="keyword") == []  # no stemming
        assert [i.key for i in store.search(("d",), query="RAISED", mode="keyword")] == ["k"]
    with SqliteStore.from_conn_string(path, index=INDEX) as store:
        with pytest.raises(SetupError, match="language"):
            store.setup()


async def test_async_store_hybrid(tmp_path: Path) -> None:
    async with AsyncSqliteStore.from_conn_string(tmp_path / "a.db", index=INDEX) as store:
        await store.aput(("docs",), "incident", {"text": ERROR_DOC})
        await store.aput(("docs",), "n1", {"text": "note 1"})
        got = await store.asearch(("docs",), query="ERR-4711", mode="hybrid")
        assert [i.key for i in got] == ["incident", "n1"]
