"""Installable by name: the wheel built from this tree installs into a fresh virtual environment
with the ``[sqlite]`` extra, and the quickstart runs from a directory outside the repository, so it
imports the installed copy (not ``src/``). The ``waypoint`` console script is installed.

Needs the package index pip is configured with (hatchling to build, the dependencies to install):
marked ``network``. pip's own cache makes a second run fast. Everything is made in one temporary
directory, removed at the end, and the source tree is left as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _tree_state() -> str:
    """What git sees in the source tree, ignored files included (build leftovers would show)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                         cwd=ROOT, capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if "__pycache__" not in line and ".pytest_cache" not in line)


def _project_name() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])


def test_wheel_installs_by_name_and_runs_the_quickstart() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to check the tree stays clean")
    before = _tree_state()
    name = _project_name()
    with tempfile.TemporaryDirectory(prefix="waypoint-wheel-") as tmp:
        work = Path(tmp)
        # pip copies nothing into the tree: hatchling builds from it into work/dist
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT, cwd=work)
        [wheel] = list((work / "dist").glob("*.whl"))
        assert wheel.name.startswith(name.replace("-", "_") + "-")
        _run(sys.executable, "-m", "venv", "--without-pip", work / "venv", cwd=work)
        py = work / "venv" / "bin" / "python"
        _run(sys.executable, "-m", "pip", "--python", py, "install", "-q", f"{name}[sqlite] @ {wheel.as_uri()}", cwd=work)

        example = work / "run" / "quickstart.py"
        example.parent.mkdir()
        shutil.copy(ROOT / "examples" / "quickstart.py", example)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WAYPOINT_URL")}
        env["WAYPOINT_DEMO_DIR"] = str(work / "demo")
        (work / "demo").mkdir()
        where = _run(py, "-c", "import waypoint; print(waypoint.__file__)", cwd=example.parent, env=env)
        assert Path(where.strip()).is_relative_to(work / "venv"), where
        out = _run(py, example, cwd=example.parent, env=env)
        assert "paused for approval" in out and "resumed -> status='approved'" in out, out
        script = (work / "venv" / "bin" / "waypoint").read_text()  # the console script, by its name
        assert "from waypoint.cli import main" in script, script
    assert not Path(tmp).exists()
    assert _tree_state() == before
