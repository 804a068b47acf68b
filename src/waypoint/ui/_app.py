"""The inspector's web application (Starlette): routes, the access token and CSRF checks.

Every request must carry the server's random token, as ``?token=...`` (the first visit) or the
cookie set then; anything else gets 403. Writes are POSTs that also need ``--allow-writes``, a
graph, and the page's CSRF token. Handlers are thin: they call ``_pages`` (reads through the
saver and store APIs) or the graph's own ``invoke``/``update_state``, and render templates whose
values are escaped by Jinja's autoescaping.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.cli._urls import CliError
from waypoint.errors import CheckpointReadError, WaypointError
from waypoint.ui import _pages, _values

HERE = Path(__file__).parent
COOKIE = "waypoint_ui_token"
POLL_SECONDS = 2


class TokenGate:
    """ASGI middleware: 403 unless the request carries the token (query or cookie)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token")
        cookie = request.cookies.get(COOKIE)
        ok_query = given is not None and secrets.compare_digest(given, self.token)
        ok_cookie = cookie is not None and secrets.compare_digest(cookie, self.token)
        if not (ok_query or ok_cookie):
            await PlainTextResponse("403 Forbidden: open the URL with ?token=... that `waypoint ui` printed", status_code=403)(scope, receive, send)
            return
        if ok_query and not ok_cookie:
            async def send_with_cookie(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)


def bind_graph(graph: Any, saver: BaseCheckpointSaver) -> Any:
    """The user's graph (a compiled graph or a builder) running on the inspected database."""
    if hasattr(graph, "compile") and not hasattr(graph, "invoke"):
        return graph.compile(checkpointer=saver)
    if not (hasattr(graph, "invoke") and hasattr(graph, "update_state")):
        raise CliError(f"--graph must name a compiled graph or a StateGraph builder, got {type(graph).__name__}")
    bound = graph.with_config({})  # a copy: the user's object keeps its own checkpointer
    bound.checkpointer = saver
    return bound


class Inspector:
    """What the handlers share: the saver, store, graph, tokens and templates."""

    def __init__(self, saver: BaseCheckpointSaver, store: Any, graph: Any, allow_writes: bool, token: str, title: str) -> None:
        self.saver = saver
        self.store = store
        self.graph = graph
        self.allow_writes = allow_writes and graph is not None
        self.token = token
        self.csrf = secrets.token_urlsafe(24)
        self.title = title
        self.lock = threading.Lock()  # one database call at a time: savers share one connection
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        self.env.globals.update(title=title, csrf=self.csrf, poll=POLL_SECONDS)
        self.env.filters["qs"] = lambda d: urlencode({k: v for k, v in d.items() if v not in (None, "")})

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(writes=self.allow_writes, has_store=self.store is not None, **context)
        return HTMLResponse(html, status_code=status)

    def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return fn(*args, **kwargs)

    def failure(self, exc: BaseException, status: int = 400) -> HTMLResponse:
        if isinstance(exc, CheckpointReadError):
            return self.render("error.html", status=422, error=_values.unreadable(exc))
        return self.render("error.html", status=status, error={"title": str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "detail": ""})


def _ns(request: Request) -> str:
    return request.query_params.get("ns", "")


