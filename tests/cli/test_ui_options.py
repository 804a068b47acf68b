"""``waypoint ui`` refuses bad options with one clear line, before serving anything."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import fail


def test_ui_option_errors(sqlite_db: str, tmp_path: Path) -> None:
    line = fail("ui", "--allow-writes", url=sqlite_db)
    assert "--allow-writes needs --graph MODULE:ATTR" in line
    assert "--graph expects MODULE:ATTR" in fail("ui", "--graph", "nocolon", url=sqlite_db)
    assert "cannot import module 'no_such_mod_xyz'" in fail("ui", "--graph", "no_such_mod_xyz:g", url=sqlite_db)
    assert "has no attribute 'nope'" in fail("ui", "--graph", "tests.ui._graphs:nope", url=sqlite_db)
    assert "no such SQLite database file" in fail("ui", url=f"sqlite:///{tmp_path / 'missing.db'}")
