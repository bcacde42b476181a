"""Vectorized helpers over a month's visits: parallel arrays, runs of equal keys, picks."""

from __future__ import annotations

import numpy as np


def segments(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start index of each run of equal keys, run id per element) of a sorted key array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(sorted_keys)]))
    return starts, run


def rank_within(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """0-based position of each element within its group when ordered by ``order``."""
    idx = np.lexsort((order, group))
    starts, run = segments(group[idx])
    rank = np.empty(len(group), np.int64)
    rank[idx] = np.arange(len(group)) - starts[run]
    return rank


def count_per(keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each element, how many elements with ``mask`` share its key."""
    uniq, counts = np.unique(keys[mask], return_counts=True)
    if len(uniq) == 0:
        return np.zeros(len(keys), np.int64)
    pos = np.clip(np.searchsorted(uniq, keys), 0, len(uniq) - 1)
    return np.where(uniq[pos] == keys, counts[pos], 0)


def excl_cumsum(values: np.ndarray, run: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of ``values`` (in sorted order) restarting at each run."""
    cs = np.cumsum(values)
    before = (cs - values)[starts]
    return cs - values - before[run]


def pick(rng: np.random.Generator, mask: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Up to ``k`` random indices where ``mask``, at most one per distinct ``key``."""
    cand = np.flatnonzero(mask)
    if k <= 0 or len(cand) == 0:
        return np.zeros(0, np.int64)
    cand = cand[rng.permutation(len(cand))]
    _, first = np.unique(key[cand], return_index=True)
    first.sort()
    return np.sort(cand[first[:k]])


class Visits:
    """Parallel arrays (first axis = visit) with row selection and concatenation."""

    def __init__(self, **arrays: np.ndarray) -> None:
        self.a = arrays

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["a"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(next(iter(self.a.values())))

    def set(self, **arrays: np.ndarray) -> None:
        self.a.update(arrays)

    def take(self, idx: np.ndarray) -> Visits:
        return Visits(**{k: v[idx] for k, v in self.a.items()})

    def concat(self, other: Visits) -> Visits:
        return Visits(**{k: np.concatenate([v, other.a[k]]) for k, v in self.a.items()})
