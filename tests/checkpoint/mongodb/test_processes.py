"""A graph interrupted in one process resumes from MongoDB in a second process."""

from __future__ import annotations

from pathlib import Path

from pymongo import MongoClient

from tests.backends._mongo_server import mongo_uri, new_db_name
from tests.checkpoint.sqlite.test_processes import check_interrupt_then_resume


def test_interrupted_graph_resumes_in_a_second_process(tmp_path: Path) -> None:
    uri = mongo_uri()
    db_name = new_db_name()
    try:
        check_interrupt_then_resume(tmp_path, "mongodb", f"{uri}#{db_name}")
    finally:
        with MongoClient(uri) as client:
            client.drop_database(db_name)
