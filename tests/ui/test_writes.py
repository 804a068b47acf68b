"""Acting on threads from the browser (``--graph`` and ``--allow-writes``): resume an interrupt
and see the new checkpoints, fork from a checkpoint, CSRF refusal; and live updates: a thread
written by another process shows its new checkpoints without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("langchain_core")

from tests.cli import _graph  # noqa: E402
from tests.ui import _data  # noqa: E402
from tests.ui.conftest import Server, follow, screenshot, start_server  # noqa: E402


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('uiw') / 'app.db'}"
    _data.fill(url)
    server = start_server(url, "--graph", "tests.ui._graphs:builder", "--allow-writes")
    try:
        yield server, url
    finally:
        server.stop()


def _nodes(page: Any) -> int:
    return page.locator("#tree a.cp").count()


def test_resume_an_interrupt_and_see_the_new_checkpoints(writable: tuple[Server, str], page: Any) -> None:
    server, _ = writable
    page.goto(server.url)
    follow(page, "a.thread-link:text-is('review-1')")
    before = _nodes(page)
    assert "approve the draft?" in page.inner_text(".interrupt-box")
    page.fill("#resume-value", '"ship it"')
    follow(page, "#resume-go")
    page.wait_for_url("**/thread/review-1")
    assert _nodes(page) == before + 2  # approve, then finish
    assert page.locator("#resume-form").count() == 0  # nothing left to answer
    assert "(done)" in page.inner_text("aside")
    follow(page, page.locator("#tree a.cp").first)
    texts = page.locator(".msg .text").all_inner_texts()
    assert texts[-2:] == ["ship it", "published"]


def test_fork_from_a_checkpoint(writable: tuple[Server, str], page: Any) -> None:
    server, _ = writable
    page.goto(server.url)
    follow(page, "a.thread-link:text-is('review-2')")
    lanes_before = {page.locator("#tree a.cp").nth(i).get_attribute("data-lane") for i in range(_nodes(page))}
    follow(page, page.locator("#tree a.cp").nth(1))  # the checkpoint before the interrupt
    page.fill("#fork-form textarea[name=value]", '{"count": 41}')
    page.fill("#fork-form input[name=as_node]", "draft")
    follow(page, "#fork-form button")
    page.wait_for_url("**/thread/review-2")
    lanes_after = {page.locator("#tree a.cp").nth(i).get_attribute("data-lane") for i in range(_nodes(page))}
    assert len(lanes_after) == len(lanes_before) + 1
    assert page.locator("#tree path.fork").count() >= 1


def test_writes_need_the_csrf_token(writable: tuple[Server, str], page: Any) -> None:
    server, _ = writable
    page.goto(server.url)
    refused = page.request.post(server.base + "/thread/review-2/act/resume", form={"value": '"x"'})
    assert refused.status == 403 and "CSRF" in refused.text()


def test_live_updates_from_another_process(writable: tuple[Server, str], page: Any) -> None:
    from waypoint.checkpoint.sqlite import SqliteSaver

    server, url = writable
    page.goto(server.url)
    follow(page, "a.thread-link:text-is('chat-script')")
    page.evaluate("window.__still_here = true")
    before = _nodes(page)
    with SqliteSaver.from_conn_string(url.removeprefix("sqlite:///")) as saver:  # this test process writes
        from tests.cli import _chat

        _chat.chat(saver, "chat-script", "and tomorrow?")
    page.wait_for_function(f"document.querySelectorAll('#tree a.cp').length > {before}", timeout=15_000)
    assert page.evaluate("window.__still_here === true")  # updated in place, not reloaded
    assert _nodes(page) == before + 5
    screenshot(page, "live")


_ = (Path, _graph)
