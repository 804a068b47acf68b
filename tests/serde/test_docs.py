"""The examples in docs/serialization.md run as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "serialization.md"


def test_serialization_doc_examples_run(capsys) -> None:  # type: ignore[no-untyped-def]
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        # Run each block as a real module, as a script would: loading finds classes by module.
        module = types.ModuleType(f"waypoint_serialization_doc_{i}")
        sys.modules[module.__name__] = module
        try:
            exec(compile(block, str(DOC), "exec"), module.__dict__)
        finally:
            del sys.modules[module.__name__]
    assert "cannot serialize object of type function" in capsys.readouterr().out
