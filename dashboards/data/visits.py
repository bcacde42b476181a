"""One therapist's visits on one day (the therapist-day page): each visit's times and timed minutes,
the intervals in which visits of different patients overlap, and the day's totals.

A visit is one claim's lines of the therapist for one patient that date, from its earliest
``visit_start`` to its latest ``visit_end`` (half-open), as the OVERLAP rule reads it; only visits
billing timed units can overlap (one-on-one time). A visit's timed minutes are counted as the
IMPOSSIBLE_DAY rule counts them: the timed lines' minutes when no billed timed line lacks them, else
the visit's ``total_timed_minutes`` once; duplicate extras add none.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dashboards.data.snapshot import Snapshot

VISIT_COLUMNS = [
    "patient_id",
    "claim_id",
    "visit_start",
    "visit_end",
    "clock_minutes",
    "timed_minutes",
    "timed_units",
    "units_billed",
    "codes",
    "one_on_one",
]


def therapist_day_visits(snap: Snapshot, npi: str, day: dt.date) -> pl.DataFrame:
    """One row per visit of ``npi`` on ``day`` (VISIT_COLUMNS), by start time; visits without a
    start or end come last."""
    snap.require(
        "claim_lines",
        "claim_id",
        "line_number",
        "patient_id",
        "service_date",
        "rendering_npi",
        "cpt_code",
        "units_billed",
    )
    c = lambda col, t="varchar": snap.col("claim_lines", "cl", col, t)
    lu = snap.has("line_units", "claim_id", "line_number")
    u = lambda col, t="varchar": snap.col("line_units", "lu", col, t) if lu else f"cast(null as {t})"
    # only the day's line units are joined (not every line's), when they say whose and which day they are
    units = (
        "(select * from line_units where rendering_npi = $npi and service_date = $day)"
        if snap.has("line_units", "rendering_npi", "service_date")
        else "line_units"
    )
    join = f" left join {units} lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number" if lu else ""
    minutes = f"coalesce({u('minutes_used', 'bigint')}, {c('minutes', 'bigint')})"
    # without line units a line with documented minutes is taken for a timed one
    timed = f"coalesce({u('is_timed', 'boolean')}, {c('minutes', 'bigint')} is not null)"
    counted = f"({timed} and not coalesce({u('duplicate_extra', 'boolean')}, false))"
    return snap.frame(
        f"""
        with l as (
          select cl.patient_id, cl.claim_id, cl.cpt_code, cl.units_billed, {c("visit_start", "timestamp")} as visit_start,
                 {c("visit_end", "timestamp")} as visit_end, {timed} as timed, {counted} as counted, {minutes} as minutes,
                 coalesce({u("total_timed_minutes", "bigint")}, {c("total_timed_minutes", "bigint")}) as total_timed_minutes
          from claim_lines cl {join}
          where cl.rendering_npi = $npi and cl.service_date = $day
        )
        select patient_id, claim_id, min(visit_start) as visit_start, max(visit_end) as visit_end,
               date_diff('minute', min(visit_start), max(visit_end)) as clock_minutes,
               case when bool_or(counted and units_billed > 0 and minutes is null)
                         and max(total_timed_minutes) filter (where counted) is not null
                    then max(total_timed_minutes) filter (where counted)
                    else coalesce(sum(minutes) filter (where counted), 0) end::bigint as timed_minutes,
               coalesce(sum(units_billed) filter (where timed), 0)::bigint as timed_units,
               coalesce(sum(units_billed), 0)::bigint as units_billed,
               string_agg(distinct cpt_code, ', ' order by cpt_code) as codes,
               bool_or(timed and units_billed > 0) as one_on_one
        from l group by patient_id, claim_id
        order by visit_start nulls last, visit_end nulls last, claim_id
        """,
        {"npi": npi, "day": day},
    )


# A visit that can go on a timeline: a start, and an end after it.
PLACED = (
    pl.col("visit_start").is_not_null()
    & pl.col("visit_end").is_not_null()
    & (pl.col("visit_end") > pl.col("visit_start"))
)


def placed(visits: pl.DataFrame) -> pl.DataFrame:
    return visits.filter(PLACED)


def overlaps(visits: pl.DataFrame, patient: str = "patient_id") -> pl.DataFrame:
    """Each one-on-one visit's intervals shared with a one-on-one visit of another patient: one row
    per visit and other visit (``patient``, claim_id, other, overlap_start, overlap_end). ``patient``
    names the column that tells patients apart (the token for a manager)."""
    one = (
        placed(visits)
        .filter(pl.col("one_on_one").fill_null(False))
        .select(patient, "claim_id", "visit_start", "visit_end")
    )
    other = one.rename({patient: "other", "claim_id": "other_claim", "visit_start": "o_start", "visit_end": "o_end"})
    return (
        one.join_where(
            other,
            pl.col(patient) != pl.col("other"),
            pl.col("visit_start") < pl.col("o_end"),
            pl.col("o_start") < pl.col("visit_end"),
        )
        .select(
            patient,
            "claim_id",
            "other",
            pl.max_horizontal("visit_start", "o_start").alias("overlap_start"),
            pl.min_horizontal("visit_end", "o_end").alias("overlap_end"),
        )
        .sort("overlap_start", patient, "claim_id", "other")
    )


def _union_minutes(intervals: pl.DataFrame, start: str, end: str) -> int:
    """Clock minutes covered by the union of the intervals (a sweep: sort, running latest end)."""
    if intervals.height == 0:
        return 0
    spans = (
        intervals.select(pl.col(start).alias("s"), pl.col(end).alias("e"))
        .sort("s", "e")
        .with_columns(pl.col("e").cum_max().shift(1).alias("_before"))
        .with_columns((pl.col("_before").is_null() | (pl.col("s") > pl.col("_before"))).cum_sum().alias("_span"))
        .group_by("_span")
        .agg(pl.col("s").min(), pl.col("e").max())
    )
    return int(spans.select((pl.col("e") - pl.col("s")).dt.total_seconds().sum())[0, 0] // 60)


def day_totals(visits: pl.DataFrame, shared: pl.DataFrame) -> dict:
    """The day's visits, patients, timed minutes, its length (first start to last end), the clock
    minutes some visit covers, and the clock minutes with visits of two or more patients at once."""
    on_line = placed(visits)
    first = on_line["visit_start"].min() if on_line.height else None
    last = on_line["visit_end"].max() if on_line.height else None
    return {
        "visits": visits.height,
        "patients": visits["patient_id"].n_unique() if "patient_id" in visits.columns else None,
        "timed_minutes": int(visits["timed_minutes"].fill_null(0).sum()),
        "first_start": first,
        "last_end": last,
        "day_minutes": int((last - first).total_seconds() // 60) if first is not None else None,
        "covered_minutes": _union_minutes(on_line, "visit_start", "visit_end"),
        "overlap_minutes": _union_minutes(shared, "overlap_start", "overlap_end"),
        "unplaced": visits.height - on_line.height,
    }
