"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python examples"
    for i, code in enumerate(blocks):
        script = tmp_path / f"block{i}.py"
        script.write_text(code)
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"README block {i} failed:\n{proc.stderr}"
    assert "'bar': ['a', 'b']" in proc.stdout


def test_quickstart_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "WAYPOINT_DEMO_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"database file: {tmp_path / 'demo.db'}" in out
    assert "dumplings" in out.splitlines()[2]  # the memory search found the food fact
    assert "paused for approval" in out and "status='approved'" in out
    assert "step -1  source=input" in out
    assert "fork from step 1: status='rejected'" in out
    assert f"waypoint --url sqlite:///{tmp_path / 'demo.db'} ui" in out  # make demo prints the ui line
    assert (tmp_path / "demo.db").exists()
