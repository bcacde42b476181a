"""One service month of claim lines: visits, lines, correct units, planted findings, a schedule.

Everything is vectorized over visits (numpy) with a visit's timed codes held in a 3-column matrix;
the lines are only laid out at the end. The steps, in order:

1. the month's visits from the episodes; IMPOSSIBLE_DAY therapist-days get 16 long visits
   (one-off patients fill them up) scheduled back to back from 06:00, > 720 timed minutes;
2. visit types (evaluation on an episode's first visit, re-evaluation every 10th, group sessions);
3. DAILY_LIMIT visits (97112 with 75-90 minutes: 5-6 units the minutes support);
4. timed codes and minutes, then units by construction (CMS allocation or AMA chart per payer);
5. each therapist-day capped at 540 timed minutes, 600 minutes of visits and 13 visits;
6. the other plants chosen on disjoint patient-days (and therapist-days): OVERLAP days,
   MINUTES_MISSING, DUPLICATE, ALLOCATION, DX_SUPPORT, UNITS_OVER_MINUTES, DOCUMENTATION (a 97112
   visit whose documentation lacks one or two elements: a false flag, or a note without them);
7. unplanted visits dropped at random until the month has exactly its target of lines;
8. the schedule: each therapist-day back to back (gaps of 0-15 minutes, a lunch break), the PT and
   OT visits of a dual patient never at the same time; OVERLAP pairs then shifted into each other;
9. DUPLICATE re-bills appended as new claims; the lines, their columns (the documentation flags and
   the 97112 notes as each clinic exports them) and the answer key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.ingest.columns import CANONICAL
from pipelines.generate import catalog as cat
from pipelines.generate.units import ama_units, cms_allocation, cms_max_units
from pipelines.generate.world import DOC_BOTH, DOC_FLAGS, DOC_NOTES, World, make_patients

TREAT, EVAL, REEVAL, GROUP_VISIT = 0, 1, 2, 3
IMPOSSIBLE_VISITS = 16  # x >= 48 timed minutes each > 720
DAY_TIMED_CAP = 540  # clean therapist-days stay under 9 hours of timed minutes
DAY_DURATION_CAP = 600
DAY_VISIT_CAP = 13
GROUP_P = 0.05
SHORT_LINE_P = 0.12  # a timed code of 3-7 minutes next to others (often 0 units)
# DOCUMENTATION plants: elements as bits (deficit 1, goals 2, response 4, technique 8), the share of
# plants missing two elements, of plants in clinics exporting both whose note also lacks a flagged
# element, and of clean 97112 notes in those clinics lacking a flagged element that the (true) flag
# covers: the flag takes precedence, so no finding.
DOC_BITS = {e: 1 << i for i, e in enumerate(cat.DOC_ELEMENTS)}
FLAGGED_BITS = DOC_BITS["deficit"] | DOC_BITS["goals"] | DOC_BITS["response"]
DOC_TWO_MISSING_P = 0.2
DOC_NOTE_TOO_P = 0.5
DOC_CLEAN_NOTE_GAP_P = 0.15
NOTE_LOWER_P = 0.1

KEY_SCHEMA = {
    "rule_id": pl.String,
    "rendering_npi": pl.String,
    "patient_id": pl.String,
    "service_date": pl.String,
    "claim_id": pl.String,
    "line_number": pl.Int64,
    "plant": pl.String,
    "missing": pl.List(pl.String),
}
# Grain of each rule (review-outputs contract): the columns its key rows fill.
GRAIN = {
    "UNITS_OVER_MINUTES": ("patient_id", "service_date", "rendering_npi"),
    "ALLOCATION": ("patient_id", "service_date", "rendering_npi"),
    "DAILY_LIMIT": ("patient_id", "service_date"),
    "DUPLICATE": ("patient_id", "service_date"),
    "MINUTES_MISSING": ("claim_id", "line_number"),
    "DX_SUPPORT": ("claim_id", "line_number"),
    "OVERLAP": ("rendering_npi", "service_date"),
    "IMPOSSIBLE_DAY": ("rendering_npi", "service_date"),
    "DOCUMENTATION": ("patient_id", "service_date", "rendering_npi"),
    "UNTIMED_UNITS": ("patient_id", "service_date"),  # planted by scenarios.py only
}
RULE_IDS = tuple(GRAIN)


# --- small vectorized helpers -----------------------------------------------------------------------


def _segments(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start index of each run of equal keys, run id per element) of a sorted key array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(sorted_keys)]))
    return starts, run


def _rank_within(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """0-based position of each element within its group when ordered by ``order``."""
    idx = np.lexsort((order, group))
    starts, run = _segments(group[idx])
    rank = np.empty(len(group), np.int64)
    rank[idx] = np.arange(len(group)) - starts[run]
    return rank


def _count_per(keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each element, how many elements with ``mask`` share its key."""
    uniq, counts = np.unique(keys[mask], return_counts=True)
    if len(uniq) == 0:
        return np.zeros(len(keys), np.int64)
    pos = np.clip(np.searchsorted(uniq, keys), 0, len(uniq) - 1)
    return np.where(uniq[pos] == keys, counts[pos], 0)