def create_app(
    saver: BaseCheckpointSaver,
    store: Any = None,
    *,
    graph: Any = None,
    allow_writes: bool = False,
    token: str | None = None,
    title: str = "waypoint",
) -> tuple[ASGIApp, str]:
    """The inspector app over ``saver`` (and ``store``); returns ``(app, token)``. Writes need
    both ``graph`` (bound to ``saver``) and ``allow_writes``."""
    token = token or secrets.token_urlsafe(24)
    bound = bind_graph(graph, saver) if graph is not None else None
    ui = Inspector(saver, store, bound, allow_writes, token, title)

    def threads(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        meta = request.query_params.get("meta", "").strip()
        after = request.query_params.get("after")
        try:
            data = ui.read(_pages.thread_rows, saver, after=after, q=q, filter=_pages.parse_filter(meta))
        except (ValueError, WaypointError, CliError) as exc:
            return ui.render("threads.html", status=400, rows=[], next_after=None, q=q, meta=meta, error=str(exc))
        return ui.render("threads.html", q=q, meta=meta, error=None, **data)

    def thread(request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        try:
            data = ui.read(_pages.history, saver, thread_id, _ns(request), request.query_params.get("before"))
        except (CheckpointReadError, CliError, WaypointError) as exc:
            return ui.failure(exc)
        if not data["tree"].nodes:
            return ui.failure(CliError(f"thread {thread_id!r} not found"), status=404)
        latest = None
        if data["newest"]:
            try:
                latest = ui.read(_pages.checkpoint, saver, thread_id, _ns(request), data["newest"])
            except (CheckpointReadError, CliError) as exc:
                latest = {"error": _values.unreadable(exc)}
        return ui.render("thread.html", thread_id=thread_id, ns=_ns(request), latest=latest, **data)

    def tree(request: Request) -> Response:
        """The tree alone, for live updates: 204 while the newest checkpoint is unchanged."""
        thread_id = request.path_params["thread_id"]
        data = ui.read(_pages.history, saver, thread_id, _ns(request), None)
        if data["newest"] and data["newest"] == request.query_params.get("since"):
            return Response(status_code=204)
        return ui.render("_tree.html", thread_id=thread_id, ns=_ns(request), **data)

    def checkpoint(request: Request) -> Response:
        thread_id, cid = request.path_params["thread_id"], request.path_params["checkpoint_id"]
        try:
            data = ui.read(_pages.checkpoint, saver, thread_id, _ns(request), cid)
        except (CheckpointReadError, CliError) as exc:
            return ui.failure(exc, status=404)
        return ui.render("checkpoint.html", cp=data, ns=_ns(request))

    def diff(request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        if not a or not b:
            return ui.failure(ValueError("pick two checkpoints: ?a=ID&b=ID"))
        try:
            data = ui.read(_pages.diff, saver, thread_id, _ns(request), a, b)
        except (CheckpointReadError, CliError) as exc:
            return ui.failure(exc, status=404)
        return ui.render("diff.html", d=data, ns=_ns(request))

    def store_view(request: Request) -> Response:
        if store is None:
            return ui.failure(ValueError("no store at this URL"), status=404)
        namespace = request.query_params.get("ns", "")
        query = request.query_params.get("query", "")
        meta = request.query_params.get("filter", "")
        offset = int(request.query_params.get("offset", "0") or 0)
        try:
            data = ui.read(_pages.store_page, store, namespace, query, _pages.parse_filter(meta), max(0, offset))
        except (ValueError, WaypointError) as exc:
            return ui.render("store.html", status=400, tree=[], items=[], indexed=False, next_offset=None,
                             namespace=namespace, query=query, filter=meta, error=str(exc))
        return ui.render("store.html", namespace=namespace, query=query, filter=meta, error=None, **data)

    async def act(request: Request) -> Response:
        """resume / update / fork through the graph's own API (its one-writer rule applies)."""
        if not ui.allow_writes:
            return PlainTextResponse("403 Forbidden: start `waypoint ui` with --graph module:attr and --allow-writes to act on threads", status_code=403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return PlainTextResponse("415: post the page's form (application/x-www-form-urlencoded)", status_code=415)
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True).items()}
        if not secrets.compare_digest(str(form.get("csrf", "")), ui.csrf):
            return PlainTextResponse("403 Forbidden: missing or wrong CSRF token (reload the page)", status_code=403)
        thread_id, action = request.path_params["thread_id"], request.path_params["action"]
        ns = str(form.get("ns", ""))
        raw = str(form.get("value", "")).strip()
        try:
            value = json.loads(raw) if raw else None
        except ValueError as exc:
            return ui.failure(ValueError(f"the value must be JSON ({exc}); strings need quotes"))
        from starlette.concurrency import run_in_threadpool

        try:
            await run_in_threadpool(ui.read, _act, ui.graph, action, thread_id, ns, str(form.get("checkpoint_id", "")), value, str(form.get("as_node", "")))
        except Exception as exc:  # the graph's own error, shown to the user
            return ui.failure(exc)
        return RedirectResponse(f"/thread/{quote(thread_id)}" + (f"?{urlencode({'ns': ns})}" if ns else ""), status_code=303)

    routes = [
        Route("/", threads),
        Route("/thread/{thread_id:path}/checkpoint/{checkpoint_id}", checkpoint),
        Route("/thread/{thread_id:path}/tree", tree),
        Route("/thread/{thread_id:path}/diff", diff),
        Route("/thread/{thread_id:path}/act/{action}", act, methods=["POST"]),
        Route("/thread/{thread_id:path}", thread),
        Route("/store", store_view),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    return TokenGate(app, token), token


def _act(graph: Any, action: str, thread_id: str, ns: str, checkpoint_id: str, value: Any, as_node: str) -> None:
    from waypoint.types import Command

    config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
    if checkpoint_id:
        config["configurable"]["checkpoint_id"] = checkpoint_id
    if action == "resume":
        graph.invoke(Command(resume=value), config)
    elif action in ("update", "fork"):
        graph.update_state(config, value, as_node=as_node or None)
    else:
        raise ValueError(f"unknown action {action!r}: resume, update or fork")


__all__ = ["create_app"]
