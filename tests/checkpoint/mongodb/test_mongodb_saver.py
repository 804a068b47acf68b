"""MongoDB-specific behaviour: corruption, filter safety, transactions, crash safety, the
sync-on-loop guard, setup and garbage collection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bson import Binary

from tests.backends.mongodb_saver import mongodb_sync_saver
from tests.checkpoint.mongodb.conftest import Recording
from tests.checkpoint.mongodb.helpers import Conversation
from waypoint._ops import stream
from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.mongodb import MongoDBSaver, _core, _write
from waypoint.checkpoint.mongodb._exec import Bulk, Find, Open, SyncExecutor, Txn
from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver
from waypoint.errors import (
    CorruptCheckpointError,
    InvalidFilterError,
    SetupError,
    StorageError,
    SyncOnEventLoopError,
)

PAGE_TURNS = 40  # 80 messages: the next append rewrites a partial second page


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


async def test_corrupt_blob_names_thread_checkpoint_and_channel(saver: Any) -> None:
    conv = Conversation(saver, "t")
    for _ in range(3):
        conf = conv.turn()
    cid = conf["configurable"]["checkpoint_id"]
    blobs = saver.db[saver._ctx.names.blobs]
    blobs.update_one({"channel": "turn", "version": conv.versions["turn"]},
                     {"$set": {"type": "msgpack", "value": Binary(b"\xc1\xc1 not msgpack")}})
    with pytest.raises(CorruptCheckpointError) as err:
        saver.get_tuple(cfg("t"))
    assert (err.value.thread_id, err.value.checkpoint_id, err.value.channel) == ("t", cid, "turn")
    assert "'t'" in str(err.value) and cid in str(err.value) and "'turn'" in str(err.value)
    # a missing blob or log page is reported the same way, never as a partial state
    blobs.delete_one({"channel": "turn", "version": conv.versions["turn"]})
    with pytest.raises(CorruptCheckpointError, match="turn"):
        saver.get_tuple(cfg("t"))
    conv2 = Conversation(saver, "t2")
    conf2 = conv2.turn()
    saver.db[saver._ctx.names.pages].delete_many({"thread_id": "t2"})
    with pytest.raises(CorruptCheckpointError) as err:
        saver.get_tuple(conf2)
    assert err.value.channel == "messages" and "page 0" in str(err.value)
    saver.db[saver._ctx.names.checkpoints].update_one({"thread_id": "t2"}, {"$set": {"checkpoint": Binary(b"junk")}})
    with pytest.raises(CorruptCheckpointError) as err:
        saver.get_tuple(conf2)
    assert err.value.checkpoint_id == conf2["configurable"]["checkpoint_id"] and err.value.channel is None


@pytest.mark.parametrize("bad", [{"$where": "sleep(10000) || true"}, {"a.b": 1}, {"$or": [{}]}, {"": 1}, {"a\x00": 1}])
async def test_filter_injection_is_refused_before_any_query(saver: Any, bad: dict[str, Any]) -> None:
    Conversation(saver, "t").turn(user="u1")
    for config in (cfg("t"), None):
        with SyncExecutor(saver.client, saver.db) as ex:
            rec = Recording(ex)
            with pytest.raises(InvalidFilterError, match="metadata filter key"):
                list(stream(_core.list_checkpoints(saver._ctx, config, bad, None, None), rec))
        assert rec.requests == []  # refused before anything reached the server
    with pytest.raises(ValueError):
        list(saver.list(None, filter=bad))


async def test_operator_shaped_values_match_literally(saver: Any) -> None:
    conv = Conversation(saver, "t")
    conv.turn(user="u1", tag={"k": "v", "n": 1})
    conv.turn(user={"$ne": "x"}, tag={"n": 1, "k": "v"})
    ids = lambda xs: [x.metadata["step"] for x in xs]  # noqa: E731
    assert ids(saver.list(cfg("t"), filter={"user": {"$ne": "x"}})) == [1]
    assert ids(saver.list(cfg("t"), filter={"user": {"$ne": "zzz"}})) == []
    assert ids(saver.list(cfg("t"), filter={"tag": {"n": 1, "k": "v"}})) == [1, 0]  # key order is irrelevant
    assert ids(saver.list(cfg("t"), filter={"tag": {"k": "v"}})) == []  # dicts match exactly
    assert ids(saver.list(cfg("t"), filter={"step": 1.0, "source": "loop"})) == [1]


async def test_metadata_filter_and_latest_use_indexes(saver: Any, recorded: Any) -> None:
    conv = Conversation(saver, "t")
    for i in range(30):
        conv.turn(parity=i % 2)
    with SyncExecutor(saver.client, saver.db) as ex:
        rec = Recording(ex)
        got = list(stream(_core.list_checkpoints(saver._ctx, cfg("t"), {"parity": 1}, None, 3), rec))
    assert [x.metadata["parity"] for x in got] == [1, 1, 1]
    query = next(r for r in rec.requests if isinstance(r, Open))
    plan = str(saver.db[query.coll].find(query.filter).sort(query.sort).limit(3).explain())
    assert "wp_thread_metadata" in plan
    # paging reads one small batch, never the whole history
    _, rec = recorded(_core.get_tuple(saver._ctx, cfg("t")))
    assert rec.docs <= 6
    with SyncExecutor(saver.client, saver.db) as ex:
        rec = Recording(ex)
        page = list(stream(_core.list_checkpoints(saver._ctx, cfg("t"), None, None, 5), rec))
    assert len(page) == 5 and sum(1 for r in rec.requests if isinstance(r, Open)) == 1
    assert rec.docs < 5 + 16  # checkpoints of the page + their blobs/pages, not 30 checkpoints


async def test_put_runs_in_a_transaction_when_supported(saver: Any, recorded: Any) -> None:
    hello = saver.client.admin.command("hello")
    supported = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
    assert saver._ctx.transactions is supported
    conv = Conversation(saver, "t")
    conv.turn()
    cp = empty_checkpoint()
    cp["channel_versions"] = dict(conv.versions)
    cp["channel_values"] = dict(conv.values)
    _, rec = recorded(_write.put(saver._ctx, conv.config, cp, {"source": "loop", "step": 1}, {}))
    actions = [r.action for r in rec.requests if isinstance(r, Txn)]
    assert actions == (["begin", "commit"] if supported else [])
    writes = [r.coll for r in rec.requests if isinstance(r, Bulk)]
    assert writes[-2:] == [saver._ctx.names.checkpoints, saver._ctx.names.heads]  # the checkpoint last


@pytest.mark.parametrize("transactions", [True, False])
async def test_a_crash_mid_put_leaves_the_last_checkpoint_readable(transactions: bool) -> None:
    async with mongodb_sync_saver(transactions=transactions) as saver:
        hello = saver.client.admin.command("hello")
        if transactions and not (hello.get("setName") or hello.get("msg") == "isdbgrid"):
            pytest.skip("this MongoDB deployment is standalone: no transactions")
        conv = Conversation(saver, "t")
        for _ in range(PAGE_TURNS):
            conv.turn()
        before = saver.get_tuple(cfg("t"))
        messages = conv.messages + [conv.message("user", 99), conv.message("ai", 99)]

        for crash_after in range(1, 9):
            cp = empty_checkpoint()
            version = saver.get_next_version(conv.versions["messages"])
            cp["channel_versions"] = {**conv.versions, "messages": version}
            cp["channel_values"] = {**conv.values, "messages": messages}
            cp["channel_logs"] = {"messages": LogHint(conv.versions["messages"], len(conv.messages))}
            op = _write.put(saver._ctx, conv.config, cp, {"source": "loop", "step": 99}, {"messages": version})
            with SyncExecutor(saver.client, saver.db) as ex:  # a process dying: the op just stops
                request = next(op)
                for _ in range(crash_after):
                    request = op.send(ex(request))
                op.close()
            after = saver.get_tuple(cfg("t"))
            if after.config == before.config:
                assert after.checkpoint["channel_values"] == before.checkpoint["channel_values"]
            else:  # the crash came after the checkpoint was committed: it is whole
                assert after.checkpoint["channel_values"]["messages"] == messages
            for tup in saver.list(cfg("t")):  # every stored checkpoint stays readable
                assert len(tup.checkpoint["channel_values"]["messages"]) % 2 == 0
        conv.config = before.config
        conv.turn()  # appending after the crashes still works
        assert saver.get_tuple(cfg("t")).checkpoint["channel_values"]["messages"] == conv.messages


async def test_sync_face_on_the_loop_thread_refuses(asaver: AsyncMongoDBSaver) -> None:
    await asaver.aput(cfg("t"), empty_checkpoint(), {"source": "input", "step": -1}, {})
    with pytest.raises(SyncOnEventLoopError, match="aget_tuple"):
        asaver.get_tuple(cfg("t"))
    with pytest.raises(SyncOnEventLoopError):
        list(asaver.list(cfg("t")))
    with pytest.raises(SyncOnEventLoopError, match="aput"):
        asaver.put(cfg("t"), empty_checkpoint(), {}, {})
    with pytest.raises(SyncOnEventLoopError):
        asaver.prune(["t"])
    got = await asyncio.to_thread(asaver.get_tuple, cfg("t"))  # from another thread it waits
    assert got is not None and len(await asyncio.to_thread(lambda: list(asaver.list(cfg("t"))))) == 1


async def test_setup_is_idempotent_and_refuses_a_newer_schema(saver: Any) -> None:
    saver.setup()
    saver.setup()
    names = saver._ctx.names
    assert [m["_id"] for m in saver.db[names.migrations].find()] == [1, 2]
    indexes = {ix["name"]: ix for ix in saver.db[names.checkpoints].list_indexes()}
    assert indexes["wp_thread_ns_id"]["unique"] and "wp_thread_metadata" in indexes and "wp_recent" in indexes
    assert "wp_head_recent" in {ix["name"] for ix in saver.db[names.heads].list_indexes()}
    for coll in names.thread_scoped():
        assert any(ix.get("unique") for ix in saver.db[coll].list_indexes() if ix["name"] != "_id_"), coll
    saver.db[names.migrations].insert_one({"_id": 99})
    with pytest.raises(SetupError, match="99"):
        saver.setup()


async def test_from_conn_string_sync_and_async() -> None:
    from tests.backends._mongo_server import mongo_uri, new_db_name

    uri, name = mongo_uri(), new_db_name()
    try:
        with MongoDBSaver.from_conn_string(uri, db_name=name) as s:
            s.put(cfg("t"), empty_checkpoint(), {"source": "input", "step": -1}, {})
        async with AsyncMongoDBSaver.from_conn_string(uri, db_name=name) as a:
            assert (await a.aget_tuple(cfg("t"))).metadata["source"] == "input"
            assert len([x async for x in a.alist(None)]) == 1
    finally:
        from pymongo import MongoClient

        with MongoClient(uri) as c:
            c.drop_database(name)


async def test_a_stale_or_missing_head_never_hides_the_latest(saver: Any) -> None:
    conv = Conversation(saver, "t")
    configs = [conv.turn() for _ in range(5)]
    heads = saver.db[saver._ctx.names.heads]
    for change in ({"checkpoint_id": configs[1]["configurable"]["checkpoint_id"]}, {"checkpoint_id": "~"}):
        heads.update_one({"thread_id": "t"}, {"$set": change})
        assert saver.get_tuple(cfg("t")).config == configs[-1]
    heads.delete_many({})
    assert saver.get_tuple(cfg("t")).config == configs[-1]


async def test_prune_and_delete_for_runs_collect_garbage(saver: Any) -> None:
    conv = Conversation(saver, "t")
    for i in range(150):
        conv.turn(run_id=f"run-{i // 100}")
    names = saver._ctx.names
    count = lambda coll, t="t": saver.db[coll].count_documents({"thread_id": t})  # noqa: E731
    saver.prune(["t"])
    assert count(names.checkpoints) == 1 and count(names.blobs) == 2
    assert count(names.pages) == 5 and count(names.lineages) == 1
    assert saver.get_tuple(cfg("t")).checkpoint["channel_values"]["messages"] == conv.messages
    other = Conversation(saver, "o")
    for _ in range(3):
        other.turn(run_id="gone")
    saver.delete_for_runs(["gone"])
    assert all(count(c, "o") == 0 for c in names.thread_scoped())
    assert saver.get_tuple(cfg("o")) is None


async def test_oversized_value_is_a_storage_error(saver: Any) -> None:
    cp = empty_checkpoint()
    cp["channel_values"] = {"huge": "x" * (17 * 1024 * 1024)}
    cp["channel_versions"] = {"huge": "1"}
    with pytest.raises(StorageError, match="16 MB"):
        saver.put(cfg("t"), cp, {}, {"huge": "1"})
    assert saver.get_tuple(cfg("t")) is None  # nothing half-written is visible


async def test_find_requests_are_plain_data(saver: Any) -> None:
    """Operations yield inspectable requests and do no I/O themselves."""
    op = _core.get_tuple(saver._ctx, cfg("t"))
    first = next(op)
    assert isinstance(first, Find) and first.coll == saver._ctx.names.heads
    op.close()


@pytest.mark.parametrize("transactions", [True, False])
async def test_racing_forks_of_one_version_each_keep_their_own_value(transactions: bool) -> None:
    async with mongodb_sync_saver(transactions=transactions) as saver:
        hello = saver.client.admin.command("hello")
        if transactions and not (hello.get("setName") or hello.get("msg") == "isdbgrid"):
            pytest.skip("this MongoDB deployment is standalone: no transactions")
        conv = Conversation(saver, "t")
        for _ in range(40):
            conv.turn()
        base_config, base_versions, base = conv.config, dict(conv.versions), list(conv.messages)

        def fork(i: int) -> tuple[dict[str, Any], list[Any]]:
            value = base + [{"fork": i, "k": k} for k in range(i % 3 + 1)]
            cp = empty_checkpoint()
            version = saver.get_next_version(base_versions["messages"])
            cp["channel_versions"] = {**base_versions, "messages": version}
            cp["channel_values"] = {"messages": value, "turn": conv.values["turn"]}
            cp["channel_logs"] = {"messages": LogHint(base_versions["messages"], len(base))}
            return saver.put(base_config, cp, {"source": "fork", "step": 40}, {"messages": version}), value

        results = await asyncio.gather(*(asyncio.to_thread(fork, i) for i in range(8)))
        for config, value in results:
            assert saver.get_tuple(config).checkpoint["channel_values"]["messages"] == value
        assert saver.get_tuple(base_config).checkpoint["channel_values"]["messages"] == base


async def test_copy_survives_deleting_the_source(saver: Any) -> None:
    conv = Conversation(saver, "src")
    for _ in range(70):
        conv.turn()
    saver.put_writes(conv.config, [("turn", 1)], "task")
    saver.copy_thread("src", "dst")
    saver.delete_thread("src")
    assert saver.get_tuple(cfg("src")) is None
    got = saver.get_tuple(cfg("dst"))
    assert got.checkpoint["channel_values"]["messages"] == conv.messages
    assert got.pending_writes == [("task", "turn", 1)]
    assert len(list(saver.list(cfg("dst")))) == 70
