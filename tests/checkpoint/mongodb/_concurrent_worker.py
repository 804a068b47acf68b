"""One writer process of the concurrency test: ``THREADS`` Python threads, each writing its own
conversation through one shared sync saver; prints what it wrote as JSON on stdout.

Run as ``python -m tests.checkpoint.mongodb._concurrent_worker URI DB PROCESS THREADS TURNS``.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

from pymongo import MongoClient

from tests.checkpoint.mongodb.helpers import Conversation
from waypoint.checkpoint.mongodb import MongoDBSaver


def main() -> None:
    uri, db_name, process, threads, turns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    with MongoClient(uri, maxPoolSize=threads + 5) as client:
        saver = MongoDBSaver(client, db_name)

        def write(i: int) -> tuple[str, list[str]]:
            conv = Conversation(saver, f"p{process}-t{i}")
            ids = []
            for n in range(turns):
                config = conv.turn(run_id=f"run-p{process}")
                saver.put_writes(config, [("messages", {"n": n}), ("turn", n)], f"task-{n}")
                ids.append(config["configurable"]["checkpoint_id"])
            return conv.config["configurable"]["thread_id"], ids

        with ThreadPoolExecutor(threads) as pool:
            written = dict(pool.map(write, range(threads)))
    json.dump(written, sys.stdout)


if __name__ == "__main__":
    main()
