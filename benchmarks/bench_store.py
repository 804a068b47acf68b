"""Store: put, get, filtered search and vector search over items with 384-dim vectors.

Data (same for both libraries, fixed seeds): item ``i`` is ``{"text": "doc i", "category":
"c{i % 10}", "n": i}`` in namespace ``("bench", "docs")``, embedded (field ``text``) by a
function that looks up a precomputed vector by text. Two data sets:

- *uniform*: random standard-normal 384-dim vectors (no structure: the worst case for graph
  indexes). Queries are ``"q j"``, embedded as a random item's vector plus an equal amount of
  noise, so every query has one clear neighbour but the rest of the top-10 is noise-like.
- *clustered* (rows marked "clustered"): a mixture of 300 Gaussian clusters (sizes drawn from
  a Zipf law) in a 32-dim latent space, mapped to 384 dims plus isotropic noise: low intrinsic
  dimension and clear neighbourhoods, as sentence embeddings (top-1 cosine ~0.83, top-10 ~0.75,
  median pair ~0.0). Queries are fresh draws from the same mixture. Only the vector searches and
  their recall are reported for it (put, get and filter-only search do not depend on vectors).

Filters select one category (10% of items).

Per backend (in-memory; SQLite: one file, both libraries on a ``sqlean`` connection so sqlite-vec
can load; PostgreSQL: a fresh database per library on a pgvector 0.8 server, each library's
default index, which is HNSW for both):

- put: ``batch()`` of ``PUT_BATCH`` ``PutOp``s (embedding included); the data set is loaded in
  10 chunks with the libraries alternating per chunk, figure = median items/s over chunks;
- get: random keys, one ``get`` each; filtered search: ``search(filter=..., limit=10)`` without
  a query; vector search top-10 with and without a filter; each figure is operations per
  second, median of 5 alternating repeats;
- recall@10 of every vector search against exact cosine search in numpy over the same
  candidates (all items, or the filter's category).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks import _harness as h
from benchmarks._libs import mod

TITLE = "Store (384-dim vectors; throughput in operations per second, higher is better)"
KEYS = ("backend", "items", "operation", "waypoint", "langgraph", "ratio", "target", "met?")
DIMS = 384
NS = ("bench", "docs")
PUT_BATCH = 500
CHUNKS = 10
CATEGORIES = 10


def clustered(rng: np.random.Generator, n: int, queries: int, clusters: int = 300,
              latent: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Items and queries drawn from one Gaussian mixture (see the module docstring)."""
    mix = rng.standard_normal((latent, DIMS)).astype(np.float32) / np.sqrt(latent)
    centers = rng.standard_normal((clusters, latent)).astype(np.float32)
    sizes = rng.zipf(1.5, clusters).astype(float)
    weights = 0.5 * sizes / sizes.sum() + 0.5 / clusters

    def draw(m: int) -> np.ndarray:
        z = centers[rng.choice(clusters, m, p=weights)]
        z = z + 0.6 * rng.standard_normal((m, latent)).astype(np.float32)
        return (z @ mix + 0.25 * rng.standard_normal((m, DIMS)).astype(np.float32)).astype(np.float32)

    return draw(n), draw(queries)


class Data:
    def __init__(self, n: int, queries: int, seed: int = 7, kind: str = "uniform") -> None:
        rng = np.random.default_rng(seed)
        self.n, self.kind = n, kind
        if kind == "clustered":
            self.vectors, self.queries = clustered(np.random.default_rng(seed + 4), n, queries)
        else:
            self.vectors = rng.standard_normal((n, DIMS)).astype(np.float32)
            picks = rng.integers(0, n, queries)
            self.queries = self.vectors[picks] + rng.standard_normal((queries, DIMS)).astype(np.float32)
        self.query_categories = [f"c{int(c)}" for c in rng.integers(0, CATEGORIES, queries)]
        self.get_keys = [f"k{int(i)}" for i in rng.integers(0, n, 1000)]
        self.index = {f"doc {i}": i for i in range(n)}
        self.qindex = {f"q {j}": j for j in range(queries)}
        unit = self.vectors / np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = unit
        self.categories = np.arange(n) % CATEGORIES

    def value(self, i: int) -> dict[str, Any]:
        return {"text": f"doc {i}", "category": f"c{i % CATEGORIES}", "n": i}

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for t in texts:
            if t in self.index:
                out.append(self.vectors[self.index[t]].tolist())
            else:
                out.append(self.queries[self.qindex[t]].tolist())
        return out

    def exact_top(self, j: int, category: str | None, k: int = 10) -> list[str]:
        q = self.queries[j] / np.linalg.norm(self.queries[j])
        scores = self.unit @ q
        if category is not None:
            scores = np.where(self.categories == int(category[1:]), scores, -np.inf)
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        return [f"k{int(i)}" for i in top]


def _index(data: Data) -> dict[str, Any]:
    return {"dims": DIMS, "embed": data.embed, "fields": ["text"]}


@contextlib.contextmanager
def open_store(lib: str, backend: str, data: Data, admin_url: str | None) -> Iterator[Any]:
    """The library's store on a fresh backend, with the default vector index."""
    if backend == "memory":
        yield mod(lib, "store.memory").InMemoryStore(index=_index(data))
    elif backend == "sqlite":
        import sqlean

        with tempfile.TemporaryDirectory(prefix="wpbench-store-") as d:
            conn = sqlean.connect(os.path.join(d, f"{lib}.db"), check_same_thread=False,
                                  isolation_level=None)
            try:
                index = _index(data)
                if lib == "langgraph":
                    # LangGraph's SqliteStore documents ``fields`` but reads ``text_fields``;
                    # without it, it embeds the whole JSON value. Give it both.
                    index["text_fields"] = index["fields"]
                store = mod(lib, "store.sqlite").SqliteStore(conn, index=index)
                store.setup()
                yield store
            finally:
                conn.close()
    elif backend == "postgres":
        assert admin_url is not None
        with h.fresh_pg_database(admin_url, prefix="wpstore") as url:
            cls = mod(lib, "store.postgres").PostgresStore
            with cls.from_conn_string(url, index=_index(data)) as store:
                store.setup()
                yield store
    else:
        raise ValueError(backend)


