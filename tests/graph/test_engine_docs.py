"""The code blocks of the engine feature pages (docs/caching.md, docs/graphs.md) run as
written, in order, in one namespace."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md") if p.name in {"caching.md", "graphs.md"})


@pytest.mark.parametrize("page", PAGES)
def test_engine_doc_examples_run(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{page} has no python examples"
    module = types.ModuleType(f"docs_{page.replace('-', '_').replace('.', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[{i}]", "exec"), namespace)
