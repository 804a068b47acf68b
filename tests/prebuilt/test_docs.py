"""The code blocks of docs/prebuilt.md run as written, in order, in one namespace."""

import re
import sys
import types
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "prebuilt.md"


def test_prebuilt_page_examples_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 4
    module = types.ModuleType("docs_prebuilt_md")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # pydantic models look their module up
    monkeypatch.chdir(tmp_path)
    for i, block in enumerate(blocks):
        exec(compile(block, f"prebuilt.md[{i}]", "exec"), module.__dict__)
