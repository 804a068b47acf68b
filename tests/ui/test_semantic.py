"""The store page's semantic search box, shown only for a store with a vector index: a SQLite
store indexed with a small deterministic embedding (letter trigrams hashed into 64 dims),
served in-process by ``waypoint.ui.serve``'s pieces."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import follow

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

DIMS = 64


def embed(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        v = [0.0] * DIMS
        t = f"  {text.lower()}  "
        for i in range(len(t) - 2):
            v[int(hashlib.md5(t[i : i + 3].encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        out.append([x / norm for x in v])
    return out


@pytest.fixture(scope="module")
def indexed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from waypoint.checkpoint.sqlite import SqliteSaver
    from waypoint.store.sqlite import SqliteStore
    from waypoint.ui import create_app, listen

    path: Path = tmp_path_factory.mktemp("uis") / "mem.db"
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with SqliteSaver.from_conn_string(str(path)) as saver, SqliteStore.from_conn_string(str(path), index=index) as store:
        store.setup()
        for key, text in [("a", "likes window seats on trains"), ("b", "allergic to peanuts"), ("c", "prefers aisle seats on planes")]:
            store.put(("users", "dana"), key, {"text": text})
        app, token = create_app(saver, store, title="indexed")
        sock = listen()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            host, port = sock.getsockname()[:2]
            yield f"http://{host}:{port}/store?token={token}"
        finally:
            server.should_exit = True
            thread.join(10)


def test_semantic_search_ranks_items(indexed_server: str, page: Any) -> None:
    page.goto(indexed_server)
    assert page.locator("#items tr.item").count() == 3
    page.fill("#store-query", "peanut allergy")
    follow(page, "#store-search button")
    first = page.locator("#items tr.item").first
    assert "allergic to peanuts" in first.inner_text()
    scores = [float(t) for t in page.locator("#items tr.item td:last-child").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
