"""The inspector in a real browser, on databases made by real graph runs on SQLite, PostgreSQL
and MongoDB: threads list, a thread's tree with its fork drawn as a branch, a checkpoint whose
``<script>`` message shows as text, a diff, the store search, and the token gate."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("starlette")
pytest.importorskip("langchain_core")

from tests.ui import _data  # noqa: E402
from tests.ui.conftest import Server, follow, screenshot, start_server  # noqa: E402


@pytest.fixture(scope="module", params=["sqlite", "postgres", "mongodb"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any], str]]:
    """One server per backend for this module's tests."""
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'app.db'}"
        cleanup = None
    elif kind == "postgres":
        from tests.backends.postgres_saver import fresh_database
        from tests.cli.conftest import _pg_url

        cleanup = fresh_database()
        url = _pg_url(cleanup.__enter__())
    else:
        from pymongo import MongoClient

        from tests.backends._mongo_server import mongo_uri, new_db_name

        base, name = mongo_uri(), new_db_name()
        url = base.replace("/?", f"/{name}?") if "/?" in base else base.rstrip("/") + f"/{name}"
        cleanup = None
    facts = _data.fill(url)
    server = start_server(url)
    try:
        yield server, facts, kind
    finally:
        server.stop()
        if kind == "postgres" and cleanup is not None:
            cleanup.__exit__(None, None, None)
        if kind == "mongodb":
            with MongoClient(base) as client:
                client.drop_database(name)


def test_requests_without_the_token_get_403(served: tuple[Server, dict[str, Any], str], page: Any) -> None:
    server, _, _ = served
    for path in ("/", "/thread/chat-paris", "/store", "/static/htmx.min.js"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.base + path, timeout=10)
        assert info.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.base + "/?token=wrong" + server.token[:4], timeout=10)
    assert info.value.code == 403
    response = page.goto(server.base + "/")
    assert response.status == 403
    # a read-only server refuses writes even with the token
    page.goto(server.url)
    refused = page.request.post(server.base + "/thread/review-1/act/resume", form={"value": '"yes"'})
    assert refused.status == 403 and "--allow-writes" in refused.text()


def test_threads_thread_fork_checkpoint_diff(served: tuple[Server, dict[str, Any], str], page: Any) -> None:
    server, facts, kind = served
    page.goto(server.url)  # the token once; a cookie from then on
    rows = page.locator("#threads tbody tr")
    names = page.locator("a.thread-link").all_inner_texts()
    assert set(names) == set(_data.CHATS) | set(_data.APPROVALS), names
    review = rows.filter(has_text="review-1")
    assert "approve" in review.inner_text() and "1 waiting" in review.inner_text()
    page.fill("#meta", "user=bob")
    follow(page, "form.search button")
    assert page.locator("a.thread-link").all_inner_texts() == ["review-2"]
    page.fill("#meta", "")
    page.fill("#q", "chat-")
    follow(page, "form.search button")
    assert sorted(page.locator("a.thread-link").all_inner_texts()) == sorted(_data.CHATS)
    page.fill("#q", "")
    follow(page, "form.search button")
    if kind == "sqlite":
        screenshot(page, "threads")

    # the forked thread: the fork is a branch (its own lane) beside the main line
    follow(page, f"a.thread-link:text-is('{_data.FORKED}')")
    fork = page.locator(f"#tree a.cp[data-id='{facts['fork']}']")
    parent = page.locator(f"#tree a.cp[data-id='{facts['fork_parent']}']")
    assert fork.get_attribute("data-lane") != parent.get_attribute("data-lane")
    assert page.locator("#tree path.fork").count() == 1
    assert "1 fork(s)" in page.inner_text("#forks")
    if kind == "sqlite":
        screenshot(page, "thread")
    # diff the fork with its parent through the picker
    page.select_option("#diff-a", facts["fork_parent"])
    page.select_option("#diff-b", facts["fork"])
    follow(page, "#diff-go")
    section = page.locator("#diff-messages")
    assert "actually, Rome" in section.locator("pre.right").inner_text()
    assert "changed" in section.locator("h3").inner_text() and "written by (update)" in section.locator("h3").inner_text()
    if kind == "sqlite":
        screenshot(page, "diff")

    # the chat holding a <script>: shown as text, never run
    page.goto(f"{server.base}/thread/{quote(next(k for k, v in _data.CHATS.items() if v == _data.SCRIPT_TEXT))}")
    follow(page, page.locator("#tree a.cp").first)
    user = page.locator(".msg.role-user .text").first
    assert user.inner_text() == _data.SCRIPT_TEXT
    assert page.title() != "pwned"
    assert page.locator(".msg .toolcall").first.inner_text().startswith("tool call weather")
    assert "sunny in" in page.locator(".msg.role-tool").first.inner_text()
    assert "forecast for" in page.inner_text("#channel-docs")
    assert '"thread_id": "chat-script"' in page.inner_text("#config")
    if kind == "sqlite":
        screenshot(page, "checkpoint")


def test_store_browser(served: tuple[Server, dict[str, Any], str], page: Any) -> None:
    server, _, kind = served
    page.goto(server.url)
    follow(page, "header a[href='/store']")
    tree = page.inner_text("#namespaces")
    for label in ("users", "alice", "bob", "memories", "docs"):
        assert label in tree
    assert page.locator("#items tr.item").count() == len(_data.MEMORIES)
    follow(page, "#namespaces a.ns-link:text-is('alice')")
    assert page.locator("#items tr.item").count() == 2
    page.fill("#store-filter", "kind=fact")
    follow(page, "#store-search button")
    items = page.locator("#items tr.item")
    assert items.count() == 1 and "lives in Oslo" in items.inner_text()
    assert page.locator("#store-query").count() == 0  # no index at this URL: no semantic box
    if kind == "sqlite":
        screenshot(page, "store")


def test_unknown_thread_is_a_named_page(served: tuple[Server, dict[str, Any], str], page: Any) -> None:
    server, _, _ = served
    page.goto(server.url)
    response = page.goto(server.base + "/thread/nope")
    assert response.status == 404 and "thread 'nope' not found" in page.inner_text("#error")

