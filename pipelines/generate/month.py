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

from pipelines.generate import catalog as cat
from pipelines.generate.answer_key import answer_key_rows
from pipelines.generate.arrays import Visits, count_per, excl_cumsum, pick, rank_within, segments
from pipelines.generate.lines import lay_out_lines, missing_elements
from pipelines.generate.schedule import plant_overlaps, schedule, separate_dual
from pipelines.generate.units import ama_units, cms_allocation, cms_max_units
from pipelines.generate.world import DOC_FLAGS, World, make_patients

TREAT, EVAL, REEVAL, GROUP_VISIT = 0, 1, 2, 3
IMPOSSIBLE_VISITS = 16  # x >= 48 timed minutes each > 720
DAY_TIMED_CAP = 540  # clean therapist-days stay under 9 hours of timed minutes
DAY_DURATION_CAP = 600
DAY_VISIT_CAP = 13
GROUP_P = 0.05
SHORT_LINE_P = 0.12  # a timed code of 3-7 minutes next to others (often 0 units)

# the rules the generator plants, in the order their answer-key counts are reported
RULE_IDS = (
    "UNITS_OVER_MINUTES",
    "ALLOCATION",
    "DAILY_LIMIT",
    "DUPLICATE",
    "MINUTES_MISSING",
    "DX_SUPPORT",
    "OVERLAP",
    "IMPOSSIBLE_DAY",
    "DOCUMENTATION",
    "UNTIMED_UNITS",  # UNTIMED_UNITS: planted by scenarios.py only
)


@dataclass
class MonthOutput:
    lines: pl.DataFrame  # canonical columns, rows shuffled
    key: pl.DataFrame  # answer-key rows (KEY_SCHEMA)


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
    td_of = lambda vv: vv.th * n_days + vv.day

    # 1. IMPOSSIBLE_DAY: 16 long visits on chosen therapist-days --------------------------------------
    td = td_of(v)
    imp_tds = np.unique(td[pick(rng, ~world.th_high[v.th], td, counts.get("IMPOSSIBLE_DAY", 0))])
    on_imp = np.isin(td, imp_tds)
    over = on_imp & (rank_within(np.where(on_imp, td, -1), rng.random(n)) >= IMPOSSIBLE_VISITS)
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
    starts, run = segments(td[order])
    t_cum = np.cumsum(tot[order])
    t_cum = t_cum - (t_cum - tot[order])[starts][run]
    d_vals = np.where(group, 0, dur)[order]
    d_cum = excl_cumsum(d_vals, run, starts) + d_vals
    c_vals = (~group[order]).astype(np.int64)
    c_cum = excl_cumsum(c_vals, run, starts) + c_vals
    keep_sorted = (
        v.long[order]
        | group[order]
        | ((t_cum <= DAY_TIMED_CAP) & (d_cum <= DAY_DURATION_CAP) & (c_cum <= DAY_VISIT_CAP))
    )
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
    has_dl = count_per(td, v.dl) > 0
    ov_cand = (count_per(td, ov_visit) >= 2) & ~v.high & ~v.long & ~has_dl
    ov_tds = np.unique(td[pick(rng, ov_cand, td, counts.get("OVERLAP", 0))])
    on_ov = np.isin(td, ov_tds)

    taken = np.isin(pd_key, pd_key[v.dl])
    base = ~v.high & ~v.long & ~v.group & ~v.walkin & ~on_ov

    def choose(rule: str, mask: np.ndarray) -> np.ndarray:
        nonlocal taken
        idx = pick(rng, mask & base & ~taken, pd_key, counts.get(rule, 0))
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
    doc_missing[doc_idx] = missing_elements(rng, world.clinic_doc_export[clinic[doc_idx]] == DOC_FLAGS)

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
    v.set(
        units=units,
        mm=mm,
        dx_bad=dx_bad,
        plant=plant,
        dup_cross=dup_cross,
        dup_src=is_dup_src,
        totals_only=totals_only,
        clinic=clinic,
        on_ov=on_ov,
        doc_missing=doc_missing,
    )

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
    start = schedule(v, td, rng)
    end = start + v.dur
    start, end = separate_dual(v, td, start, end)
    start, end, ov_applied = plant_overlaps(v, td, start, end, rng)
    v.set(start=start, end=end)

    # 9. duplicates, claims, lines --------------------------------------------------------------------------
    src = np.flatnonzero(v.dup_src)
    dups = v.take(src)
    other = (dups.clinic + 1 + rng.integers(0, max(n_clinics - 1, 1), len(src))) % n_clinics
    dups.set(
        clinic=np.where(dups.dup_cross, other, dups.clinic),
        plant=np.full(len(src), "duplicate_rebill", dtype=object),
        doc_missing=np.zeros(len(src), np.int64),
    )
    dups.set(totals_only=world.clinic_totals_only[dups.clinic] & dups.cms)
    n_orig = len(v)
    v = v.concat(dups)
    order = np.lexsort((v.th, v.start, v.clinic, v.day))
    order = np.r_[order[order < n_orig], order[order >= n_orig]]
    seq = np.empty(len(v), np.int64)
    seq[order] = np.arange(len(v))
    year, month = period.months[month_index]
    lines, vi = lay_out_lines(world, v, seq, f"{world.claim_prefix}{year % 100:02d}{month:02d}", dx_series, rng)
    key = answer_key_rows(world, v, lines, vi, imp_tds, ov_applied, n_days)
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
    group = group_c & (count_per(td, group_c) >= 2)
    vtype[group] = GROUP_VISIT

    # 3. DAILY_LIMIT ----------------------------------------------------------------------------------
    allow112 = supportive & (v.dual != 2)
    pd_key = v.pid * n_days + v.day
    dl_idx = pick(rng, allow112 & ~group & ~v.long & ~high & ~v.walkin, pd_key, counts.get("DAILY_LIMIT", 0))
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
        [
            rng.choice(3, n, p=[0.4, 0.4, 0.2]),
            rng.choice([1, 2], n, p=[0.6, 0.4]),
            np.zeros(n, np.int64),
            rng.choice([2, 3], n),
            rng.choice([1, 2, 3], n, p=[0.45, 0.45, 0.10]),
        ],
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
    peer112 = np.where(
        rng.random((n, 3)) < 0.7, a1 + (u * (b1 - a1 + 1)).astype(np.int64), a2 + (u * (b2 - a2 + 1)).astype(np.int64)
    )
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
    v.set(
        vtype=vtype,
        dl=dl,
        codes=codes,
        present=present,
        minutes=minutes,
        units=units,
        tot=tot,
        slot0=slot0,
        eval_min=eval_min,
        mod=mod,
        dur=dur,
        cms=cms,
        disc=disc,
        high=high,
        assistant=assistant,
        group=group,
    )
