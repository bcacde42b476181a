"""Correct units by construction: the chart, the CMS allocation and the AMA per-code method, on
visit matrices (one row per visit, one column per timed-code slot).

Domain doc, "The CMS method": total units = the chart of the day's total timed minutes; "each code
first gets its full 15-minute blocks; the units left over go one each to the codes with the largest
remaining minutes. A tie on remaining minutes is the clinician's choice". AMA: "the same chart applied
to each code on its own, then summed".
"""

from __future__ import annotations

import numpy as np


def chart(minutes: np.ndarray) -> np.ndarray:
    """Units for minutes: 0 below 8, else (minutes + 7) // 15 (8-22 = 1, 23-37 = 2, ...)."""
    minutes = np.asarray(minutes, dtype=np.int64)
    return np.where(minutes >= 8, (minutes + 7) // 15, 0)


def cms_allocation(minutes: np.ndarray, present: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Units per slot under the CMS method for each row's codes; ``tiebreak`` (floats in [0, 1))
    orders codes with equal remaining minutes (any order is a valid clinician's choice)."""
    m = np.where(present, minutes, 0)
    blocks, rest = m // 15, m % 15
    leftover = chart(m.sum(axis=1)) - blocks.sum(axis=1)
    key = np.where(present, rest + 0.5 * tiebreak, -1.0)
    rank = np.argsort(np.argsort(-key, axis=1, kind="stable"), axis=1, kind="stable")
    return blocks + (present & (rank < leftover[:, None]))


def cms_max_units(minutes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The most units each code can receive under any tie-consistent CMS allocation: its blocks plus
    one when fewer codes than the leftover have strictly more remaining minutes."""
    m = np.where(present, minutes, 0)
    blocks, rest = m // 15, m % 15
    leftover = chart(m.sum(axis=1)) - blocks.sum(axis=1)
    rest_p = np.where(present, rest, -1)
    ahead = (rest_p[:, None, :] > rest_p[:, :, None]).sum(axis=2)
    return blocks + (present & (ahead < leftover[:, None]))


def ama_units(minutes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Units per slot under the AMA/CPT method: the chart of each code's own minutes."""
    return np.where(present, chart(minutes), 0)
