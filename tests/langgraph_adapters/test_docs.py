"""The Python examples of docs/langgraph-storage.md and docs/moving-from-langgraph.md run as
written, in order, in one temporary directory (later blocks read what earlier ones wrote)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["langgraph-storage.md", "moving-from-langgraph.md"]


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, tmp_path: Path) -> None:
    path = ROOT / "docs" / page
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert blocks, f"{page} has no python examples"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    for i, code in enumerate(blocks):
        script = tmp_path / f"block_{i}.py"
        script.write_text(code)
        proc = subprocess.run([sys.executable, "-W", "ignore", str(script)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{page} block {i} failed:\n{proc.stderr[-3000:]}"
