"""Unit tests of the pure item-log planner (no saver involved)."""

from __future__ import annotations

from typing import Any

import pytest

from waypoint.checkpoint.base import LogHint
from waypoint.checkpoint.log import (
    MAX_DEPTH,
    PAGE_SIZE,
    Lineage,
    LogRef,
    assemble,
    assemble_chunks,
    decode_chain,
    live_lineages,
    pages_needed,
    plan_write,
)
from waypoint.checkpoint.log import levels


class Store:
    """A toy backend executing plans: lineage rows and page dicts."""

    def __init__(self) -> None:
        self.lineages: dict[str, Lineage] = {}
        self.pages: dict[tuple[str, int], list] = {}
        self.refs: dict[str, LogRef] = {}
        self.page_writes = 0

    def write(self, version: str, value: list, hint: LogHint | None) -> LogRef:
        base_ref = self.refs.get(hint.base_version) if hint and hint.base_version else None
        base = self.lineages.get(base_ref.lineage) if base_ref else None
        plan = plan_write(value, hint, base_ref, base)
        self.apply_lineage(plan)
        for page in plan.pages:
            assert len(page.items) <= PAGE_SIZE
            self.pages[(page.lineage, page.page)] = page.items
            self.page_writes += 1
        self.refs[version] = plan.ref
        return plan.ref

    def apply_lineage(self, plan: Any) -> None:
        """Insert or extend the lineage row as the plan says (the extend is conditional)."""
        if plan.new_lineage is not None:
            self.lineages[plan.new_lineage.id] = plan.new_lineage
        if plan.extend is not None:
            lid, old, new = plan.extend
            assert self.lineages[lid].length == old
            self.lineages[lid] = Lineage(self.lineages[lid].chain, new)

    def read(self, version: str) -> list:
        ref = self.refs[version]
        lineage = self.lineages[ref.lineage]
        wanted = pages_needed(ref, lineage)
        return assemble(ref, lineage, {k: self.pages[k] for k in wanted})


def test_appends_rewrite_only_the_last_page() -> None:
    s = Store()
    value: list = []
    for i in range(PAGE_SIZE * 3):
        prev = len(value)
        value = value + [i]
        s.write(f"v{i}", value, LogHint(f"v{i - 1}" if i else None, prev))
    assert len(s.lineages) == 1
    assert s.page_writes == PAGE_SIZE * 3  # one page upsert per append
    assert s.read(f"v{PAGE_SIZE * 3 - 1}") == list(range(PAGE_SIZE * 3))
    assert s.read("v10") == list(range(11))
    assert len(pages_needed(s.refs["v100"], s.lineages[s.refs["v100"].lineage])) == 2


def test_fork_starts_a_child_sharing_the_prefix() -> None:
    s = Store()
    s.write("a", list(range(100)), None)
    s.write("b", list(range(130)), LogHint("a", 100))
    s.write("fork", list(range(100)) + ["x"], LogHint("a", 100))
    assert s.read("fork") == list(range(100)) + ["x"]
    assert s.read("b") == list(range(130))
    child = s.lineages[s.refs["fork"].lineage]
    assert child.depth == 1 and child.start == 100


def test_truncation_points_into_the_chain_without_writing() -> None:
    s = Store()
    s.write("a", list(range(10)), None)
    before = s.page_writes
    ref = s.write("t", list(range(4)), LogHint("a", 4))
    assert s.page_writes == before and ref.length == 4
    assert s.read("t") == [0, 1, 2, 3]
    assert s.read("a") == list(range(10))


def test_chain_depth_is_capped() -> None:
    s = Store()
    value = list(range(5))
    s.write("v0", value, None)
    for i in range(1, MAX_DEPTH * 3):
        value = value[:-1] + [f"r{i}", "tail"]  # replace the last item, then append
        s.write(f"v{i}", value, LogHint(f"v{i - 1}", len(value) - 2))
        assert s.lineages[s.refs[f"v{i}"].lineage].depth <= MAX_DEPTH
        assert s.read(f"v{i}") == value


def test_assemble_refuses_missing_or_short_pages() -> None:
    s = Store()
    s.write("a", list(range(70)), None)
    ref = s.refs["a"]
    lineage = s.lineages[ref.lineage]
    pages = {k: s.pages[k] for k in pages_needed(ref, lineage)}
    del pages[(ref.lineage, 1)]
    with pytest.raises(KeyError, match="page 1"):
        assemble(ref, lineage, pages)
    pages[(ref.lineage, 1)] = [1]
    with pytest.raises(ValueError, match="holds 1 items"):
        assemble(ref, lineage, pages)


def test_ref_and_chain_encoding() -> None:
    assert LogRef.decode(LogRef("ab12", 7).encode()) == LogRef("ab12", 7)
    with pytest.raises(ValueError):
        LogRef.decode(b"garbage")
    chain = (("a", 0), ("b", 5))
    assert decode_chain(Lineage(chain, 9).encode_chain()) == chain
    assert live_lineages([Lineage(chain, 9)]) == {"a", "b"}


