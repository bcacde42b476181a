"""The month's schedule: therapist-days back to back, dual patients apart, OVERLAP pairs shifted together."""

from __future__ import annotations

import numpy as np

from pipelines.generate.arrays import Visits, excl_cumsum, pick, rank_within, segments


def schedule(v: Visits, td: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start minute (from midnight) of each visit: therapist-days back to back with gaps, a lunch
    break, dual patients' PT visit first and OT visit last; group sessions share one slot; impossible
    days from 06:00 without gaps or lunch."""
    n = len(v)
    if n == 0:
        return np.zeros(0, np.int64)
    g_rank = rank_within(np.where(v.group, td, -1), rng.random(n))
    slot_key = np.where(v.group, td * 1000 + g_rank // 4, -1 - np.arange(n))
    _, first, inverse = np.unique(slot_key, return_index=True, return_inverse=True)
    n_slots = len(first)
    s_td = td[first]
    s_dur = np.zeros(n_slots, np.int64)
    np.maximum.at(s_dur, inverse, v.dur)
    dual = v.dual[first]
    s_order_key = np.where(dual == 1, 0.0, np.where(dual == 2, 3.0, 1.0 + rng.random(n_slots)))
    s_long = v.long[first]
    order = np.lexsort((s_order_key, s_td))
    starts, run = segments(s_td[order])
    n_in = np.diff(np.r_[starts, len(order)])[run]
    rank = np.arange(len(order)) - starts[run]
    long_ = s_long[order]
    am = long_ | ((rank < (n_in + 1) // 2) & (s_order_key[order] != 3.0))
    gap = np.where(long_, 0, rng.choice([0, 0, 5, 10, 15], len(order)))
    step = s_dur[order] + gap
    part = run * 2 + (~am)
    p_starts, p_run = segments(part)
    excl = excl_cumsum(step, p_run, p_starts)
    n_td = len(starts)
    day_start = np.where(long_[starts], 360, 420 + 15 * rng.integers(0, 7, n_td))
    lunch = 750 + 15 * rng.integers(0, 3, n_td)
    am_total = np.bincount(run, weights=np.where(am, step, 0), minlength=n_td).astype(np.int64)
    pm_start = np.maximum(lunch, day_start + am_total + 30)
    s_start_sorted = np.where(am, day_start[run] + excl, pm_start[run] + excl)
    s_start = np.empty(n_slots, np.int64)
    s_start[order] = s_start_sorted
    return s_start[inverse]


def separate_dual(v: Visits, td: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dual patient's OT visit that would overlap the same day's PT visit moves to the end of the
    OT therapist's day (a patient is in one place at a time)."""
    d = np.flatnonzero(v.dual > 0)
    if len(d) == 0:
        return start, end
    key = v.pid[d] * 100_000 + v.day[d]
    o = d[np.lexsort((v.dual[d], key))]
    k = key[np.lexsort((v.dual[d], key))]
    pair = np.flatnonzero((k[1:] == k[:-1]) & (v.dual[o[1:]] == 2) & (v.dual[o[:-1]] == 1))
    pt, ot = o[pair], o[pair + 1]
    clash = (start[ot] < end[pt]) & (start[pt] < end[ot])
    pt, ot = pt[clash], ot[clash]
    if len(ot) == 0:
        return start, end
    start, end = start.copy(), end.copy()
    uniq_td, inv = np.unique(td, return_inverse=True)
    td_end = np.zeros(len(uniq_td), np.int64)
    np.maximum.at(td_end, inv, end)
    ot_td = td[ot]
    base = np.maximum(td_end[np.searchsorted(uniq_td, ot_td)], end[pt])
    order = np.lexsort((start[ot], ot_td))
    starts, run = segments(ot_td[order])
    base_run = np.zeros(len(starts), np.int64)
    np.maximum.at(base_run, run, base[order])
    steps = v.dur[ot[order]] + 5
    new_start = base_run[run] + 15 + excl_cumsum(steps, run, starts)
    moved = ot[order]
    start[moved] = new_start
    end[moved] = new_start + v.dur[moved]
    return start, end


def plant_overlaps(
    v: Visits, td: np.ndarray, start: np.ndarray, end: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On each OVERLAP therapist-day, shift one visit to start before the previous visit (of another
    patient, both billing timed units) ends, by more than the two visits' time outside timed codes
    together (at least 5 minutes of one-on-one timed time at once); returns the therapist-days where
    that was possible."""
    billed = (v.present & (v.units > 0)).any(axis=1)
    ok = ~v.group & (v.dual == 0) & billed & (v.plant == "") & ~v.walkin & ~v.assistant  # CQ/CO: the assistant's time
    sel = np.flatnonzero(v.on_ov)
    if len(sel) == 0:
        return start, end, np.zeros(0, np.int64)
    sel = sel[np.lexsort((sel, start[sel], td[sel]))]
    same_td = td[sel[1:]] == td[sel[:-1]]
    prev, cur = sel[:-1], sel[1:]
    # the rule judges one-on-one timed time: each visit's time outside timed codes (modalities, an
    # evaluation, the gap to its end) may lie in the overlap, so the overlap must exceed both visits'
    slack = np.maximum(v.dur - v.tot, 0)
    need = slack[prev] + slack[cur] + 5
    room = np.minimum(v.dur[prev] - 1, v.dur[cur]) - need
    pair_ok = same_td & ok[prev] & ok[cur] & (room >= 0) & (end[prev] <= start[cur])
    pairs = np.flatnonzero(pair_ok)
    if len(pairs) == 0:
        return start, end, np.zeros(0, np.int64)
    chosen = pick(rng, np.ones(len(pairs), bool), td[cur[pairs]], len(pairs))
    p, c = prev[pairs[chosen]], cur[pairs[chosen]]
    extra = np.minimum(room[pairs[chosen]], 20)
    ov = need[pairs[chosen]] + (rng.random(len(p)) * (extra + 1)).astype(np.int64)
    start, end = start.copy(), end.copy()
    start[c] = end[p] - ov
    end[c] = start[c] + v.dur[c]
    return start, end, np.unique(td[c])