def _excl_cumsum(values: np.ndarray, run: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of ``values`` (in sorted order) restarting at each run."""
    cs = np.cumsum(values)
    before = (cs - values)[starts]
    return cs - values - before[run]


def _pick(rng: np.random.Generator, mask: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
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


@dataclass
class MonthOutput:
    lines: pl.DataFrame  # canonical columns, rows shuffled
    key: pl.DataFrame  # answer-key rows (KEY_SCHEMA)


# --- the month ---------------------------------------------------------------------------------------


def build_month(
    world: World,
    month_index: int,
    rng: np.random.Generator,
    target_lines: int,
    counts: dict[str, int],
) -> MonthOutput:
    ref = cat.reference()
    period = world.period
    n_days = period.n_days
    sl = world.month_slice(month_index)
    n_pat = world.n_patients
    cms_payer = np.array([p in ref.cms_payers for p in cat.PAYERS])

    v = Visits(
        pat=world.v_pat[sl].copy(),
        th=world.v_th[sl].astype(np.int64),
        day=world.v_day[sl].astype(np.int64),
        k=world.v_k[sl].astype(np.int64),
        dual=world.v_dual[sl].astype(np.int8),
    )
    n = len(v)
    v.set(long=np.zeros(n, bool), walkin=np.zeros(n, bool))
    td_of = lambda vv: vv.th * n_days + vv.day  # noqa: E731

    # 1. IMPOSSIBLE_DAY: 16 long visits on chosen therapist-days --------------------------------------
    td = td_of(v)
    imp_tds = np.unique(td[_pick(rng, ~world.th_high[v.th], td, counts.get("IMPOSSIBLE_DAY", 0))])
    on_imp = np.isin(td, imp_tds)
    over = on_imp & (_rank_within(np.where(on_imp, td, -1), rng.random(n)) >= IMPOSSIBLE_VISITS)
    v = v.take(np.flatnonzero(~over))
    td = td_of(v)
    on_imp = np.isin(td, imp_tds)
    have = np.zeros(len(imp_tds), np.int64)
    if len(imp_tds):
        uniq, cnt = np.unique(td[on_imp], return_counts=True)
        have = cnt[np.searchsorted(uniq, imp_tds)]
    n_add = IMPOSSIBLE_VISITS - have
    add_td = np.repeat(imp_tds, n_add)
    n_walk = len(add_td)
    walk_th = add_td // n_days
    walk = make_patients(rng, np.where(world.th_disc[walk_th] == 0, 0, 2))
    v = v.concat(
        Visits(
            pat=n_pat + np.arange(n_walk, dtype=np.int64),
            th=walk_th,
            day=add_td % n_days,
            k=np.ones(n_walk, np.int64),
            dual=np.zeros(n_walk, np.int8),
            long=np.ones(n_walk, bool),
            walkin=np.ones(n_walk, bool),
        )
    )
    td = td_of(v)
    v.set(long=np.isin(td, imp_tds))
    n = len(v)
    # patient attributes for episode patients and this month's walk-ins
    payer = np.r_[world.pat_payer, walk["payer"]][v.pat]
    payer_name = np.r_[world.pat_payer_name, walk["payer_name"]][v.pat]
    supportive = np.r_[world.pat_supportive, walk["supportive"]][v.pat]
    kx_from = np.r_[world.pat_kx_from, walk["kx_from"]][v.pat]
    dx_series = pl.concat([world.pat_dx, walk["dx"]])
    pid = np.where(v.pat < n_pat, v.pat, v.pat + world.walkins)
    world.walkins += n_walk
    v.set(payer=payer, payer_name=payer_name, supportive=supportive, kx_from=kx_from, dx=v.pat.copy(), pid=pid)
    _plan_visits(v, td, world, rng, counts, cms_payer[payer])
    dl, group, tot, dur = v.dl, v.group, v.tot, v.dur

    # 5. therapist-day caps (not on impossible days) ------------------------------------------------------
    order = np.lexsort((rng.random(n), ~dl, td))
    starts, run = _segments(td[order])
    t_cum = np.cumsum(tot[order])
    t_cum = t_cum - (t_cum - tot[order])[starts][run]
    d_vals = np.where(group, 0, dur)[order]
    d_cum = _excl_cumsum(d_vals, run, starts) + d_vals
    c_vals = (~group[order]).astype(np.int64)
    c_cum = _excl_cumsum(c_vals, run, starts) + c_vals
    keep_sorted = v.long[order] | group[order] | ((t_cum <= DAY_TIMED_CAP) & (d_cum <= DAY_DURATION_CAP) & (c_cum <= DAY_VISIT_CAP))
    keep = np.zeros(n, bool)
    keep[order] = keep_sorted
    v = v.take(np.flatnonzero(keep))
    n = len(v)
    td = td_of(v)
    pd_key = v.pid * n_days + v.day

    # 6. the other plants, on disjoint patient-days / therapist-days -------------------------------------
    units, present, codes, minutes = v.units, v.present, v.codes, v.minutes
    billed = (present & (units > 0)).any(axis=1)
    zero_timed = (present & (units == 0)).any(axis=1)
    is112 = present & (codes == cat.I97112)
    units112 = np.where(is112, units, 0).sum(axis=1)
    totals_only = world.clinic_totals_only[world.th_clinic[v.th]] & v.cms

    ov_visit = ~v.group & (v.dual == 0) & billed & ~v.dl & ~v.walkin
    has_dl = _count_per(td, v.dl) > 0
    ov_cand = (_count_per(td, ov_visit) >= 2) & ~v.high & ~v.long & ~has_dl
    ov_tds = np.unique(td[_pick(rng, ov_cand, td, counts.get("OVERLAP", 0))])
    on_ov = np.isin(td, ov_tds)

    taken = np.isin(pd_key, pd_key[v.dl])
    base = ~v.high & ~v.long & ~v.group & ~v.walkin & ~on_ov

    def choose(rule: str, mask: np.ndarray) -> np.ndarray:
        nonlocal taken
        idx = _pick(rng, mask & base & ~taken, pd_key, counts.get(rule, 0))
        taken = taken | np.isin(pd_key, pd_key[idx])
        return idx

    mm_idx = choose("MINUTES_MISSING", billed & ~zero_timed)
    dup_idx = choose("DUPLICATE", billed & ~zero_timed & (units112 <= cat.reference().daily_limit_97112 // 2))
    # ALLOCATION: move one unit onto a code already at its maximum (so it exceeds every valid
    # allocation), from another billed code; the day's total stays supported
    maxu = cms_max_units(minutes, present)
    b_ok = present & (units == maxu) & ((codes != cat.I97112) | (units + 1 <= ref.daily_limit_97112))
    b_key = np.where(b_ok, rng.random((n, 3)), -1.0)
    b_slot = b_key.argmax(axis=1)
    a_ok = present & (units >= 1) & (np.arange(3)[None, :] != b_slot[:, None])
    a_key = np.where(a_ok, units + 0.5 * rng.random((n, 3)), -1.0)
    a_slot = a_key.argmax(axis=1)
    alloc_ok = v.cms & ~totals_only & (b_key.max(axis=1) >= 0) & (a_key.max(axis=1) >= 0)
    alloc_idx = choose("ALLOCATION", alloc_ok)
    dx_idx = choose("DX_SUPPORT", (is112 & (units > 0)).any(axis=1))
    inc_ok = present & ((codes != cat.I97112) | (units + 1 <= ref.daily_limit_97112))
    inc_key = np.where(inc_ok, minutes + 0.5 * rng.random((n, 3)), -1.0)
    inc_slot = inc_key.argmax(axis=1)
    uo_idx = choose("UNITS_OVER_MINUTES", billed & (inc_key.max(axis=1) >= 0))
    doc_idx = choose("DOCUMENTATION", (is112 & (units > 0)).any(axis=1))
    clinic = world.th_clinic[v.th].astype(np.int64)
    doc_missing = np.zeros(n, np.int64)
    doc_missing[doc_idx] = _missing_elements(rng, world.clinic_doc_export[clinic[doc_idx]] == DOC_FLAGS)

    units = units.copy()
    units[alloc_idx, a_slot[alloc_idx]] -= 1
    units[alloc_idx, b_slot[alloc_idx]] += 1
    units[uo_idx, inc_slot[uo_idx]] += 1
    mm = np.zeros(n, bool)
    mm[mm_idx] = True
    dx_bad = np.full(n, -1, np.int64)
    dx_bad[dx_idx] = rng.integers(0, len(cat.UNSUPPORTIVE_DX), len(dx_idx))
    plant = np.full(n, "", dtype=object)
    plant[v.dl] = "daily_limit"
    plant[mm_idx] = "minutes_missing"
    plant[alloc_idx] = "allocation"
    plant[dx_idx] = "dx_support"
    plant[uo_idx] = "units_over_minutes"
    plant[doc_idx] = np.array(["documentation_flags", "documentation_notes", "documentation_both"], dtype=object)[
        world.clinic_doc_export[clinic[doc_idx]]
    ]
    n_clinics = len(world.clinic_npi)
    dup_cross = np.zeros(n, bool)
    dup_cross[dup_idx] = (rng.random(len(dup_idx)) < 0.5) & (n_clinics >= 2)
    is_dup_src = np.zeros(n, bool)
    is_dup_src[dup_idx] = True
    plant[dup_idx] = np.where(dup_cross[dup_idx], "duplicate_other_billing_npi", "duplicate_same_billing_npi")
    v.set(units=units, mm=mm, dx_bad=dx_bad, plant=plant, dup_cross=dup_cross, dup_src=is_dup_src,
          totals_only=totals_only, clinic=clinic, on_ov=on_ov, doc_missing=doc_missing)

    # 7. exact size: drop unplanted visits at random ------------------------------------------------------
    n_lines = (v.slot0 >= 0) + v.present.sum(axis=1) + (v.mod >= 0)
    protected = (plant != "") | v.long | on_ov | v.group
    excess = int(n_lines.sum() + n_lines[is_dup_src].sum()) - target_lines
    if excess > 0:
        free = np.flatnonzero(~protected)
        free = free[rng.permutation(len(free))]
        cs = np.cumsum(n_lines[free])
        n_first = int(np.searchsorted(cs, excess, side="right"))
        drop = list(free[:n_first])
        rest = excess - (int(cs[n_first - 1]) if n_first else 0)
        singles = free[n_first:][n_lines[free[n_first:]] == 1]
        drop.extend(singles[:rest])
        keep = np.ones(n, bool)
        keep[np.array(drop, dtype=np.int64)] = False
        v = v.take(np.flatnonzero(keep))
        n = len(v)
        td = td_of(v)

    # 8. schedule ------------------------------------------------------------------------------------------
    start = _schedule(v, td, rng)
    end = start + v.dur
    start, end = _separate_dual(v, td, start, end)
    start, end, ov_applied = _plant_overlaps(v, td, start, end, rng)
    v.set(start=start, end=end)

    # 9. duplicates, claims, lines --------------------------------------------------------------------------
    src = np.flatnonzero(v.dup_src)
    dups = v.take(src)
    other = (dups.clinic + 1 + rng.integers(0, max(n_clinics - 1, 1), len(src))) % n_clinics
    dups.set(clinic=np.where(dups.dup_cross, other, dups.clinic), plant=np.full(len(src), "duplicate_rebill", dtype=object),
             doc_missing=np.zeros(len(src), np.int64))
    dups.set(totals_only=world.clinic_totals_only[dups.clinic] & dups.cms)
    n_orig = len(v)
    v = v.concat(dups)
    order = np.lexsort((v.th, v.start, v.clinic, v.day))
    order = np.r_[order[order < n_orig], order[order >= n_orig]]
    seq = np.empty(len(v), np.int64)
    seq[order] = np.arange(len(v))
    year, month = period.months[month_index]
    lines, vi = _lines(world, v, seq, f"{world.claim_prefix}{year % 100:02d}{month:02d}", dx_series, rng)
    key = _answer_key(world, v, lines, vi, imp_tds, ov_applied, n_days)
    perm = rng.permutation(lines.height)
    return MonthOutput(lines=lines[perm], key=key)


def _plan_visits(
    v: Visits, td: np.ndarray, world: World, rng: np.random.Generator, counts: dict[str, int], cms: np.ndarray
) -> None:
    """Steps 2-4: visit types, DAILY_LIMIT visits, timed codes, minutes, units, untimed lines and
    durations, set on ``v``."""
    n_days = world.period.n_days
    n = len(v)
    supportive = v.supportive
    disc = world.th_disc[v.th]
    high = world.th_high[v.th]
    assistant = world.th_assistant[v.th]

    # 2. visit types ----------------------------------------------------------------------------------
    vtype = np.full(n, TREAT, np.int8)
    vtype[(v.k == 0) & ~assistant & ~v.long] = EVAL
    vtype[(v.k > 0) & (v.k % 10 == 0) & ~assistant & ~v.long] = REEVAL
    group_c = (vtype == TREAT) & (v.dual == 0) & ~v.long & ~v.walkin & (rng.random(n) < GROUP_P)
    group = group_c & (_count_per(td, group_c) >= 2)
    vtype[group] = GROUP_VISIT

    # 3. DAILY_LIMIT ----------------------------------------------------------------------------------
    allow112 = supportive & (v.dual != 2)
    pd_key = v.pid * n_days + v.day
    dl_idx = _pick(rng, allow112 & ~group & ~v.long & ~high & ~v.walkin, pd_key, counts.get("DAILY_LIMIT", 0))
    dl = np.zeros(n, bool)
    dl[dl_idx] = True

    # 4. timed codes, minutes, units --------------------------------------------------------------------
    weights = cat.TIMED_WEIGHTS[disc].copy()
    weights[~allow112, cat.I97112] = 0.0
    with np.errstate(divide="ignore"):
        gumbel = np.log(weights) + rng.gumbel(size=weights.shape)
    force112 = dl | (high & allow112 & (rng.random(n) < 0.85))
    gumbel[force112, cat.I97112] = np.inf
    codes = np.argsort(-gumbel, axis=1, kind="stable")[:, :3]
    n_allowed = (gumbel > -np.inf).sum(axis=1)
    n_timed = np.select(
        [vtype == EVAL, vtype == REEVAL, vtype == GROUP_VISIT, v.long, high],
        [rng.choice(3, n, p=[0.4, 0.4, 0.2]), rng.choice([1, 2], n, p=[0.6, 0.4]), np.zeros(n, np.int64),
         rng.choice([2, 3], n), rng.choice([1, 2, 3], n, p=[0.45, 0.45, 0.10])],
        rng.choice([1, 2, 3], n, p=[0.25, 0.45, 0.30]),
    )
    n_timed = np.where(dl, np.clip(n_timed, 1, 2), n_timed)
    n_timed = np.minimum(n_timed, n_allowed)
    present = np.arange(3)[None, :] < n_timed[:, None]
    lo, hi = cat.MINUTES_LO[codes], cat.MINUTES_HI[codes]
    u = rng.random((n, 3))
    minutes = lo + (u * (hi - lo + 1)).astype(np.int64)
    is112 = present & (codes == cat.I97112)
    (a1, b1), (a2, b2) = cat.M97112_PEER
    peer112 = np.where(rng.random((n, 3)) < 0.7, a1 + (u * (b1 - a1 + 1)).astype(np.int64), a2 + (u * (b2 - a2 + 1)).astype(np.int64))
    minutes = np.where(is112, peer112, minutes)
    lo_h, hi_h = cat.M97112_HIGH
    minutes = np.where(is112 & (force112 & ~dl)[:, None], lo_h + (u * (hi_h - lo_h + 1)).astype(np.int64), minutes)
    lo_d, hi_d = cat.M97112_DAILY_LIMIT
    minutes = np.where(is112 & dl[:, None], lo_d + (u * (hi_d - lo_d + 1)).astype(np.int64), minutes)
    # long (impossible-day) visits: every code 16-27 minutes, 48-54 a visit, each code billed
    long_min = np.where(n_timed == 2, 24, 16)[:, None] + (u * np.where(n_timed == 2, 4, 3)[:, None]).astype(np.int64)
    minutes = np.where(v.long[:, None], long_min, minutes)
    short = (vtype == TREAT) & ~v.long & (n_timed >= 2) & (rng.random(n) < SHORT_LINE_P)
    last = np.arange(3)[None, :] == (n_timed - 1)[:, None]
    minutes = np.where(short[:, None] & last, rng.integers(3, 8, (n, 3)), minutes)
    minutes = np.where(present, minutes, 0)
    units = np.where(cms[:, None], cms_allocation(minutes, present, rng.random((n, 3))), ama_units(minutes, present))
    tot = minutes.sum(axis=1)

    # untimed lines: evaluation / re-evaluation / group (slot 0), supervised modality (slot 4)
    slot0 = np.full(n, -1, np.int64)
    ev = np.where(disc == 0, rng.choice(3, n, p=cat.EVAL_P), rng.choice(3, n, p=cat.EVAL_P) + 3)
    slot0 = np.where(vtype == EVAL, cat.CODE_INDEX[cat.EVAL_PT[0]] + ev, slot0)
    slot0 = np.where(vtype == REEVAL, np.where(disc == 0, cat.CODE_INDEX["97164"], cat.CODE_INDEX["97168"]), slot0)
    slot0 = np.where(group, cat.CODE_INDEX[cat.GROUP], slot0)
    eval_min = np.select([vtype == EVAL, vtype == REEVAL], [rng.integers(20, 46, n), rng.integers(15, 31, n)], -1)
    r_mod = rng.random(n)
    has_mod = np.select(
        [v.long, vtype == TREAT, vtype == GROUP_VISIT, vtype == EVAL],
        [False, r_mod < np.where(disc == 0, 0.18, 0.08), r_mod < 0.3, (disc == 0) & (r_mod < 0.1)],
        False,
    )
    estim = np.where(cms, cat.CODE_INDEX[cat.ESTIM_CMS], cat.CODE_INDEX[cat.ESTIM])  # Medicare wants G0283
    pt_mod = np.where(rng.random(n) < 0.6, cat.CODE_INDEX[cat.HOT_PACK], estim)
    ot_mod = np.where(rng.random(n) < 0.5, cat.CODE_INDEX[cat.HOT_PACK], cat.CODE_INDEX[cat.PARAFFIN])
    mod = np.where(group, cat.CODE_INDEX[cat.HOT_PACK], np.where(disc == 0, pt_mod, ot_mod))
    mod = np.where(has_mod, mod, -1)

    session = 45 + 15 * ((td // 7) % 2)
    dur = np.where(
        v.long,
        tot,
        tot + np.maximum(eval_min, 0) + np.where(mod >= 0, rng.integers(10, 16, n), 0) + rng.integers(0, 11, n),
    )
    dur = np.where(group, session, dur)
    v.set(vtype=vtype, dl=dl, codes=codes, present=present, minutes=minutes, units=units, tot=tot,
          slot0=slot0, eval_min=eval_min, mod=mod, dur=dur, cms=cms, disc=disc, high=high, assistant=assistant,
          group=group)


# --- scheduling ------------------------------------------------------------------------------------------


def _schedule(v: Visits, td: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start minute (from midnight) of each visit: therapist-days back to back with gaps, a lunch
    break, dual patients' PT visit first and OT visit last; group sessions share one slot; impossible
    days from 06:00 without gaps or lunch."""
    n = len(v)
    if n == 0:
        return np.zeros(0, np.int64)
    g_rank = _rank_within(np.where(v.group, td, -1), rng.random(n))
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
    starts, run = _segments(s_td[order])
    n_in = np.diff(np.r_[starts, len(order)])[run]
    rank = np.arange(len(order)) - starts[run]
    long_ = s_long[order]
    am = long_ | ((rank < (n_in + 1) // 2) & (s_order_key[order] != 3.0))
    gap = np.where(long_, 0, rng.choice([0, 0, 5, 10, 15], len(order)))
    step = s_dur[order] + gap
    part = run * 2 + (~am)
    p_starts, p_run = _segments(part)
    excl = _excl_cumsum(step, p_run, p_starts)
    n_td = len(starts)
    day_start = np.where(long_[starts], 360, 420 + 15 * rng.integers(0, 7, n_td))
    lunch = 750 + 15 * rng.integers(0, 3, n_td)
    am_total = np.bincount(run, weights=np.where(am, step, 0), minlength=n_td).astype(np.int64)
    pm_start = np.maximum(lunch, day_start + am_total + 30)
    s_start_sorted = np.where(am, day_start[run] + excl, pm_start[run] + excl)
    s_start = np.empty(n_slots, np.int64)
    s_start[order] = s_start_sorted
    return s_start[inverse]


def _separate_dual(v: Visits, td: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    starts, run = _segments(ot_td[order])
    base_run = np.zeros(len(starts), np.int64)
    np.maximum.at(base_run, run, base[order])
    steps = v.dur[ot[order]] + 5
    new_start = base_run[run] + 15 + _excl_cumsum(steps, run, starts)
    moved = ot[order]
    start[moved] = new_start
    end[moved] = new_start + v.dur[moved]
    return start, end


def _plant_overlaps(
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
    chosen = _pick(rng, np.ones(len(pairs), bool), td[cur[pairs]], len(pairs))
    p, c = prev[pairs[chosen]], cur[pairs[chosen]]
    extra = np.minimum(room[pairs[chosen]], 20)
    ov = need[pairs[chosen]] + (rng.random(len(p)) * (extra + 1)).astype(np.int64)
    start, end = start.copy(), end.copy()
    start[c] = end[p] - ov
    end[c] = start[c] + v.dur[c]
    return start, end, np.unique(td[c])


# --- lines ---------------------------------------------------------------------------------------------------


def _lines(
    world: World, v: Visits, seq: np.ndarray, claim_prefix: str, dx_series: pl.Series, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """The claim lines of the visits (visit order, slot order) and the visit index of each line."""
    timed_code = np.where(v.present, v.codes, -1)
    slots = np.column_stack([v.slot0, timed_code, v.mod])
    vi, col = np.nonzero(slots >= 0)
    code = slots[vi, col]
    line_number = np.arange(len(vi)) - np.searchsorted(vi, vi, side="left") + 1
    timed = (col >= 1) & (col <= 3)
    tcol = np.clip(col - 1, 0, 2)
    raw_minutes = np.where(timed, v.minutes[vi, tcol], np.where(col == 0, v.eval_min[vi], -1))
    units = np.where(timed, v.units[vi, tcol], 1)
    hide = v.mm[vi] | (v.totals_only[vi] & (col <= 3))
    minutes_known = (raw_minutes >= 0) & ~hide

    # modifiers: discipline, assistant, 59 on 97140 next to 97530, KX above the Medicare threshold
    has530 = (v.present & (v.codes == cat.I97530)).any(axis=1)
    mod59 = (code == cat.I97140) & has530[vi]
    kx = (v.payer[vi] == cat.MEDICARE) & (v.k[vi] >= v.kx_from[vi])
    disc = v.disc[vi]
    assistant = v.assistant[vi]

    # amounts
    clinic = v.clinic[vi]
    payer = v.payer[vi]
    medicare_like = (payer == cat.MEDICARE) | (payer == cat.MEDICARE_ADVANTAGE)
    fee = cat.FEE_ARRAY[code]
    charge_unit = np.round(fee * world.clinic_markup[clinic])
    charge_unit = np.where(code == cat.CODE_INDEX[cat.HOT_PACK], 25.0, charge_unit)
    allowed_unit = fee * cat.ALLOWED_MULT[payer] * np.where(assistant & medicare_like, 0.85, 1.0)
    allowed_unit = np.where((code == cat.CODE_INDEX[cat.HOT_PACK]) & medicare_like, 0.0, allowed_unit)
    charge = units * charge_unit
    allowed = np.round(units * allowed_unit, 2)
    paid = np.round(allowed * cat.PAID_RATIO[payer], 2)

    doc = _documentation(v, rng, world)
    day_epoch = world.period.epoch_day0 + v.day[vi]
    start_us = (day_epoch * 1440 + v.start[vi]) * 60_000_000
    end_us = (day_epoch * 1440 + v.end[vi]) * 60_000_000
    sep = world.clinic_sep[clinic]
    nodot = world.clinic_nodot[clinic]
    dx_bad = v.dx_bad[vi]

    frame = pl.DataFrame(
        {
            "_seq": seq[vi],
            "_pid": v.pid[vi],
            "line_number": line_number.astype(np.int64),
            "units_billed": units.astype(np.int64),
            "_minutes": raw_minutes,
            "_minutes_known": minutes_known,
            "_tot": v.tot[vi],
            "_mm": v.mm[vi],
            "_clinic": clinic,
            "_disc": disc.astype(np.int64),
            "_assistant": assistant,
            "_mod59": mod59,
            "_kx": kx,
            "_nodot": nodot,
            "_sep": sep.astype(np.int64),
            "charge_amount": charge,
            "allowed_amount": allowed,
            "paid_amount": paid,
            "_start": start_us,
            "_end": end_us,
            "_day": day_epoch.astype(np.int32),
            "_deficit": doc["deficit"][vi],
            "_goals": doc["goals"][vi],
            "_response": doc["response"][vi],
            "_flags_on": doc["flags_on"][vi],
            "justification_documented": doc["justification"][vi],
        }
    )
    strs = lambda values: pl.Series(list(values), dtype=pl.String)  # noqa: E731
    visit_notes = doc["notes"]
    note_of = doc["note_of"]
    dx = dx_series.gather(v.dx[vi])
    if (dx_bad >= 0).any():
        dx = dx.scatter(np.flatnonzero(dx_bad >= 0), strs(cat.UNSUPPORTIVE_DX).gather(dx_bad[dx_bad >= 0]))
    frame = frame.with_columns(
        strs(cat.ALL_CODES).gather(code).alias("cpt_code"),
        strs(world.th_npi).gather(v.th[vi]).alias("rendering_npi"),
        strs(world.th_name).gather(v.th[vi]).alias("provider_name"),
        strs(world.clinic_npi).gather(clinic).alias("billing_npi"),
        strs(world.clinic_name).gather(clinic).alias("clinic_name"),
        strs(cat.PAYERS).gather(payer).alias("payer_type"),
        strs(cat.PAYER_NAME_LIST).gather(v.payer_name[vi]).alias("payer_name"),
        dx.alias("_dx"),
        visit_notes.gather(pl.select(pl.when(pl.lit(note_of[vi]) >= 0).then(pl.lit(note_of[vi]))).to_series()).alias("note_text"),
    )
    tokens = pl.concat_str(
        [
            pl.when(pl.col("_disc") == 0).then(pl.lit("GP")).otherwise(pl.lit("GO")),
            pl.when(pl.col("_assistant")).then(pl.when(pl.col("_disc") == 0).then(pl.lit("CQ")).otherwise(pl.lit("CO"))),
            pl.when(pl.col("_mod59")).then(pl.lit("59")),
            pl.when(pl.col("_kx")).then(pl.lit("KX")),
        ],
        separator=";",
        ignore_nulls=True,
    )
    lines = frame.with_columns(
        pl.format("{}{}", pl.lit(claim_prefix), pl.col("_seq").cast(pl.String).str.zfill(7)).alias("claim_id"),
        pl.format("{}{}", pl.lit(world.patient_prefix), pl.col("_pid").cast(pl.String).str.zfill(8)).alias("patient_id"),
        pl.col("_day").cast(pl.Date).alias("service_date"),
        pl.when(pl.col("_minutes_known")).then(pl.col("_minutes")).alias("minutes"),
        pl.when(~pl.col("_mm")).then(pl.col("_tot")).alias("total_timed_minutes"),
        pl.when(pl.col("_sep") == 1)
        .then(tokens.str.replace_all(";", ",", literal=True))
        .when(pl.col("_sep") == 2)
        .then(tokens.str.replace_all(";", " ", literal=True))
        .otherwise(tokens)
        .alias("modifiers"),
        pl.when(pl.col("_nodot"))
        .then(pl.col("_dx").str.replace_all(".", "", literal=True))
        .otherwise(pl.col("_dx"))
        .alias("diagnosis_codes"),
        pl.col("_start").cast(pl.Datetime("us")).alias("visit_start"),
        pl.col("_end").cast(pl.Datetime("us")).alias("visit_end"),
        pl.when(pl.col("_disc") == 0).then(pl.lit("PT")).otherwise(pl.lit("OT")).alias("provider_specialty"),
        *(pl.when(pl.col("_flags_on")).then(pl.col(f"_{e}")).alias(f"{e}_documented") for e in ("deficit", "goals", "response")),
        pl.lit(None, pl.Int64).alias("claim_frequency"),
        pl.lit(None, pl.String).alias("original_claim_id"),
    ).select(pl.col(c).cast(t) for c, t in CANONICAL.items())
    return lines, vi


def _missing_elements(rng: np.random.Generator, flags_only: np.ndarray) -> np.ndarray:
    """Bitmask (``DOC_BITS``) of what each DOCUMENTATION plant lacks: one element, or two
    (``DOC_TWO_MISSING_P``); in a clinic exporting flags only one of the three flagged elements (no
    note: its technique cannot be read)."""
    m = len(flags_only)
    if m == 0:
        return np.zeros(0, np.int64)
    key = rng.random((m, len(cat.DOC_ELEMENTS)))
    key[flags_only, cat.DOC_ELEMENTS.index("technique")] = np.inf
    bits = np.left_shift(1, np.argsort(key, axis=1))
    two = rng.random(m) < DOC_TWO_MISSING_P
    return bits[:, 0] | np.where(two, bits[:, 1], 0)


def _documentation(v: Visits, rng: np.random.Generator, world: World) -> dict:
    """Per visit: the deficit / goals / response flags (``flags_on`` false where the clinic exports
    no flags: the columns are null there), the justification flag, and the note of each visit billing
    97112 in a clinic exporting notes (``notes``, with ``note_of`` = its index or -1).

    Clean data: every patient-day billing 97112 is fully documented (flags true; a note showing a
    deficit, a skilled technique, a measurable goal and the response), so DOCUMENTATION never fires;
    other visits have the flags mostly true. In clinics exporting both, some clean notes lack a
    flagged element whose flag is true (the flag takes precedence: still no finding). A DOCUMENTATION
    plant (``v.doc_missing``) has the flag of each missing flagged element false (and, in a clinic
    exporting both, the note lacking it too half of the time) and, where the clinic exports notes
    only, a note lacking the missing elements; a missing technique is a note without one.
    """
    n = len(v)
    export = world.clinic_doc_export[v.clinic]
    has112 = (v.present & (v.codes == cat.I97112)).any(axis=1)
    pd_key = v.pid * 100_000 + v.day
    full = np.isin(pd_key, pd_key[has112])
    miss = v.doc_missing
    doc: dict = {
        e: (full | (rng.random(n) < 0.92)) & ((miss & DOC_BITS[e]) == 0) for e in ("deficit", "goals", "response")
    }
    doc["flags_on"] = export != DOC_NOTES
    doc["justification"] = np.where(v.dl, rng.random(n) < 0.4, rng.random(n) < 0.8)

    with_note = np.flatnonzero(has112 & (export != DOC_FLAGS))
    m = len(with_note)
    w_export, w_miss = export[with_note], miss[with_note]
    # what each note lacks: the plant's elements (in a clinic exporting both, a flagged one only half
    # of the time), or on a clean visit of such a clinic now and then one flagged element
    note_too = rng.random(m) < DOC_NOTE_TOO_P
    gap = np.left_shift(1, rng.integers(0, 3, m))
    clean_gap = (w_export == DOC_BOTH) & (w_miss == 0) & (rng.random(m) < DOC_CLEAN_NOTE_GAP_P)
    in_both = (w_miss & DOC_BITS["technique"]) | np.where(note_too, w_miss & FLAGGED_BITS, 0)
    lacks = np.where(w_export == DOC_NOTES, w_miss, in_both)
    lacks = lacks | np.where(clean_gap, gap, 0)

    def bank(phrases: tuple[str, ...]) -> pl.Series:
        return pl.Series(list(phrases), dtype=pl.String).gather(rng.integers(0, len(phrases), m))

    sections = {"opening": bank(cat.NOTE_OPENING)}
    for e in cat.DOC_ELEMENTS:
        shows, lacking = bank(cat.NOTE_SHOWS[e]), bank(cat.NOTE_LACKS[e])
        sections[e] = shows.zip_with(pl.Series((lacks & DOC_BITS[e]) == 0), lacking)
    frame = pl.DataFrame(sections).with_columns(
        pl.Series("_t", rng.choice(len(cat.NOTE_TEMPLATES), size=m, p=cat.NOTE_TEMPLATE_P)),
        pl.Series("_lower", rng.random(m) < NOTE_LOWER_P),
    )
    note = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for t, template in enumerate(cat.NOTE_TEMPLATES):
        parts = [pl.when(pl.col(sec) != "").then(pl.format(header, pl.col(sec))) for sec, header in template]
        note = note.when(pl.col("_t") == t).then(pl.concat_str(parts, separator=" ", ignore_nulls=True))
    note = note.otherwise(pl.lit(""))
    lowered = pl.when(pl.col("_lower")).then(note.str.to_lowercase()).otherwise(note)
    doc["notes"] = frame.select(lowered.alias("note")).to_series()
    doc["note_of"] = np.full(n, -1, np.int64)
    doc["note_of"][with_note] = np.arange(m)
    return doc


# --- answer key ------------------------------------------------------------------------------------------------


def _answer_key(
    world: World,
    v: Visits,
    lines: pl.DataFrame,
    vi: np.ndarray,
    imp_tds: np.ndarray,
    ov_tds: np.ndarray,
    n_days: int,
) -> pl.DataFrame:
    first_line = np.searchsorted(vi, np.arange(len(v)), side="left")
    first_line = np.minimum(first_line, max(len(vi) - 1, 0))
    visit_cols = lines.select("patient_id", "service_date", "rendering_npi", "claim_id")[first_line]
    miss = pl.Series("_miss", v.doc_missing, dtype=pl.Int64)
    visit_cols = visit_cols.with_columns(
        pl.Series("plant", v.plant.astype(str), dtype=pl.String),
        pl.concat_list(
            [pl.when(pl.lit(miss) & b != 0).then(pl.lit(e)) for e, b in DOC_BITS.items()]
        ).list.drop_nulls().alias("missing"),
    )
    frames = []

    def add(frame: pl.DataFrame, rule: str, plant: str | None = None) -> None:
        grain = GRAIN[rule]
        frames.append(
            frame.select(
                pl.lit(rule).alias("rule_id"),
                *[
                    (pl.col(c).cast(pl.String) if c != "line_number" else pl.col(c)).alias(c)
                    if c in grain
                    else pl.lit(None, KEY_SCHEMA[c]).alias(c)
                    for c in ("rendering_npi", "patient_id", "service_date", "claim_id", "line_number")
                ],
                (pl.lit(plant) if plant else pl.col("plant")).alias("plant"),
                (pl.col("missing") if rule == "DOCUMENTATION" else pl.lit(None, KEY_SCHEMA["missing"])).alias("missing"),
            )
        )

    plant = pl.col("plant")
    add(visit_cols.filter(plant == "units_over_minutes"), "UNITS_OVER_MINUTES")
    add(visit_cols.filter(plant == "allocation"), "ALLOCATION")
    add(visit_cols.filter(plant == "daily_limit"), "DAILY_LIMIT")
    add(visit_cols.filter(plant.str.starts_with("duplicate_") & (plant != "duplicate_rebill")), "DUPLICATE")
    add(visit_cols.filter(plant.str.starts_with("documentation_")), "DOCUMENTATION")
    line_plant = pl.Series("plant", v.plant[vi].astype(str), dtype=pl.String)
    lines_p = lines.select("claim_id", "line_number", "cpt_code", "units_billed").with_columns(line_plant)
    timed = pl.col("cpt_code").is_in(list(cat.TIMED_CODES))
    add(lines_p.filter((plant == "minutes_missing") & timed & (pl.col("units_billed") > 0)), "MINUTES_MISSING")
    add(lines_p.filter((plant == "dx_support") & (pl.col("cpt_code") == "97112") & (pl.col("units_billed") > 0)), "DX_SUPPORT")
    td = v.th * n_days + v.day
    for rule, tds, name in (("OVERLAP", ov_tds, "overlap"), ("IMPOSSIBLE_DAY", imp_tds, "impossible_day")):
        on = np.flatnonzero(np.isin(td, tds))
        first = np.sort(on[np.unique(td[on], return_index=True)[1]])
        add(visit_cols[first].with_columns(pl.lit(name).alias("plant")), rule, name)
    key = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=KEY_SCHEMA)
    return key.cast(KEY_SCHEMA)

