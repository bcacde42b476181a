"""OVERLAP: one therapist billing one-on-one timed time for two patients at once.

Contract: "one therapist's visits with different patients overlap in time while billing one-on-one
timed codes". NCCI Policy Manual ch. 11 sec. P (domain doc): "not more than one therapy service per
15-minute period, except supervised modalities 97010-97028; group therapy 97150 is untimed and does
not need one-on-one contact".

A visit is one claim's lines of one therapist (rendering NPI) on one service date, spanning
[min visit_start, max visit_end) — half-open, so a visit ending at 10:00 and one starting at 10:00 do
not overlap. Only visits billing units of a timed code count (untimed codes, incl. supervised
modalities and group therapy 97150, do not). Vectorized sweep, no pairwise join:

1. Each patient's visits of the therapist-day are merged into disjoint spans (sort by start, a new
   span starts where the start is at or after the running maximum end of the earlier visits).
2. Over the therapist-day's spans sorted by start, a span overlaps an earlier one of another patient
   iff its start is before the running maximum end of the earlier spans (a same-patient earlier span
   ends at or before it starts, by step 1); it overlaps a later one iff the next span starts before
   it ends.
3. Overlapping minutes = for each span, the minutes it shares with the union of earlier spans: the
   minutes billed to a patient while already with another (three at once count twice).

units_over = the chart (8-minute rule) of the overlapping minutes; priced at the overlapping visits'
timed lines. Therapist-day grain (rendering_npi, service_date). Both sweeps are one sort and running
maxima (``_sweep``), not per-group windows: days with a single visit cost nothing extra.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.findings._common import THERAPIST_DAY, amount_micros, as_findings, at_risk, per_unit, plural
from pipelines.rules.frame import canonical, line_price
from pipelines.rules.reference import Reference, normalize_code
from pipelines.rules.settings import RuleSettings

RULE_ID = "OVERLAP"
DAY = ["rendering_npi", "service_date"]


_SEGMENT = 2**34  # seconds: larger than any epoch-second clock time this side of the year 2500


def _sweep(rows: pl.LazyFrame, key: list[str]) -> pl.LazyFrame:
    """On ``rows`` sorted by ``key`` then start: ``_earlier_end`` = the latest end among the earlier
    rows of the same key (null for the first) and ``_next_start`` = the next row's start within the
    key. One pass, no window: a running maximum of (segment number x 2^34 + end seconds) cannot carry
    an earlier segment's end into a later one."""
    changed = pl.any_horizontal([pl.col(c) != pl.col(c).shift(1) for c in key]).fill_null(True)
    seconds = pl.col("end").dt.epoch("s")
    return (
        rows.with_columns(changed.cast(pl.Int64).cum_sum().alias("_segment"))
        .with_columns((pl.col("_segment") * _SEGMENT + seconds).cum_max().shift(1).alias("_running"))
        .with_columns(
            pl.when(pl.col("_running") >= pl.col("_segment") * _SEGMENT)
            .then(pl.from_epoch(pl.col("_running") - pl.col("_segment") * _SEGMENT, time_unit="s").cast(pl.Datetime("us")))
            .alias("_earlier_end"),
            pl.when(pl.col("_segment").shift(-1) == pl.col("_segment")).then(pl.col("start").shift(-1)).alias("_next_start"),
        )
    )


def overlap(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """OVERLAP findings, one per therapist-day with overlapping visits of different patients."""
    one_on_one = normalize_code(pl.col("cpt_code")).is_in(ref.timed_codes()) & (pl.col("units_billed") > 0)
    visits = (
        canonical(lines)
        .select(*DAY, "patient_id", "claim_id", "visit_start", "visit_end", "units_billed", line_price(), one_on_one.alias("_timed"))
        .filter(pl.col("visit_start").is_not_null() & pl.col("visit_end").is_not_null())
        .group_by(*DAY, "patient_id", "claim_id")
        .agg(
            pl.col("visit_start").min().alias("start"),
            pl.col("visit_end").max().alias("end"),
            pl.col("_timed").any().alias("_timed_visit"),
            amount_micros().filter(pl.col("_timed")).sum().alias("amount"),
            pl.col("units_billed").filter(pl.col("_timed") & pl.col("price_per_unit").is_not_null()).sum().alias("priced_units"),
        )
        .filter(pl.col("_timed_visit") & (pl.col("end") > pl.col("start")))
    )
    patient = [*DAY, "patient_id"]
    spans = (
        _sweep(visits.sort(*patient, "start", "end"), patient)
        .with_columns((pl.col("_earlier_end").is_null() | (pl.col("start") >= pl.col("_earlier_end"))).alias("_new"))
        .with_columns(pl.col("_new").cast(pl.Int64).cum_sum().alias("_span"))
        .group_by(*patient, "_span")
        .agg(
            pl.col("start").min(),
            pl.col("end").max(),
            pl.len().alias("n_visits"),
            pl.col("amount").sum(),
            pl.col("priced_units").sum(),
        )
    )
    spans = _sweep(spans.sort(*DAY, "start", "end"), DAY).with_columns(
        (
            (pl.col("start") < pl.col("_earlier_end")).fill_null(False)
            | (pl.col("_next_start") < pl.col("end")).fill_null(False)
        ).alias("_involved"),
        pl.when(pl.col("_earlier_end").is_not_null())
        .then((pl.min_horizontal("end", "_earlier_end") - pl.col("start")).dt.total_seconds().clip(lower_bound=0))
        .otherwise(0)
        .alias("_shared_seconds"),
    )
    days = (
        spans.filter(pl.col("_involved"))
        .group_by(DAY)
        .agg(
            pl.col("n_visits").sum(),
            pl.col("patient_id").n_unique().alias("n_patients"),
            (pl.col("_shared_seconds").sum() // 60).alias("minutes"),
            pl.col("amount").sum(),
            pl.col("priced_units").sum(),
        )
        .filter(pl.col("n_patients") > 1)
    )
    units_over = units_for_minutes(pl.col("minutes"))
    price = per_unit(pl.col("amount"), pl.col("priced_units"))
    result = days.with_columns(units_over.alias("units_over")).with_columns(
        at_risk(pl.col("units_over"), price),
        pl.format(
            "{} visits with {} different patients overlap in time while billing one-on-one timed codes: {} "
            "billed to a patient while already with another ({} on the 8-minute chart).",
            pl.col("n_visits"), pl.col("n_patients"), plural(pl.col("minutes"), "minute"), plural(pl.col("units_over"), "unit"),
        ).alias("detail"),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), THERAPIST_DAY)
