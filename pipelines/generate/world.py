"""The population behind an extract: clinics, therapists, patients and their episodes of care.

Built once per extract, vectorized: every episode (a patient seen by one therapist two or three times
a week for some weeks, with the same diagnoses) is exploded into visit dates; the months then slice
those visits. Patients with both PT and OT (a "dual" patient, e.g. after a stroke) have one episode per
discipline on the same weekdays, so the same day carries two 8-minute-rule groups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.generate import catalog as cat
from pipelines.generate.npi import make_npis

EPOCH = dt.date(1970, 1, 1)

# Weekly attendance patterns: weekday offsets (Mon = 0), padded with -1.
PATTERNS = np.array(
    [
        [0, 2, 4],
        [1, 3, -1],
        [0, 3, -1],
        [1, 4, -1],
        [0, 2, -1],
        [2, 4, -1],
        [0, -1, -1],
        [1, -1, -1],
        [2, -1, -1],
        [3, -1, -1],
        [4, -1, -1],
    ],
    dtype=np.int64,
)
# Weights that load every weekday about evenly (a 3x/week episode has ~12 visits, 2x ~10, 1x ~5.5).
PATTERN_P = np.array([0.30, 0.30, 0.06, 0.06, 0.06, 0.06, 0.032, 0.032, 0.032, 0.032, 0.032])
PATTERN_FREQ = (PATTERNS >= 0).sum(axis=1)
CANCEL_P = 0.06  # a scheduled visit that did not happen
DAY_OFF_P = 0.03  # a therapist's day off
DUAL_P = 0.06  # PT episodes whose patient also has OT on the same days
PT_SHARE = 0.7
ASSISTANT_P = 0.2
# What a clinic's EHR exports of the 97112 documentation: the structured flags only, the note text
# only, or both (DOCUMENTATION reads the flags first, the note for the rest).
DOC_FLAGS, DOC_NOTES, DOC_BOTH = 0, 1, 2


def us_holidays(year: int) -> set[dt.date]:
    """Federal holidays most outpatient clinics close on (observed dates)."""

    def observed(d: dt.date) -> dt.date:
        return d - dt.timedelta(days=1) if d.weekday() == 5 else d + dt.timedelta(days=1) if d.weekday() == 6 else d

    def nth_weekday(month: int, weekday: int, n: int) -> dt.date:
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)

    last_may = dt.date(year, 5, 31)
    memorial = last_may - dt.timedelta(days=last_may.weekday())
    return {
        observed(dt.date(year, 1, 1)),
        memorial,
        observed(dt.date(year, 7, 4)),
        nth_weekday(9, 0, 1),
        nth_weekday(11, 3, 4),
        observed(dt.date(year, 12, 25)),
    }


@dataclass
class Period:
    """Service months: calendar days indexed 0..n_days-1 from ``first``."""

    first: dt.date
    months: list[tuple[int, int]]
    month_start: np.ndarray  # day index of each month's first day
    month_end: np.ndarray  # day index one past each month's last day
    workday: np.ndarray  # bool per day index
    epoch_day0: int  # days since 1970-01-01 of ``first``

    @classmethod
    def build(cls, start_month: str, months: int) -> Period:
        try:
            year, month = (int(x) for x in start_month.split("-"))
            first = dt.date(year, month, 1)
        except ValueError as exc:
            raise ValueError(f"start_month must be YYYY-MM, got {start_month!r}") from exc
        if months < 1:
            raise ValueError("months must be at least 1")
        ym, starts, ends = [], [], []
        for i in range(months):
            y, m = divmod(month - 1 + i, 12)
            y, m = year + y, m + 1
            ym.append((y, m))
            d0 = dt.date(y, m, 1)
            d1 = dt.date(y + (m == 12), m % 12 + 1, 1)
            starts.append((d0 - first).days)
            ends.append((d1 - first).days)
        n_days = ends[-1]
        holidays = set().union(*(us_holidays(y) for y in range(year, ym[-1][0] + 1)))
        dates = [first + dt.timedelta(days=i) for i in range(n_days)]
        workday = np.array([d.weekday() < 5 and d not in holidays for d in dates])
        return cls(first, ym, np.array(starts), np.array(ends), workday, (first - EPOCH).days)

    @property
    def n_days(self) -> int:
        return int(self.month_end[-1])

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=self.n_days - 1)

    def workdays_in(self, i: int) -> int:
        return int(self.workday[self.month_start[i] : self.month_end[i]].sum())


@dataclass
class World:
    period: Period
    patient_prefix: str
    claim_prefix: str
    # clinics (billing providers)
    clinic_npi: np.ndarray
    clinic_name: np.ndarray
    clinic_totals_only: np.ndarray  # CMS visits export the visit total only, no per-code minutes
    clinic_sep: np.ndarray  # modifier separator: 0 ';', 1 ',', 2 ' '
    clinic_nodot: np.ndarray  # diagnosis codes written without the dot
    clinic_markup: np.ndarray  # charge master over the Medicare fee
    clinic_doc_export: np.ndarray  # DOC_FLAGS, DOC_NOTES or DOC_BOTH
    # therapists (rendering providers)
    th_npi: np.ndarray
    th_name: np.ndarray
    th_disc: np.ndarray  # 0 PT, 1 OT
    th_assistant: np.ndarray  # PTA / COTA: CQ / CO modifiers, no evaluations
    th_high: np.ndarray  # planted high-97112 provider
    th_clinic: np.ndarray
    th_off: np.ndarray  # (therapist, day) day off
    # patients
    pat_payer: np.ndarray
    pat_payer_name: np.ndarray  # index into catalog.PAYER_NAME_LIST
    pat_dx: pl.Series  # diagnosis codes with dots, ';'-separated
    pat_supportive: np.ndarray  # carries a dx supporting 97112
    pat_kx_from: np.ndarray  # visit index from which Medicare lines carry KX
    # visits of every episode inside the period, sorted by day
    v_pat: np.ndarray
    v_th: np.ndarray
    v_day: np.ndarray
    v_k: np.ndarray  # visit index within the episode (0 = first visit: evaluation)
    v_dual: np.ndarray  # 0 single discipline, 1 PT side of a dual day, 2 OT side
    walkins: int = 0  # one-off patients added by the months so far (ids follow the episode patients)

    @property
    def n_patients(self) -> int:
        return len(self.pat_payer)

    def month_slice(self, i: int) -> slice:
        lo = np.searchsorted(self.v_day, self.period.month_start[i], side="left")
        hi = np.searchsorted(self.v_day, self.period.month_end[i], side="left")
        return slice(int(lo), int(hi))


def make_patients(rng: np.random.Generator, population: np.ndarray) -> dict[str, np.ndarray | pl.Series]:
    """Payer, diagnoses and KX threshold for patients of the given population codes
    (0 PT, 1 PT-high, 2 OT, 3 dual)."""
    n = len(population)
    names = ("pt", "pt_high", "ot", "dual")
    profile = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(names):
        sel = np.flatnonzero(population == code)
        if len(sel):
            profile[sel] = rng.choice(len(cat.DX_PROFILES), size=len(sel), p=cat.PROFILE_P[name])
    # primary: one of the profile's primary codes; secondaries: 0-2 of its four, distinct
    prim_len = np.array([len(p.primary) for p in cat.DX_PROFILES])
    prim_tab = np.array(
        [list(p.primary) + [""] * (prim_len.max() - len(p.primary)) for p in cat.DX_PROFILES], dtype=object
    )
    sec_tab = np.array([list(p.secondary) for p in cat.DX_PROFILES], dtype=object)
    prim = prim_tab[profile, (rng.random(n) * prim_len[profile]).astype(np.int64)]
    n_sec = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])
    order = np.argsort(rng.random((n, 4)), axis=1)
    sec1 = np.where(n_sec >= 1, sec_tab[profile, order[:, 0]], None)
    sec2 = np.where(n_sec >= 2, sec_tab[profile, order[:, 1]], None)
    ref = cat.reference()
    vocab = sorted({c for p in cat.DX_PROFILES for c in (*p.primary, *p.secondary)})
    sup_of = {c: ref.supportive(c) for c in vocab}
    sup_of[None] = False
    lookup = np.vectorize(sup_of.__getitem__, otypes=[bool])
    supportive = lookup(prim) | lookup(sec1) | lookup(sec2)
    dx = pl.DataFrame(
        {
            "a": prim.astype(str),
            "b": pl.Series(sec1.tolist(), dtype=pl.String),
            "c": pl.Series(sec2.tolist(), dtype=pl.String),
        }
    ).select(pl.concat_str(["a", "b", "c"], separator=";", ignore_nulls=True))["a"]
    payer = rng.choice(len(cat.PAYERS), size=n, p=cat.PAYER_P)
    payer_name = cat.PAYER_NAME_OFFSET[payer] + (rng.random(n) * cat.PAYER_NAME_COUNT[payer]).astype(np.int64)
    kx_from = np.where(
        (payer == cat.MEDICARE) & (rng.random(n) < 0.35), rng.integers(5, 13, size=n), np.iinfo(np.int32).max
    )
    return {
        "payer": payer.astype(np.int8),
        "payer_name": payer_name.astype(np.int16),
        "dx": dx,
        "supportive": supportive,
        "kx_from": kx_from.astype(np.int32),
    }


def _names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    first = np.array(cat.FIRST_NAMES, dtype=object)[rng.integers(0, len(cat.FIRST_NAMES), n)]
    last = np.array(cat.LAST_NAMES, dtype=object)[rng.integers(0, len(cat.LAST_NAMES), n)]
    return first, last


def _explode(
    rng: np.random.Generator, start: np.ndarray, pattern: np.ndarray, n_visits: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(episode index, visit index k, day index) of every scheduled visit."""
    rep = np.repeat(np.arange(len(start)), n_visits)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    f = PATTERN_FREQ[pattern[rep]]
    day = start[rep] + 7 * (k // f) + PATTERNS[pattern[rep], k % f]
    return rep, k, day


def _episode_shape(rng: np.random.Generator, n: int, n_days: int, monday0: int) -> tuple[np.ndarray, ...]:
    pattern = rng.choice(len(PATTERNS), size=n, p=PATTERN_P / PATTERN_P.sum())
    freq = PATTERN_FREQ[pattern]
    n_visits = np.select(
        [freq == 3, freq == 2], [rng.integers(6, 19, n), rng.integers(4, 17, n)], rng.integers(3, 9, n)
    )
    weeks = (n_days - monday0) // 7 + 1
    start = monday0 + 7 * rng.integers(-8, weeks, size=n)
    return pattern, n_visits, start


def build_world(
    rng: np.random.Generator,
    period: Period,
    visits_needed: int,
    n_therapists: int,
    n_high: int,
    *,
    npi_block: int = 0,
    patient_prefix: str = "P",
    claim_prefix: str = "C",
) -> World:
    """A population whose episodes give about ``visits_needed`` visits inside the period."""
    n_days = period.n_days
    monday0 = -period.first.weekday()  # day index of the Monday on or before the first day

    # --- therapists and clinics
    n_pt = max(1, round(n_therapists * PT_SHARE))
    n_ot = max(1, n_therapists - n_pt)
    n_t = n_pt + n_ot
    disc = np.r_[np.zeros(n_pt, np.int8), np.ones(n_ot, np.int8)]
    assistant = rng.random(n_t) < ASSISTANT_P
    high = np.zeros(n_t, bool)
    if n_high:
        candidates = np.flatnonzero((disc == 0) & ~assistant)
        if len(candidates) < n_high:
            candidates = np.flatnonzero(disc == 0)
            assistant[candidates[:n_high]] = False
        high[rng.choice(candidates, size=min(n_high, len(candidates)), replace=False)] = True
        assistant[high] = False
    n_c = max(3, round(n_t / 6))
    clinic = np.r_[np.arange(n_pt) % n_c, np.arange(n_ot) % n_c].astype(np.int32)
    rng.shuffle(clinic[:n_pt])
    first, last = _names(rng, n_t)
    cred = np.where(disc == 0, np.where(assistant, "PTA", "PT"), np.where(assistant, "COTA", "OTR/L"))
    th_name = np.array(
        [f"{given} {family}, {c}" for given, family, c in zip(first, last, cred, strict=True)], dtype=object
    )
    th_npi = make_npis(rng, n_t, npi_block)
    n_names = len(cat.CITIES) * len(cat.CLINIC_SUFFIXES)
    combo = rng.permutation(n_names)
    clinic_name = np.array(
        [
            f"{cat.CITIES[combo[i % n_names] % len(cat.CITIES)]} {cat.CLINIC_SUFFIXES[combo[i % n_names] // len(cat.CITIES)]}"
            + ("" if i < n_names else f" {i // n_names + 1}")
            for i in range(n_c)
        ],
        dtype=object,
    )
    clinic_npi = make_npis(rng, n_c, npi_block + 1)
    totals_only = np.zeros(n_c, bool)
    if n_c >= 3:
        totals_only[rng.choice(n_c, size=max(1, round(0.1 * n_c)), replace=False)] = True
    sep = rng.choice(3, size=n_c, p=[0.7, 0.2, 0.1]).astype(np.int8)
    nodot = rng.random(n_c) < 0.3
    markup = rng.uniform(1.8, 2.6, n_c)
    off = rng.random((n_t, n_days)) < DAY_OFF_P

    pt_ids, ot_ids = np.flatnonzero(disc == 0), np.flatnonzero(disc == 1)
    ot_sorted = ot_ids[np.argsort(clinic[ot_ids], kind="stable")]
    ot_count = np.bincount(clinic[ot_ids], minlength=n_c)
    ot_offset = np.cumsum(ot_count) - ot_count

    def episodes(r: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        is_ot = r.random(n) > PT_SHARE
        th = np.where(is_ot, ot_ids[r.integers(0, len(ot_ids), n)], pt_ids[r.integers(0, len(pt_ids), n)])
        dual = ~is_ot & (r.random(n) < DUAL_P)
        pattern, n_visits, start = _episode_shape(r, n, n_days, monday0)
        # the OT side of each dual patient: an OT of the same clinic when there is one
        d = np.flatnonzero(dual)
        c = clinic[th[d]]
        same = ot_count[c] > 0
        pick = np.where(
            same,
            ot_sorted[
                np.minimum(
                    ot_offset[c] + (r.random(len(d)) * np.maximum(ot_count[c], 1)).astype(np.int64), len(ot_sorted) - 1
                )
            ],
            ot_ids[r.integers(0, len(ot_ids), len(d))],
        )
        population = np.where(is_ot, 2, np.where(dual, 3, np.where(high[th], 1, 0)))
        return {
            "th": np.r_[th, pick],
            "patient": np.r_[np.arange(n), d],
            "start": np.r_[start, start[d]],
            "pattern": np.r_[pattern, pattern[d]],
            "n_visits": np.r_[n_visits, n_visits[d]],
            "dual": np.r_[np.where(dual, 1, 0), np.full(len(d), 2)].astype(np.int8),
            "population": population,
        }

    def in_window(r: np.random.Generator, ep: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        rep, k, day = _explode(r, ep["start"], ep["pattern"], ep["n_visits"])
        ok = (day >= 0) & (day < n_days)
        rep, k, day = rep[ok], k[ok], day[ok]
        th = ep["th"][rep]
        keep = period.workday[day] & ~off[th, day] & (r.random(len(day)) >= CANCEL_P)
        return rep[keep], k[keep], day[keep]

    # calibrate: visits per episode inside the window, from a pilot draw
    pilot_rng = np.random.default_rng(rng.integers(2**63))
    pilot = episodes(pilot_rng, 4000)
    per_episode = max(len(in_window(pilot_rng, pilot)[0]) / 4000, 0.5)
    n_ep = max(20, int(np.ceil(visits_needed / per_episode)))
    ep = episodes(rng, n_ep)
    rep, k, day = in_window(rng, ep)
    order = np.lexsort((rep, day))
    rep, k, day = rep[order], k[order], day[order]

    patients = make_patients(rng, ep["population"])
    # documentation export per clinic: every kind present (n_c >= 3), drawn last so that nothing
    # above depends on it
    doc_export = (np.random.default_rng(rng.integers(2**63)).permutation(n_c) % 3).astype(np.int8)
    return World(
        period=period,
        patient_prefix=patient_prefix,
        claim_prefix=claim_prefix,
        clinic_npi=clinic_npi,
        clinic_name=clinic_name,
        clinic_totals_only=totals_only,
        clinic_sep=sep,
        clinic_nodot=nodot,
        clinic_markup=markup,
        clinic_doc_export=doc_export,
        th_npi=th_npi,
        th_name=th_name,
        th_disc=disc,
        th_assistant=assistant,
        th_high=high,
        th_clinic=clinic,
        th_off=off,
        pat_payer=patients["payer"],
        pat_payer_name=patients["payer_name"],
        pat_dx=patients["dx"],
        pat_supportive=patients["supportive"],
        pat_kx_from=patients["kx_from"],
        v_pat=ep["patient"][rep].astype(np.int64),
        v_th=ep["th"][rep].astype(np.int32),
        v_day=day.astype(np.int32),
        v_k=k.astype(np.int32),
        v_dual=ep["dual"][rep],
    )
