"""The Python examples of docs/backends/memory.md run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_memory_page_examples_run(tmp_path: Path) -> None:
    found = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "backends" / "memory.md").read_text(), flags=re.S)
    assert found
    for i, code in enumerate(found):
        script = tmp_path / f"memory_{i}.py"
        script.write_text(code)
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        assert proc.returncode == 0, proc.stderr[-3000:]
