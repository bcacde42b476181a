"""OVERLAP: one therapist billing one-on-one timed time for two patients at once.

Contract: "one therapist's visits with different patients overlap in time while billing one-on-one
timed codes". Secondary, not a quotation: the NCCI Policy Manual ch. 11 (physical medicine and
rehabilitation), as coding guides restate it, allows not more than one therapy service
per 15-minute period, except supervised modalities 97010-97028; group therapy 97150 is untimed and
does not need one-on-one contact (the Policy Manual's text could not be read; docs/rules.md, OVERLAP).
Pub. 100-04 ch. 5 sec. 20.3: "The time counted is the time the patient is treated" (as First Coast, a
MAC, restates it).

Judged on one-on-one timed time, not whole visit windows:

- A visit is one claim's lines of one therapist (rendering NPI) and patient on one day, spanning
  [min visit_start, max visit_end) (half-open: a visit ending at 10:00 and one starting at 10:00 do
  not overlap). It takes part when it bills units of a timed code furnished by the therapist: lines
  carrying the assistant modifiers CQ or CO are the assistant's time, not the therapist's.
- Its one-on-one timed minutes T: the documented minutes of those lines (when every billed one has
  them), else the visit's total_timed_minutes, else the least the chart allows (15u - 7 for u units).
  The rest of its window (``slack`` = window - T: supervised modalities such as hot packs at a visit's
  edge, an evaluation, rest) may lie in the overlap without any one-on-one time at once.
- A therapist's group session (97150 billed) occupies the therapist throughout its window (slack 0):
  overlapping a one-on-one timed visit of another patient it IS an overlap, while the group's own
  patients, in one session, are one "patient" to each other.

Minutes: the sweep below gives, over the day's visits, the minutes billed to a patient while the
therapist was already with another (three at once count twice). Each minute of a visit's slack can
remove at most one of those minutes, so at least (overlap minutes - the overlapping visits' slack)
minutes were one-on-one timed time for two patients at once: that lower bound is the finding's
``minutes`` (raised when above 0). units_over = the chart (8-minute rule) of those minutes; priced at
the overlapping visits' timed lines. At or below ``settings.overlap_tolerance_minutes`` (default 5)
the finding is low severity. Therapist-day grain (rendering_npi, service_date). Both sweeps are one
sort and running maxima (``_sweep``), not per-group windows.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.findings._common import (
    THERAPIST_DAY,
    amount_micros,
    as_findings,
    at_risk,
    per_unit,
    plural,
    spread,
)
from pipelines.rules.frame import canonical, line_price
from pipelines.rules.reference import Reference, normalize_code
from pipelines.rules.settings import RuleSettings

RULE_ID = "OVERLAP"
DAY = ["rendering_npi", "service_date"]
GROUP_KEY = "\x00group session"  # the patient key of a therapist's group session visits


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
            .then(
                pl.from_epoch(pl.col("_running") - pl.col("_segment") * _SEGMENT, time_unit="s").cast(pl.Datetime("us"))
            )
            .alias("_earlier_end"),
            pl.when(pl.col("_segment").shift(-1) == pl.col("_segment"))
            .then(pl.col("start").shift(-1))
            .alias("_next_start"),
        )
    )


ASSISTANT = r"(?:^|[;,\s])(CQ|CO)(?:$|[;,\s])"
GROUP_SESSION = "97150"


def overlap(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """OVERLAP findings, one per therapist-day billing one-on-one timed time for two patients at once."""
    code = normalize_code(pl.col("cpt_code"))
    assistant = pl.col("modifiers").str.to_uppercase().str.contains(ASSISTANT).fill_null(False)
    one_on_one = code.is_in(ref.timed_codes()) & ~assistant
    billed = pl.col("units_billed") > 0
    timed_billed = pl.col("_one") & billed
    documented = pl.col("minutes").filter(pl.col("_one")).sum()
    lacking = (timed_billed & pl.col("minutes").is_null()).any()
    least = 15 * pl.col("units_billed").filter(timed_billed).sum() - 7
    visits = (
        canonical(lines)
        .select(
            *DAY,
            "patient_id",
            "claim_id",
            "visit_start",
            "visit_end",
            "units_billed",
            "minutes",
            "total_timed_minutes",
            line_price(),
            one_on_one.alias("_one"),
            (code == GROUP_SESSION).alias("_group"),
        )
        .filter(pl.col("visit_start").is_not_null() & pl.col("visit_end").is_not_null())
        .group_by(*DAY, "patient_id", "claim_id")
        .agg(
            pl.col("visit_start").min().alias("start"),
            pl.col("visit_end").max().alias("end"),
            timed_billed.any().alias("_timed_visit"),
            (pl.col("_group") & billed).any().alias("_group_visit"),
            pl.when(~lacking)
            .then(documented)
            .when(pl.col("total_timed_minutes").is_not_null().any())
            .then(pl.col("total_timed_minutes").max())
            .otherwise(least)
            .alias("_timed_minutes"),
            amount_micros().filter(timed_billed | (pl.col("_group") & billed)).sum().alias("amount"),
            pl.col("units_billed")
            .filter((timed_billed | pl.col("_group")) & pl.col("price_per_unit").is_not_null())
            .sum()
            .alias("priced_units"),
        )
        .filter((pl.col("_timed_visit") | pl.col("_group_visit")) & (pl.col("end") > pl.col("start")))
        .with_columns(
            # a group session's patients are one to each other; it occupies the therapist throughout
            pl.when(pl.col("_group_visit") & ~pl.col("_timed_visit"))
            .then(pl.lit(GROUP_KEY))
            .otherwise(pl.col("patient_id"))
            .alias("patient_id"),
            pl.when(pl.col("_group_visit"))
            .then(0)
            .otherwise(
                ((pl.col("end") - pl.col("start")).dt.total_minutes() - pl.col("_timed_minutes")).clip(lower_bound=0)
            )
            .alias("slack"),
        )
    )
    patient = [*DAY, "patient_id"]
    spanned = (
        _sweep(visits.sort(*patient, "start", "end"), patient)
        .with_columns((pl.col("_earlier_end").is_null() | (pl.col("start") >= pl.col("_earlier_end"))).alias("_new"))
        .with_columns(pl.col("_new").cast(pl.Int64).cum_sum().alias("_span"))
        .cache()
    )
    spans = spanned.group_by(*patient, "_span").agg(
        pl.col("start").min(),
        pl.col("end").max(),
        pl.len().alias("n_visits"),
        pl.col("amount").sum(),
        pl.col("priced_units").sum(),
        pl.col("slack").sum(),
        pl.col("_group_visit").any().alias("_group"),
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
            pl.col("patient_id").filter(pl.col("patient_id") != GROUP_KEY).n_unique().alias("n_patients"),
            pl.col("_group").any().alias("group_session"),
            (pl.col("_shared_seconds").sum() // 60).alias("window_minutes"),
            pl.col("slack").sum(),
            pl.col("amount").sum(),
            pl.col("priced_units").sum(),
        )
        .with_columns((pl.col("window_minutes") - pl.col("slack")).clip(lower_bound=0).alias("minutes"))
        .filter((pl.col("n_patients") + pl.col("group_session").cast(pl.Int64) > 1) & (pl.col("minutes") > 0))
    )
    # the units over are the overlapping visits' timed (or group) lines', the latest visit's first
    involved = spanned.join(
        spans.filter(pl.col("_involved")).select(*patient, "_span"), on=[*patient, "_span"], how="semi"
    ).select(*DAY, "claim_id", "start")
    busy = timed_billed | (pl.col("_group") & billed)
    claims = spread(
        canonical(lines)
        .select(
            *DAY,
            "claim_id",
            "line_number",
            "units_billed",
            one_on_one.alias("_one"),
            (code == GROUP_SESSION).alias("_group"),
        )
        .filter(busy)
        .join(involved, on=[*DAY, "claim_id"], how="inner")
        .join(days.select(*DAY, units_for_minutes(pl.col("minutes")).alias("_budget")), on=DAY, how="inner"),
        DAY,
        "_budget",
        ["start", "claim_id", "line_number"],
        [True, True, True],
    )
    days = days.join(claims, on=DAY, how="left")
    tolerance = settings.overlap_tolerance_minutes
    units_over = units_for_minutes(pl.col("minutes"))
    price = per_unit(pl.col("amount"), pl.col("priced_units"))
    who = (
        pl.when(pl.col("group_session"))
        .then(pl.format("{} and a group session (97150)", plural(pl.col("n_patients"), "patient")))
        .otherwise(pl.format("{} different patients", pl.col("n_patients")))
    )
    detail = pl.concat_str(
        [
            pl.format(
                "{} visits with {} overlap in time while billing one-on-one timed time: {} of their visit windows at "
                "once, of which at least {} one-on-one timed time for two patients at once ({} the visits spent "
                "outside the therapist's one-on-one timed codes set aside); {} on the 8-minute chart.",
                pl.col("n_visits"),
                who,
                plural(pl.col("window_minutes"), "minute"),
                plural(pl.col("minutes"), "minute"),
                plural(pl.col("slack"), "minute"),
                plural(pl.col("units_over"), "unit"),
            ),
            pl.when(pl.col("group_session"))
            .then(pl.lit(" A group session occupies the therapist throughout its time."))
            .otherwise(pl.lit("")),
            pl.when(pl.col("minutes") <= tolerance)
            .then(pl.lit(f" Within the tolerance of {tolerance} minutes: low severity."))
            .otherwise(pl.lit("")),
        ]
    )
    result = days.with_columns(units_over.alias("units_over")).with_columns(
        at_risk(pl.col("units_over"), price), detail.alias("detail")
    )
    severity = pl.when(pl.col("minutes") <= tolerance).then(pl.lit("low")).otherwise(pl.lit(settings.severity(RULE_ID)))
    return as_findings(result, RULE_ID, severity, THERAPIST_DAY)
