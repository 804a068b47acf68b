"""The examples in docs/serialization.md and docs/security.md run as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def run_examples(doc: Path) -> int:
    """Run every ```python block of ``doc`` as its own module; return how many ran."""
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    for i, block in enumerate(blocks):
        # Run each block as a real module, as a script would: loading finds classes by module.
        module = types.ModuleType(f"waypoint_{doc.stem}_doc_{i}")
        sys.modules[module.__name__] = module
        try:
            exec(compile(block, str(doc), "exec"), module.__dict__)
        finally:
            del sys.modules[module.__name__]
    return len(blocks)


def test_serialization_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_examples(DOCS / "serialization.md") >= 2
    assert "cannot serialize object of type function" in capsys.readouterr().out


def test_security_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_examples(DOCS / "security.md") >= 3
    out = capsys.readouterr().out
    assert "refusing to load 'os.system'" in out
    assert "refusing to load pickle data" in out
    assert "inflates to more than 1048576 bytes" in out
    assert "at most one compression level" in out
