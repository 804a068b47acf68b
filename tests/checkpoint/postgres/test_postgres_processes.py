"""A graph interrupted in one process resumes from PostgreSQL in a second process."""

from __future__ import annotations

from pathlib import Path

from tests.backends.postgres_saver import fresh_database
from tests.checkpoint.sqlite.test_processes import check_interrupt_then_resume


def test_interrupted_graph_resumes_in_a_second_process(tmp_path: Path) -> None:
    with fresh_database() as url:
        check_interrupt_then_resume(tmp_path, "postgres", url)
