"""The examples of docs/functional.md run as written, in order, in one namespace."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "functional.md"


def test_functional_doc_examples_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8, "docs/functional.md lost its examples"
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("docs_functional_md")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look their module up
    for i, block in enumerate(blocks):
        exec(compile(block, f"functional.md[{i}]", "exec"), module.__dict__)
