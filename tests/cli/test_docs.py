"""docs/cli.md documents every command the CLI has."""

from __future__ import annotations

from pathlib import Path

import click

from waypoint.cli._commands import cli

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


def _commands(group: click.Group, prefix: str = "waypoint") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        out.extend(_commands(cmd, f"{prefix} {name}") if isinstance(cmd, click.Group) else [f"{prefix} {name}"])
    return out


def test_every_command_and_option_is_documented() -> None:
    commands = _commands(cli)
    assert len(commands) == 13
    for command in commands:
        assert f"`{command} " in DOC, command
    for option in ("--json", "--import", "WAYPOINT_URL", "WAYPOINT_AES_KEY", "--dry-run", "--force", "--keep-last", "--older-than", "--metadata"):
        assert option in DOC, option


def test_the_format_section_names_every_record_type() -> None:
    for record in ('"type": "thread"', '"type": "blob"', '"type": "checkpoint"', '"type": "writes"', '"type": "item"', '{"sha256": HEX}'):
        assert record in DOC, record
