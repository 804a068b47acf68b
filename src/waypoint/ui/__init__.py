"""``waypoint ui``: a local web inspector for threads, checkpoints, forks and store items.

    waypoint --url sqlite:///app.db ui              # prints http://127.0.0.1:PORT/?token=...

Server-rendered pages (Starlette, Jinja2, uvicorn) with htmx vendored in ``static/``: nothing is
fetched at run time. Binds 127.0.0.1 by default; every request needs the printed token (a cookie
after the first visit); read-only unless started with ``--graph module:attr --allow-writes``.
Needs the ``ui`` extra. See docs/ui.md.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.ui._app import create_app


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: a free one), so the URL is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve(
    saver: BaseCheckpointSaver,
    store: Any = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    graph: Any = None,
    allow_writes: bool = False,
    title: str = "waypoint",
    announce: Any = None,
) -> None:
    """Serve the inspector until interrupted; ``announce(url)`` (default: print) gets the URL
    with its token once the socket listens."""
    import uvicorn

    app, token = create_app(saver, store, graph=graph, allow_writes=allow_writes, title=title)
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/?token={token}"
    if announce is None:
        print(f"waypoint ui: {url}", flush=True)
        print("  (Ctrl-C stops it; the token is needed on every request)", file=sys.stderr, flush=True)
    else:
        announce(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["create_app", "listen", "serve"]
