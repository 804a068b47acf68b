"""Encrypted values are sealed to their place (issue 19 #3), on every saver a database writer
can reach (SQLite, PostgreSQL, MongoDB; sync and async faces).

A database writer without the key substitutes the stored bytes of one place with those of
another: :class:`Substituting` plays that writer, handing the saver another place's stored
ciphertext to write (the saver writes it to the real database as it would write any bytes).
The in-memory saver, which only your own process can write, does not bind places.
"""

from __future__ import annotations

import dataclasses
import operator
import os
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.base import empty_checkpoint
from waypoint.checkpoint.serde.encrypted import BOUND_SUFFIX, EncryptedSerializer
from waypoint.errors import CorruptCheckpointError, EncryptedPlacementError

KEY = os.urandom(32)


class Substituting(EncryptedSerializer):
    """Records what it seals at each place; at a place in ``substitute`` it hands back the
    recorded ciphertext of another place instead (the attacker's copy)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(key=KEY, **kwargs)
        self.sealed: dict[tuple[str, ...], tuple[str, bytes]] = {}
        self.substitute: dict[tuple[str, ...], tuple[str, ...]] = {}

    def dumps_typed(self, obj: Any, place: Any = None) -> tuple[str, bytes]:
        if place is not None and tuple(place) in self.substitute:
            return self.sealed[self.substitute[tuple(place)]]
        out = super().dumps_typed(obj, place)
        if place is not None:
            self.sealed[tuple(place)] = out
        return out


class Unbound(EncryptedSerializer):
    """Writes the format of waypoint before binding: ``+aes`` without a place."""

    binds_place = False


def install(saver: Any, serde: Any) -> None:
    saver.serde = serde
    if hasattr(saver, "_ctx"):  # MongoDB savers keep theirs in the operation context
        saver._ctx = dataclasses.replace(saver._ctx, serde=serde)


@pytest.fixture
def sealing_saver(saver: Any) -> Any:
    if type(saver).__name__ == "InMemorySaver":
        pytest.skip("the in-memory saver is not a database others can write; it binds nothing")
    return saver


def cfg(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


PAD = "." * 2000  # past the inline limit: the value is a blob row of its own, not in the checkpoint row


def checkpoint(cid: str, secret: str, version: int = 1, pad: str = PAD) -> Any:
    cp = empty_checkpoint()
    cp["id"] = cid
    cp["channel_values"] = {"secret": secret + pad}
    cp["channel_versions"] = {"secret": version}
    return cp


CID_V, CID_A = "1f0a0000-0000-6000-8000-000000000001", "1f0a0000-0000-6000-8000-000000000002"


async def _victim(api: Any, saver: Any, serde: Substituting, pad: str = PAD) -> None:
    install(saver, serde)
    await api.call(saver, "put", cfg("victim"), checkpoint(CID_V, "victim-secret", pad=pad), {"who": "victim"}, {"secret": 1})
    await api.call(saver, "put_writes", cfg("victim", CID_V), [("secret", "victim-write")], "task-1")


@pytest.mark.parametrize("what", ["blob", "write", "checkpoint"])
async def test_a_moved_ciphertext_is_refused_naming_its_expected_place(sealing_saver, api, what):
    saver, serde = sealing_saver, Substituting()
    pad = "" if what == "checkpoint" else PAD  # a short value is kept inside the checkpoint row
    await _victim(api, saver, serde, pad)
    got = await api.call(saver, "get_tuple", cfg("victim"))
    assert got.checkpoint["channel_values"] == {"secret": "victim-secret" + pad}
    assert got.pending_writes == [("task-1", "secret", "victim-write")]
    cid = CID_V if what == "checkpoint" else CID_A  # a checkpoint row copied with its id
    places = {
        "blob": (("blob", "attacker", "", "secret", "1"), ("blob", "victim", "", "secret", "1")),
        "write": (("write", "attacker", "", cid, "task-1", "0"), ("write", "victim", "", CID_V, "task-1", "0")),
        "checkpoint": (("checkpoint", "attacker", "", cid), ("checkpoint", "victim", "", CID_V)),
    }
    target, source = places[what]
    serde.substitute[target] = source
    await api.call(saver, "put", cfg("attacker"), checkpoint(cid, "mine", pad=pad), {"who": "attacker"}, {"secret": 1})
    await api.call(saver, "put_writes", cfg("attacker", cid), [("secret", "my-write")], "task-1")
    with pytest.raises(CorruptCheckpointError) as info:
        await api.call(saver, "get_tuple", cfg("attacker"))
    text = str(info.value)
    assert "sealed for another place" in text, text
    causes, exc = [], info.value
    while exc is not None:
        causes.append(type(exc))
        exc = exc.__cause__
    assert EncryptedPlacementError in causes, causes
    assert f"{what} thread_id='attacker'" in text, text
    assert "victim-secret" not in text and "victim-write" not in text
    # the victim's own thread is untouched and still reads
    again = await api.call(saver, "get_tuple", cfg("victim"))
    assert again.checkpoint["channel_values"] == {"secret": "victim-secret" + pad}


async def test_rows_written_before_binding_stay_readable(sealing_saver, api):
    saver = sealing_saver
    install(saver, Unbound(key=KEY))
    await api.call(saver, "put", cfg("old"), checkpoint(CID_V, "old-secret"), {"n": (1, 2)}, {"secret": 1})
    await api.call(saver, "put_writes", cfg("old", CID_V), [("secret", "old-write")], "task-1")
    install(saver, EncryptedSerializer(key=KEY))
    got = await api.call(saver, "get_tuple", cfg("old"))
    assert got.checkpoint["channel_values"] == {"secret": "old-secret" + PAD}
    assert got.metadata["n"] == (1, 2)
    assert got.pending_writes == [("task-1", "secret", "old-write")]
    # new rows beside them are bound
    await api.call(saver, "put", cfg("old"), checkpoint(CID_A, "new-secret", 2), {}, {"secret": 2})
    newest = await api.call(saver, "get_tuple", cfg("old"))
    assert newest.checkpoint["channel_values"] == {"secret": "new-secret" + PAD}


class State(TypedDict):
    log: Annotated[list, operator.add]
    secret: str


def _graph(saver: Any) -> Any:
    from waypoint.graph import StateGraph

    g = StateGraph(State)
    g.add_node("step", lambda s: {"log": [f"turn-{len(s['log'])}"], "secret": "card-4111"})
    g.set_entry_point("step")
    g.set_finish_point("step")
    return g.compile(checkpointer=saver)


async def test_copy_thread_reseals_for_the_new_thread(sealing_saver, api):
    saver = sealing_saver
    install(saver, EncryptedSerializer(key=KEY))
    app = _graph(saver)
    for _ in range(4):
        if api.mode == "sync":
            import asyncio

            await asyncio.to_thread(app.invoke, {"log": ["x"], "secret": "s"}, cfg("src"))
        else:
            await app.ainvoke({"log": ["x"], "secret": "s"}, cfg("src"))
    before = [t.checkpoint["channel_values"] for t in await api.call(saver, "list", cfg("src"))]
    await api.call(saver, "copy_thread", "src", "dst")
    after = [t.checkpoint["channel_values"] for t in await api.call(saver, "list", cfg("dst"))]
    assert after == before and after[0]["secret"] == "card-4111" and len(after[0]["log"]) == 8
    # and the copy's values are sealed to the copy: sealing them back to "src" fails
    serde = saver.serde
    tag, data = serde.dumps_typed("v", ("blob", "dst", "", "c", "1"))
    assert tag.endswith(BOUND_SUFFIX)
    with pytest.raises(EncryptedPlacementError, match="blob thread_id='src'"):
        serde.loads_typed((tag, data), ("blob", "src", "", "c", "1"))