class ChunkStore(Store):
    """The same toy backend in chunk mode: rows keyed (lineage, first own item)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, int], list] = {}
        self.rewrites = 0  # upserts that replaced an existing row

    def write(self, version: str, value: list, hint: LogHint | None) -> LogRef:
        base_ref = self.refs.get(hint.base_version) if hint and hint.base_version else None
        base = self.lineages.get(base_ref.lineage) if base_ref else None
        plan = plan_write(value, hint, base_ref, base, layout="chunks")
        assert not plan.pages
        self.apply_lineage(plan)
        for chunk in plan.chunks:
            page_lo = chunk.first - chunk.first % PAGE_SIZE
            assert chunk.first + len(chunk.items) <= page_lo + PAGE_SIZE  # never spans pages
            self.rewrites += (chunk.lineage, chunk.first) in self.rows
            self.rows[(chunk.lineage, chunk.first)] = chunk.items
        for trim in plan.trims:
            for key in [k for k in self.rows if k[0] == trim.lineage and trim.lo < k[1] < trim.hi]:
                del self.rows[key]
        self.refs[version] = plan.ref
        return plan.ref

    def read(self, version: str) -> list:
        ref = self.refs[version]
        lineage = self.lineages[ref.lineage]
        by_lineage = {
            lid: sorted((first, items) for (l, first), items in self.rows.items() if l == lid)
            for lid, _ in levels(ref, lineage)
        }
        return assemble_chunks(ref, lineage, by_lineage)


def test_chunk_mode_appends_only_new_items_and_compacts_full_pages() -> None:
    s = ChunkStore()
    value: list = []
    for turn in range(PAGE_SIZE * 3 // 2 + 5):  # two items per turn, like a chat
        prev = len(value)
        value = value + [2 * turn, 2 * turn + 1]
        s.write(f"v{turn}", value, LogHint(f"v{turn - 1}" if turn else None, prev))
    n = len(value)
    lid = s.refs["v0"].lineage
    firsts = sorted(first for l, first in s.rows if l == lid)
    full = n // PAGE_SIZE
    # full pages are one row each; the page still filling holds one row per append
    assert firsts[:full] == [p * PAGE_SIZE for p in range(full)]
    assert firsts[full:] == list(range(full * PAGE_SIZE, n, 2))
    assert s.rewrites == full  # only the append that fills a page replaces a row
    for turn in (0, 10, 31, 32, 33, PAGE_SIZE, PAGE_SIZE * 3 // 2 + 4):
        assert s.read(f"v{turn}") == list(range(2 * turn + 2))


def test_chunk_mode_large_appends_split_at_page_boundaries() -> None:
    s = ChunkStore()
    s.write("a", list(range(10)), None)
    s.write("b", list(range(10 + PAGE_SIZE * 2)), LogHint("a", 10))
    assert s.read("b") == list(range(10 + PAGE_SIZE * 2))
    assert s.read("a") == list(range(10))
    lid = s.refs["a"].lineage
    assert sorted(k[1] for k in s.rows) == [0, PAGE_SIZE, 2 * PAGE_SIZE]
    assert len(s.rows[(lid, 2 * PAGE_SIZE)]) == 10


def test_chunk_mode_forks_and_edits_read_back() -> None:
    s = ChunkStore()
    s.write("a", list(range(100)), None)
    s.write("b", list(range(100)) + ["x"], LogHint("a", 100))
    s.write("fork", list(range(70)) + ["f"], LogHint("a", 70))
    s.write("edit", list(range(5)) + ["E"] + list(range(6, 101)), LogHint("b", 5))
    assert s.read("a") == list(range(100))
    assert s.read("b") == list(range(100)) + ["x"]
    assert s.read("fork") == list(range(70)) + ["f"]
    assert s.read("edit") == list(range(5)) + ["E"] + list(range(6, 101))


def test_assemble_chunks_refuses_gaps_overlaps_and_short_logs() -> None:
    lineage = Lineage((("L", 0),), 4)
    ref = LogRef("L", 4)
    assert assemble_chunks(ref, lineage, {"L": [(0, ["a", "b"]), (2, ["c", "d"])]}) == list("abcd")
    with pytest.raises(ValueError, match="not contiguous"):
        assemble_chunks(ref, lineage, {"L": [(0, ["a"]), (2, ["c", "d"])]})
    with pytest.raises(ValueError, match="not contiguous"):
        assemble_chunks(ref, lineage, {"L": [(0, ["a", "b"]), (1, ["b", "c", "d"])]})
    with pytest.raises(ValueError, match="holds 2 items, 4 needed"):
        assemble_chunks(ref, lineage, {"L": [(0, ["a", "b"])]})
