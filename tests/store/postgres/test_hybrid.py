"""Hybrid search on PostgreSQL: the tsvector column ``kw`` (GIN index, ``ts_rank_cd``), the
keyword-only answer ranked first, the migration of stores created before it, stemming by the
configured language, and keyword mode on a server without pgvector."""

from __future__ import annotations

import psycopg
import pytest

from tests.backends._pgvector_server import pgvector_url
from tests.backends.postgres_store import PLAIN_URL, fresh_database
from waypoint.errors import ConfigError, SetupError
from waypoint.store.postgres import PostgresStore

WORDS = ["login", "password", "printer", "paper", "network", "slow"]


def embed(texts: list[str]) -> list[list[float]]:
    """Meanings, not spellings: error codes and product names are invisible to it."""
    return [[1.0 + sum(w in t.lower() for w in WORDS[i::3]) for i in range(3)] for t in texts]


INDEX = {"dims": 3, "embed": embed, "fields": ["text"], "hybrid": True}
TICKETS = {
    "t1": "login fails with a password error",
    "t2": "the printer is out of paper",
    "t3": "ERR-4711 on the network switch",
    "t4": "network is slow after login",
}


def _load(store: PostgresStore) -> None:
    for key, text in TICKETS.items():
        store.put(("tickets",), key, {"text": text, "team": "it"})


def test_keyword_only_answer_ranks_first_in_hybrid_mode() -> None:
    with fresh_database(pgvector_url()) as url, PostgresStore.from_conn_string(url, index=INDEX) as store:
        _load(store)
        hybrid = store.search(("tickets",), query="4711 network", mode="hybrid", filter={"team": "it"})
        assert hybrid[0].key == "t3"
        vector = store.search(("tickets",), query="4711", limit=1)
        assert vector[0].key != "t3"  # the vector ranking alone misses it
        keyword = store.search(("tickets",), query="ERR-4711", mode="keyword")
        assert [i.key for i in keyword] == ["t3"] and keyword[0].score > 0
        # stemming (english): "printers" finds "printer"; words not in the index find nothing
        assert [i.key for i in store.search(("tickets",), query="printers", mode="keyword")] == ["t2"]
        assert store.search(("tickets",), query="zebra", mode="keyword") == []
        # a rewrite replaces the keyword text; index=False drops it
        store.put(("tickets",), "t3", {"text": "fixed", "team": "it"})
        assert store.search(("tickets",), query="4711", mode="keyword") == []
        store.put(("tickets",), "t2", {"text": "printer again", "team": "it"}, index=False)
        assert store.search(("tickets",), query="printer", mode="keyword") == []
        assert store.conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'waypoint_store_kw'").fetchone()[0] == 1


def test_stores_created_before_keywords_are_migrated() -> None:
    with fresh_database(pgvector_url()) as url:
        with PostgresStore.from_conn_string(url, index={**INDEX, "hybrid": False}) as store:
            _load(store)
            store.conn.execute("ALTER TABLE waypoint_store DROP COLUMN kw")  # as before v1
            store.conn.execute("DELETE FROM waypoint_store_migrations WHERE v = 1")
        with PostgresStore.from_conn_string(url, index=INDEX) as store:
            assert store.search(("tickets",), query="printer", mode="keyword") == []  # not indexed
            store.put(("tickets",), "t2", {"text": TICKETS["t2"], "team": "it"})
            assert [i.key for i in store.search(("tickets",), query="printer", mode="keyword")] == ["t2"]
            assert len(store.search(("tickets",), query="login")) == 4  # vectors kept


def test_keyword_mode_without_pgvector_and_language_checks() -> None:
    with fresh_database(PLAIN_URL) as url:
        with PostgresStore.from_conn_string(url, index={**INDEX, "language": "simple"}) as store:
            _load(store)
            # 'simple' does not stem: "printers" is not "printer"
            assert store.search(("tickets",), query="printers", mode="keyword") == []
            assert [i.key for i in store.search(("tickets",), query="printer", mode="keyword")] == ["t2"]
        with PostgresStore.from_conn_string(url, index={**INDEX, "language": "klingon"}) as store:
            with pytest.raises(SetupError, match="pg_ts_config"):
                store.setup()
    with psycopg.connect(PLAIN_URL, autocommit=True) as conn:
        with pytest.raises(ConfigError, match="text search configuration"):
            PostgresStore(conn, index={**INDEX, "language": "english'; --"})
