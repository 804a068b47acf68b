"""The code blocks of docs/checkpoints.md, docs/human-in-the-loop.md and docs/langchain.md run
as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("page", ["checkpoints.md", "human-in-the-loop.md", "langchain.md"])
def test_doc_examples_run(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{page} has no python examples"
    module = types.ModuleType(f"docs_{page.replace('-', '_').replace('.', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look their module up
    namespace = module.__dict__
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[{i}]", "exec"), namespace)
