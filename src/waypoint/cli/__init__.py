"""The ``waypoint`` command: inspect, export, import, migrate and prune checkpoints.

    waypoint --url sqlite:///checkpoints.db threads
    waypoint history THREAD          # WAYPOINT_URL set
    waypoint export THREAD --out thread.jsonl

Needs the ``cli`` extra (Click and Rich). Every error a user can cause prints one line
(``Error: ...``) and exits with status 1; set ``WAYPOINT_DEBUG=1`` for a traceback instead.
See docs/cli.md for every command and the export file format.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _hint(message: str) -> str:
    """A fix for the errors users meet most when pointing the command at their data."""
    if "EncryptedSerializer" in message and not os.environ.get("WAYPOINT_AES_KEY"):
        return " (set WAYPOINT_AES_KEY to read encrypted checkpoints)"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        import click

        from waypoint.cli._commands import cli
    except ImportError as exc:
        print(f"Error: the waypoint command needs the 'cli' extra (pip install 'waypoint-graph[cli]'): {exc}", file=sys.stderr)
        return 1
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="waypoint", standalone_mode=False)
    except click.exceptions.Abort:
        print("Aborted.", file=sys.stderr)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
        return 0
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("WAYPOINT_DEBUG"):
            raise
        line = _first_line(exc)
        print(f"Error: {type(exc).__name__}: {line}{_hint(line)}", file=sys.stderr)
        return 1
    return rv if isinstance(rv, int) else 0


__all__ = ["main"]
