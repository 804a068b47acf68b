"""A numpy vector matrix for exact cosine search, for stores without a native vector index.

Vectors are stored L2-normalized in one ``(capacity, dims)`` float32 matrix, so a cosine
similarity is a dot product and a search is one matrix-vector product over the candidate rows.
Rows are recycled through a free list; capacity doubles when full. Adding only reserves rows:
the vectors are converted, normalized and copied in at the next search, in one step for all
that were added since (so a put costs no numpy conversion). Not thread-safe: the owning store
serializes access (the in-memory store holds its lock).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from waypoint.errors import ConfigError


def unit_rows(vectors: Sequence[Sequence[float]] | np.ndarray, dims: int) -> np.ndarray:
    """``(n, dims)`` float32 array of the vectors scaled to unit length (zero stays zero)."""
    arr = np.array(vectors, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, dims), dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dims:
        raise ConfigError(
            f"expected vectors of {dims} dimensions, got an array of shape {arr.shape}; "
            "set the index dims to the embedding model's output size"
        )
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.divide(arr, norms, out=arr, where=norms > 0)
    return arr


def unit_vector(vector: Sequence[float], dims: int) -> np.ndarray:
    """One vector scaled to unit length, as a ``(dims,)`` float32 array."""
    row: np.ndarray = unit_rows([vector], dims)[0]
    return row


class VectorMatrix:
    """Normalized vectors addressed by row number, scored against a query in one product."""

    def __init__(self, dims: int, capacity: int = 64) -> None:
        self.dims = dims
        self._matrix = np.zeros((max(capacity, 1), dims), dtype=np.float32)
        self._high = 0  # rows [0, _high) have been handed out at least once
        self._free: list[int] = []
        self._pending: dict[int, Sequence[float]] = {}  # row -> vector not yet in the matrix

    def __len__(self) -> int:
        """Rows currently in use."""
        return self._high - len(self._free)

    def add(self, vectors: Sequence[Sequence[float]] | np.ndarray) -> list[int]:
        """Reserve a row per vector and return the row numbers; the vectors (each of ``dims``
        numbers, checked here) enter the matrix at the next :meth:`max_scores`."""
        count = len(vectors)
        if count and set(map(len, vectors)) != {self.dims}:
            wrong = next(len(v) for v in vectors if len(v) != self.dims)
            raise ConfigError(
                f"expected vectors of {self.dims} dimensions, got one of {wrong}; "
                "set the index dims to the embedding model's output size"
            )
        reused = min(count, len(self._free))
        rows = self._free[len(self._free) - reused :][::-1]  # free rows, last freed first
        del self._free[len(self._free) - reused :]
        rows.extend(range(self._high, self._high + count - reused))
        self._high += count - reused
        self._pending.update(zip(rows, vectors))
        return rows

    def remove(self, rows: Sequence[int]) -> None:
        """Release rows (zeroed so a stale row can never score)."""
        if rows:
            pending = self._pending
            stored = [r for r in rows if pending.pop(r, None) is None and r < len(self._matrix)]
            if stored:
                self._matrix[stored] = 0.0
            self._free.extend(rows)

    def _flush(self) -> None:
        """Copy the pending vectors in (normalized), growing the matrix to fit every row."""
        if not self._pending:
            return
        if self._high > len(self._matrix):
            size = len(self._matrix)
            while size < self._high:
                size *= 2
            grown = np.zeros((size, self.dims), dtype=np.float32)
            grown[: len(self._matrix)] = self._matrix
            self._matrix = grown
        rows = list(self._pending)
        self._matrix[rows] = unit_rows(list(self._pending.values()), self.dims)
        self._pending.clear()

    def max_scores(self, groups: Sequence[Sequence[int]], query: np.ndarray) -> list[float | None]:
        """Per group of rows (one group per item), the best cosine with the unit ``query``;
        None for a group without rows."""
        self._flush()
        sizes = np.fromiter((len(g) for g in groups), dtype=np.intp, count=len(groups))
        if not sizes.any():
            return [None] * len(groups)
        flat = np.fromiter((r for g in groups for r in g), dtype=np.intp, count=int(sizes.sum()))
        if 2 * len(flat) > self._high:  # most rows needed: one product over the whole matrix
            scores = (self._matrix[: self._high] @ query)[flat]
        else:
            scores = self._matrix[flat] @ query
        nonempty = sizes > 0
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[nonempty]
        best = np.maximum.reduceat(scores, starts)
        out: list[float | None] = [None] * len(groups)
        for slot, value in zip(np.flatnonzero(nonempty), best.tolist(), strict=True):
            out[slot] = value
        return out