def _put_chunk(lib: str, store: Any, data: Data, lo: int, hi: int) -> float:
    PutOp = mod(lib, "store.base").PutOp
    start = time.perf_counter()
    for b in range(lo, hi, PUT_BATCH):
        store.batch([PutOp(NS, f"k{i}", data.value(i)) for i in range(b, min(hi, b + PUT_BATCH))])
    return (hi - lo) / (time.perf_counter() - start)


def _ops_per_second(fn: Any, first: int, count: int, budget: float) -> float:
    """Run ``fn(first)``, ``fn(first + 1)``, ... up to ``count`` calls or ``budget`` seconds
    (at least one call); operations per second."""
    start = time.perf_counter()
    done = 0
    while done < count:
        fn(first + done)
        done += 1
        if time.perf_counter() - start > budget:
            break
    return done / (time.perf_counter() - start)


def measure(backend: str, n: int, quick: bool, admin_url: str | None,
            kind: str = "uniform") -> list[dict[str, Any]]:
    queries = 20 if quick else 50  # distinct queries; each sample runs ``per_sample`` of them,
    per_sample = 10 if quick else 20  # the next sample continuing where the last one stopped
    gets = 50 if quick else 300
    if backend == "memory":  # ~1 us per get: 300 calls are a 0.5 ms sample, timed cache-cold
        gets *= 60
    data = Data(n, queries, kind=kind)
    tag = " (clustered)" if kind == "clustered" else ""
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        stores = {lib: stack.enter_context(open_store(lib, backend, data, admin_url)) for lib in h.LIBS}
        # put: the data set in CHUNKS chunks, alternating
        put: dict[str, list[float]] = {lib: [] for lib in h.LIBS}
        bounds = np.linspace(0, n, CHUNKS + 1).astype(int)
        for c in range(CHUNKS):
            order = h.LIBS if c % 2 == 0 else h.LIBS[::-1]
            for lib in order:
                put[lib].append(_put_chunk(lib, stores[lib], data, int(bounds[c]), int(bounds[c + 1])))

        budget = 0.3 if quick else 3.0  # seconds per sample, for slow exact scans at 100k
        found: dict[tuple[str, bool, int], list[str]] = {}

        def bench(name: str, target: str, make: Any, count: int) -> None:
            samples = h.alternate(
                {lib: (lambda rep, lib=lib: _ops_per_second(make(lib, stores[lib]), rep * count, count, budget))
                 for lib in h.LIBS})
            rows.append({"backend": backend, "items": n, "operation": name + tag,
                         **h.compare(h.median(samples["waypoint"]), h.median(samples["langgraph"]), target)})

        def vector(lib: str, s: Any, filtered: bool) -> Any:
            def one(i: int) -> None:
                j = i % queries
                kwargs = {"filter": {"category": data.query_categories[j]}} if filtered else {}
                items = s.search(NS[:1], query=f"q {j}", limit=10, **kwargs)
                found[(lib, filtered, j)] = [it.key for it in items]
            return one

        if kind == "uniform":
            rows.append({"backend": backend, "items": n, "operation": f"put (batches of {PUT_BATCH})",
                         **h.compare(h.median(put["waypoint"]), h.median(put["langgraph"]), ">= 2")})
            bench("get", "", lambda lib, s: (lambda i: s.get(NS, data.get_keys[i % len(data.get_keys)])), gets)
            bench("search, filter only", ">= 2",
                  lambda lib, s: (lambda i: s.search(NS[:1], filter={"category": f"c{i % CATEGORIES}"}, limit=10)),
                  per_sample)
        bench("vector search top-10", ">= 2", lambda lib, s: vector(lib, s, False), per_sample)
        bench("vector search top-10 + filter", ">= 2", lambda lib, s: vector(lib, s, True), per_sample)
        # recall@10 against exact numpy search, over every query the timed searches ran
        for filtered in (False, True):
            recall: dict[str, float | None] = {}
            for lib in h.LIBS:
                js = [j for (l, f, j) in found if l == lib and f == filtered]
                hits = sum(len(set(found[(lib, filtered, j)]) &
                               set(data.exact_top(j, data.query_categories[j] if filtered else None)))
                           for j in js)
                recall[lib] = hits / (10 * len(js)) if js else None
            label = "recall@10" + (" + filter" if filtered else "") + tag
            row = {"backend": backend, "items": n, "operation": label,
                   **h.compare(recall["waypoint"], recall["langgraph"], "")}
            row["ratio"] = None
            row["target"] = "waypoint >= 0.95"
            row["met?"] = h.check(recall["waypoint"], ">= 0.95")
            rows.append(row)
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    from tests.backends._pgvector_server import pgvector_url

    sizes = (500,) if quick else SIZES
    admin = pgvector_url()
    rows: list[dict[str, Any]] = []
    for kind in KINDS:
        for n in sizes:
            for backend in ("memory", "sqlite", "postgres"):
                if (backend, n) in SKIP:
                    continue
                rows += measure(backend, n, quick, admin, kind)
    return rows


SIZES = (10_000, 100_000)
KINDS = ("uniform", "clustered")
SKIP: set[tuple[str, int]] = set()
