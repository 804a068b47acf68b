"""The code blocks of docs/checkpoints.md and docs/human-in-the-loop.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("page", ["checkpoints.md", "human-in-the-loop.md"])
def test_doc_examples_run(page: str) -> None:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{page} has no python examples"
    namespace: dict = {"__name__": f"docs_{page.replace('-', '_').replace('.', '_')}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[{i}]", "exec"), namespace)
