"""Thread leases of the MongoDB savers, one ``findAndModify`` each.

One document per thread in ``<prefix>checkpoint_leases`` (``_id`` the thread's key): ``token``,
``holder``, ``expires_at`` in Unix milliseconds of the server's clock (``$$NOW``). Acquiring is
one update pipeline that takes the lease only when it is free (expired, released or the same
holder) and marks the attempt with a fresh ``claim`` id, so the returned document says whether
this attempt won. The fence (``fence``) is a conditional update on the token, run inside the
write's transaction: a takeover and a stale write then conflict on the lease document and only
one commits. Without transactions (a standalone server) the fence runs just before the write.
"""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import UpdateOne

from waypoint._ops import Op
from waypoint.checkpoint.base.lease import Lease, busy, lost
from waypoint.checkpoint.mongodb._docs import T, key
from waypoint.checkpoint.mongodb._exec import Bulk, Find, Modify
from waypoint.errors import StorageError

NOW_MS = {"$toLong": "$$NOW"}
_ATTEMPTS = 4  # concurrent first acquisitions of a thread race on the upsert's _id


def acquire(ctx: Any, thread_id: str, holder: str, ttl: float) -> Op[Lease]:
    """Take the lease (a new token) or raise ThreadBusyError naming its expiry."""
    thread_id, claim = str(thread_id), uuid.uuid4().hex
    free = {"$or": [{"$lte": [{"$ifNull": ["$expires_at", 0]}, NOW_MS]}, {"$eq": ["$holder", holder]}]}
    token = {"$max": [{"$add": [{"$ifNull": ["$token", 0]}, 1]}, {"$multiply": [NOW_MS, 1000]}]}

    def pick(new: Any, field: str) -> Any:
        return {"$cond": [free, new, f"${field}"]}

    update = [{"$set": {
        T: thread_id,
        "token": pick(token, "token"),
        "holder": pick(holder, "holder"),
        "claim": pick(claim, "claim"),
        "expires_at": pick({"$add": [NOW_MS, int(ttl * 1000)]}, "expires_at"),
        "checked_at": NOW_MS,
    }}]
    for attempt in range(_ATTEMPTS):
        try:
            doc = yield Modify(ctx.names.leases, {"_id": key(thread_id)}, update, upsert=True)
            break
        except StorageError as exc:
            if "duplicate key" not in str(exc).lower() or attempt + 1 == _ATTEMPTS:
                raise
    if doc.get("claim") == claim:
        return Lease(thread_id, int(doc["token"]), holder, float(ttl), doc["expires_at"] / 1000)
    raise busy(thread_id, doc.get("holder"), doc["expires_at"] / 1000, doc["checked_at"] / 1000)


def fence(ctx: Any, lease: Lease) -> Op[Lease]:
    """Refuse the enclosing write with LeaseLostError unless ``lease`` is current; renew it."""
    renew = [{"$set": {"expires_at": {"$add": [NOW_MS, int(lease.ttl * 1000)]}}}]
    doc = yield Modify(ctx.names.leases, {"_id": key(lease.thread_id), "token": lease.token}, renew)
    if doc is None:
        rows = yield Find(ctx.names.leases, {"_id": key(lease.thread_id)})
        raise lost(lease, *((rows[0].get("token"), rows[0].get("holder")) if rows else ()))
    return lease._replace(expires_at=doc["expires_at"] / 1000)


def release(ctx: Any, lease: Lease) -> Op[None]:
    """Free the lease now; a stale token changes nothing."""
    op = UpdateOne({"_id": key(lease.thread_id), "token": lease.token}, {"$set": {"expires_at": 0}})
    yield Bulk(ctx.names.leases, [op])


__all__ = ["acquire", "fence", "release"]
