"""docs/ui.md: its Python example runs, and every screenshot it shows exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ui.md").read_text()


def test_python_example_runs(tmp_path: Path) -> None:
    [code] = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    script = tmp_path / "example.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_screenshots_exist() -> None:
    shots = re.findall(r"\(img/(ui-[a-z]+\.png)\)", DOC)
    assert {"ui-threads.png", "ui-thread.png", "ui-checkpoint.png", "ui-diff.png", "ui-store.png"} <= set(shots)
    for name in shots:
        assert (ROOT / "docs" / "img" / name).stat().st_size > 10_000, name
