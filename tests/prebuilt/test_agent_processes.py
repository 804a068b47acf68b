"""An agent paused for approval in one process is resumed by another: the pause, the pending
tool calls and the conversation live in the database (SQLite file, PostgreSQL database)."""

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.backends._postgres import PLAIN_URL, fresh_database

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = '''
import sys
sys.path.insert(0, {root!r})
from tests.prebuilt._models import ScriptedChatModel, ai, call
from waypoint.prebuilt import create_react_agent
{saver_import}

def refund(order: int) -> str:
    """Refund an order."""
    with open({log!r}, "a") as log:
        log.write(f"refund {{order}}\\n")
    return f"refunded {{order}}"

model = ScriptedChatModel(script=[ai("", call("refund", {{"order": 7}}, "r1"), id="a1"), ai("Done.", id="a2")])
if sys.argv[1] == "resume":
    model.calls = 1  # the first answer was given in the first process
config = {{"configurable": {{"thread_id": "refunds"}}}}
with {saver_open} as saver:
    {setup}
    agent = create_react_agent(model, [refund], checkpointer=saver, interrupt_before=["tools"])
    if sys.argv[1] == "start":
        agent.invoke({{"messages": [("user", "refund order 7")]}}, config)
    else:
        assert agent.get_state(config).next == ("tools",)
        agent.invoke(None, config)
    state = agent.get_state(config)
    print(sys.argv[1], state.next, [m.content for m in state.values["messages"]])
'''


def run(tmp_path: Path, saver_import: str, saver_open: str, setup: str, step: str) -> str:
    code = PROGRAM.format(root=str(ROOT), log=str(tmp_path / "refunds.log"), saver_import=saver_import,
                          saver_open=saver_open, setup=setup)
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script), step], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def check(tmp_path: Path, *saver: str) -> None:
    assert run(tmp_path, *saver, "start") == "start ('tools',) ['refund order 7', '']"
    assert not (tmp_path / "refunds.log").exists()  # nothing ran before approval
    assert run(tmp_path, *saver, "resume") == "resume () ['refund order 7', '', 'refunded 7', 'Done.']"
    assert (tmp_path / "refunds.log").read_text() == "refund 7\n"  # ran once, in the second process


def test_sqlite(tmp_path: Path) -> None:
    db = str(tmp_path / "agent.db")
    check(tmp_path, "from waypoint.checkpoint.sqlite import SqliteSaver",
          f"SqliteSaver.from_conn_string({db!r})", "saver.setup()")


def test_postgres(tmp_path: Path) -> None:
    with fresh_database(PLAIN_URL, "wp_agent") as url:
        check(tmp_path, "from waypoint.checkpoint.postgres import PostgresSaver",
              f"PostgresSaver.from_conn_string({url!r})", "saver.setup()")


def test_mongodb(tmp_path: Path) -> None:
    from pymongo import MongoClient

    from tests.backends._mongo_server import mongo_uri, new_db_name

    uri, db = mongo_uri(), new_db_name()
    try:
        check(tmp_path, "from waypoint.checkpoint.mongodb import MongoDBSaver",
              f"MongoDBSaver.from_conn_string({uri!r}, db_name={db!r})", "pass")
    finally:
        with MongoClient(uri) as client:
            client.drop_database(db)
