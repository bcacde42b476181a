"""Why a provider is flagged: the metrics that add to its risk score, the peers' values of each, and
the provider's days behind each metric (the provider page's "Why flagged" section).

A metric *flags* a provider in a period when it is significant in its bad direction
(``provider_metrics.significant`` and a robust z above 0 once turned to the bad direction): exactly
the metrics that add to ``risk_score`` (``pipelines.scores.score``), the ones ``reasons`` names among
them. Every metric scoring computes has an ``Evidence`` definition (``definition``): the days that
drive it, in words, and how to pick them from the provider's days. The per-day figures come from the
provider's line units through ``pipelines.scores.facts`` itself (timed units, 97112 units,
documented minutes per patient-day; timed minutes per working day), so the days add up to the
metric the way scoring counted it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from dashboards import data
from dashboards.data.snapshot import MissingData, Snapshot
from pipelines.scores import facts
from pipelines.scores.attribution import THERAPIST_DAY_RULES
from pipelines.scores.settings import ScoreSettings

PATIENT_DAY = "patient-day"
THERAPIST_DAY = "therapist-day"
RATE_PREFIX = "rate_"  # pipelines.scores.attribution.rule_column: one finding-rate metric per rule id

PATIENT_DAY_COLUMNS = [
    "service_date",
    "patient_id",
    "timed_units",
    "units_97112",
    "share_97112_pct",
    "documented_minutes",
    "minutes_per_unit",
    "findings",
    "rules",
    "units_over",
    "amount_at_risk",
]
WORKING_DAY_COLUMNS = [
    "service_date",
    "patients",
    "visits",
    "timed_units",
    "timed_minutes",
    "timed_hours",
    "findings",
    "rules",
    "units_over",
    "amount_at_risk",
]


@dataclass(frozen=True)
class Limits:
    """The thresholds the share metrics counted against (the review's [scores] settings)."""

    daily_limit_97112: int = ScoreSettings.daily_limit_97112
    oig_day_minutes: int = ScoreSettings.oig_day_minutes


@dataclass(frozen=True)
class ProviderDays:
    """One provider's days in one period, with the findings that touch each."""

    patient_days: pl.DataFrame  # PATIENT_DAY_COLUMNS (+ documented_units, undocumented_units)
    working_days: pl.DataFrame  # WORKING_DAY_COLUMNS
    findings: pl.DataFrame  # the provider's findings (``data.provider_findings``)


@dataclass(frozen=True)
class Selection:
    """The days listed as a metric's evidence, and which days they are, in words."""

    days: pl.DataFrame
    rule: str


Selector = Callable[[ProviderDays, Limits, "float | None"], Selection]


@dataclass(frozen=True)
class Evidence:
    """What explains one metric: its words, the grain of its days, and how the days are picked."""

    metric: str
    words: str
    grain: str
    select: Selector
    percent: bool = False


# ---------------------------------------------------------------------------------------------
# reading the snapshot


def flagged_metrics(snap: Snapshot, npi: str, period: str) -> pl.DataFrame:
    """The provider's metrics that add to its risk score in ``period``, bad-direction z first."""
    snap.require("provider_metrics", "period", "rendering_npi", "metric", "value", "robust_z", "significant")
    c = lambda col, t="double": snap.col("provider_metrics", "m", col, t)
    direction = f"coalesce({c('direction_bad', 'varchar')}, 'high')"
    return snap.frame(
        f"""
        select m.metric, {c("label", "varchar")} as label, m.value, {c("peer_median")} as peer_median,
               m.robust_z, {c("percentile")} as percentile, {c("p_value")} as p_value,
               {direction} as direction_bad, {c("peer_group", "varchar")} as peer_group,
               case when {direction} = 'low' then -m.robust_z else m.robust_z end as z_bad
        from provider_metrics m
        where m.rendering_npi = $npi and m.period = $period and m.significant
          and (case when {direction} = 'low' then -m.robust_z else m.robust_z end) > 0
        order by z_bad desc, m.metric
        """,
        {"npi": npi, "period": period},
    )


def peer_values(snap: Snapshot, period: str, peer_group: str | None, metrics: list[str]) -> pl.DataFrame:
    """Every provider of the peer group with its value of each metric (rendering_npi, provider_name,
    metric, value): the distribution a flagged value is compared with."""
    snap.require("provider_metrics", "period", "rendering_npi", "metric", "value")
    group = snap.col("provider_metrics", "m", "peer_group")
    names = (
        "left join (select rendering_npi, any_value(provider_name) as provider_name from provider_scores "
        "where period = $period group by rendering_npi) ps using (rendering_npi)"
        if snap.has("provider_scores", "period", "rendering_npi", "provider_name")
        else ""
    )
    name = "ps.provider_name" if names else "cast(null as varchar)"
    return snap.frame(
        f"""
        select m.rendering_npi, {name} as provider_name, m.metric, m.value
        from provider_metrics m {names}
        where m.period = $period and list_contains($metrics, m.metric) and m.value is not null
          and {group} is not distinct from $group
        order by m.metric, m.value, m.rendering_npi
        """,
        {"period": period, "metrics": metrics, "group": peer_group},
    )


_LIMIT_LABEL = re.compile(r"daily limit \((\d+) units?\)")
_DAY_LABEL = re.compile(r"over (\d+(?:\.\d+)?) timed hours")


def limits(snap: Snapshot) -> Limits:
    """The thresholds scoring used, read from its metric labels ("... at the daily limit (4 units)",
    "working days over 8 timed hours"); without labels the snapshot's 97112 daily limit and 8 hours."""
    limit, day = data.daily_limit_97112(snap), Limits.oig_day_minutes
    if snap.has("provider_metrics", "metric", "label"):
        rows = snap.rows(
            "select metric, any_value(label) from provider_metrics where metric in (?, ?) group by metric",
            ["share_days_97112_at_limit", "share_days_over_8h"],
        )
        for metric, label in rows:
            found = (_LIMIT_LABEL if metric == "share_days_97112_at_limit" else _DAY_LABEL).search(label or "")
            if found and metric == "share_days_97112_at_limit":
                limit = int(found.group(1))
            elif found:
                day = round(float(found.group(1)) * 60)
    return Limits(daily_limit_97112=limit, oig_day_minutes=day)


def _unit_rows(snap: Snapshot, npi: str, period: str) -> pl.DataFrame:
    """The provider's line units in the period with what ``facts.line_frame`` reads (the claim
    line's total timed minutes, and its minutes when the units carry none)."""
    snap.require(
        "line_units",
        "claim_id",
        "line_number",
        "rendering_npi",
        "patient_id",
        "service_date",
        "cpt_code",
        "units_billed",
    )
    u = lambda col, t="varchar": snap.col("line_units", "lu", col, t)
    c = lambda col, t="varchar": snap.col("claim_lines", "cl", col, t)
    has_lines = snap.has("claim_lines", "claim_id", "line_number", "rendering_npi", "service_date")
    join = (
        " left join (select * from claim_lines where rendering_npi = $npi and ($start is null or "
        "service_date between $start and $end)) cl on cl.claim_id = lu.claim_id and cl.line_number = lu.line_number"
        if has_lines
        else ""
    )
    line = c if has_lines else (lambda col, t="varchar": f"cast(null as {t})")
    minutes = u("minutes_used", "bigint") if snap.has("line_units", "minutes_used") else line("minutes", "bigint")
    start, end = data.period_bounds(period)
    return snap.frame(
        f"""
        select lu.claim_id, lu.line_number, lu.rendering_npi, lu.patient_id, lu.service_date,
               {u("discipline")} as discipline, lu.cpt_code, {u("is_timed", "boolean")} as is_timed,
               {u("duplicate_extra", "boolean")} as duplicate_extra, lu.units_billed,
               {minutes} as minutes_used,
               coalesce({u("total_timed_minutes", "bigint")}, {line("total_timed_minutes", "bigint")}) as total_timed_minutes
        from line_units lu {join}
        where lu.rendering_npi = $npi and ($start is null or lu.service_date between $start and $end)
        """,
        {"npi": npi, "start": start, "end": end},
    )


def _finding_totals(findings: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return findings.group_by(keys).agg(
        pl.len().alias("findings"),
        pl.col("rule_id").unique().sort().str.join(", ").alias("rules"),
        pl.col("units_over").cast(pl.Float64).sum().alias("units_over"),
        pl.col("amount_at_risk").cast(pl.Float64).sum().alias("amount_at_risk"),
    )


def _with_totals(days: pl.DataFrame, totals: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return days.join(totals, on=keys, how="left").with_columns(
        pl.col("findings").fill_null(0),
        pl.col("rules").fill_null(""),
        pl.col("units_over").fill_null(0.0),
        pl.col("amount_at_risk").fill_null(0.0),
    )


def _findings_of(snap: Snapshot, npi: str, period: str) -> pl.DataFrame:
    empty = pl.DataFrame(
        schema={
            "service_date": pl.Date,
            "rule_id": pl.String,
            "patient_id": pl.String,
            "units_over": pl.Float64,
            "amount_at_risk": pl.Float64,
            "detail": pl.String,
        }
    )
    try:
        found = data.provider_findings(snap, npi, period)
    except MissingData:
        return empty
    for column, dtype in empty.schema.items():
        if column not in found.columns:
            found = found.with_columns(pl.lit(None, dtype=dtype).alias(column))
    return found.with_columns(pl.col("rule_id").str.strip_chars().str.to_uppercase())


def provider_days(snap: Snapshot, npi: str, period: str) -> ProviderDays:
    """The provider's patient-days and working days in ``period`` with scoring's per-day facts and
    the findings that touch each (the provider's findings as its page lists them)."""
    found = _findings_of(snap, npi, period)
    line = facts.line_frame(None, _unit_rows(snap, npi, period), ScoreSettings())
    documented = pl.col("documented_units") > 0
    patient_days = (
        facts.patient_days(line)
        .collect()
        .with_columns(
            pl.when(pl.col("timed_units") > 0)
            .then(100.0 * pl.col("units_97112") / pl.col("timed_units"))
            .alias("share_97112_pct"),
            pl.when(documented)
            .then(pl.col("documented_minutes") / pl.col("documented_units"))
            .alias("minutes_per_unit"),
        )
    )
    own = found.filter(pl.col("patient_id").is_not_null())
    patient_days = _with_totals(
        patient_days, _finding_totals(own, ["patient_id", "service_date"]), ["patient_id", "service_date"]
    )
    # a working day's timed minutes as scoring counts them: documented minutes, 15 a unit undocumented
    day_minutes = pl.col("documented_minutes").fill_null(0) + facts.MINUTES_PER_UNIT * pl.col("undocumented_units")
    working_days = (
        patient_days.group_by("service_date")
        .agg(pl.len().alias("patients"), pl.col("timed_units").sum(), day_minutes.sum().alias("timed_minutes"))
        .join(line.group_by("service_date").agg(pl.col("claim_id").n_unique().alias("visits")), on="service_date")
        .with_columns((pl.col("timed_minutes") / 60).alias("timed_hours"))
    )
    working_days = _with_totals(working_days, _finding_totals(found, ["service_date"]), ["service_date"])
    return ProviderDays(
        patient_days=patient_days.sort("service_date", "patient_id"),
        working_days=working_days.select(WORKING_DAY_COLUMNS).sort("service_date"),
        findings=found,
    )


# ---------------------------------------------------------------------------------------------
# which days explain each metric


def metric_text(x: float | None, percent: bool = False) -> str:
    """A metric value in words as the reasons give it: a share as a percentage (whole from 10%, two
    significant digits below), else one decimal from 10, three significant digits below."""
    if x is None:
        return "-"
    if percent:
        pct = 100 * x
        return f"{pct:.0f}%" if abs(pct) >= 10 else f"{pct:.2g}%"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def _shown(frame: pl.DataFrame, grain: str, lead: list[str]) -> pl.DataFrame:
    """The grain's columns with the metric's own columns right after the day's keys."""
    keys = ["service_date", "patient_id"] if grain == PATIENT_DAY else ["service_date"]
    base = PATIENT_DAY_COLUMNS if grain == PATIENT_DAY else WORKING_DAY_COLUMNS
    order = [*keys, *lead, *(c for c in base if c not in keys and c not in lead)]
    return frame.select([c for c in order if c in frame.columns])


def _beyond_median(
    column: str, grain: str, what: str, direction: str = "high", scale: float = 1.0, percent: bool = False
) -> Selector:
    """The days whose own value is beyond the peer median in the bad direction, worst first."""
    high = direction == "high"

    def select(days: ProviderDays, limits: Limits, median: float | None) -> Selection:
        frame = days.patient_days if grain == PATIENT_DAY else days.working_days
        value = pl.col(column)
        if median is None:
            keep, rule = value.is_not_null(), f"{grain}s by {what}, {'most' if high else 'fewest'} first"
        else:
            bar = median * scale
            keep = value > bar if high else value < bar
            rule = (
                f"{grain}s with {'more' if high else 'fewer'} {what} than the peer median of "
                f"{metric_text(median, percent)}, {'most' if high else 'fewest'} first"
            )
        listed = frame.filter(keep).sort([column, "service_date"], descending=[high, False], nulls_last=True)
        return Selection(_shown(listed, grain, [column]), rule)

    return select


def _at_daily_limit(days: ProviderDays, limits: Limits, median: float | None) -> Selection:
    limit = limits.daily_limit_97112
    listed = days.patient_days.filter(pl.col("units_97112") >= limit).sort(
        ["units_97112", "service_date"], descending=[True, False]
    )
    return Selection(
        _shown(listed, PATIENT_DAY, ["units_97112"]),
        f"patient-days with 97112 at the daily limit ({limit} units or more)",
    )


def _over_day_minutes(days: ProviderDays, limits: Limits, median: float | None) -> Selection:
    minutes = limits.oig_day_minutes
    listed = days.working_days.filter(pl.col("timed_minutes") > minutes).sort(
        ["timed_minutes", "service_date"], descending=[True, False]
    )
    return Selection(
        _shown(listed, THERAPIST_DAY, ["timed_minutes", "timed_hours"]),
        f"working days over {minutes / 60:g} timed hours ({minutes} minutes)",
    )


def _with_finding(rule: str) -> Selector:
    """The days touched by a finding of ``rule``: patient-days, or working days for therapist-day rules."""
    therapist = rule in THERAPIST_DAY_RULES
    grain = THERAPIST_DAY if therapist else PATIENT_DAY
    keys = ["service_date"] if therapist else ["patient_id", "service_date"]
    count = f"{rule.lower()}_findings"

    def select(days: ProviderDays, limits: Limits, median: float | None) -> Selection:
        found = days.findings.filter(pl.col("rule_id") == rule)
        if not therapist:
            found = found.filter(pl.col("patient_id").is_not_null())
        per_day = found.group_by(keys).agg(
            pl.len().alias(count), pl.col("detail").drop_nulls().str.join(" | ").alias("detail")
        )
        base = days.working_days if therapist else days.patient_days
        listed = per_day.join(base, on=keys, how="left").sort(keys[::-1])
        return Selection(_shown(listed, grain, [count, "detail"]), f"{grain}s with at least one {rule} finding")

    return select


FIXED: dict[str, Evidence] = {
    e.metric: e
    for e in (
        Evidence(
            "timed_units_per_patient_day",
            "timed units per patient-day",
            PATIENT_DAY,
            _beyond_median("timed_units", PATIENT_DAY, "timed units"),
        ),
        Evidence(
            "units_97112_per_patient_day",
            "97112 units per patient-day",
            PATIENT_DAY,
            _beyond_median("units_97112", PATIENT_DAY, "97112 units"),
        ),
        Evidence(
            "share_97112_of_timed_units",
            "97112 share of timed units",
            PATIENT_DAY,
            _beyond_median("share_97112_pct", PATIENT_DAY, "of their timed units in 97112", scale=100.0, percent=True),
            percent=True,
        ),
        Evidence(
            "minutes_per_timed_unit",
            "documented minutes per timed unit",
            PATIENT_DAY,
            _beyond_median("minutes_per_unit", PATIENT_DAY, "documented minutes per timed unit", direction="low"),
        ),
        Evidence(
            "share_days_97112_at_limit",
            "patient-days with 97112 at the daily limit",
            PATIENT_DAY,
            _at_daily_limit,
            percent=True,
        ),
        Evidence(
            "timed_hours_per_day_mean",
            "timed hours per working day",
            THERAPIST_DAY,
            _beyond_median("timed_hours", THERAPIST_DAY, "timed hours"),
        ),
        Evidence(
            "timed_hours_per_day_max",
            "timed hours on the longest day",
            THERAPIST_DAY,
            _beyond_median("timed_hours", THERAPIST_DAY, "timed hours"),
        ),
        Evidence(
            "share_days_over_8h", "working days over 8 timed hours", THERAPIST_DAY, _over_day_minutes, percent=True
        ),
    )
}


def definition(metric: str) -> Evidence | None:
    """The evidence of a metric: a fixed one, or for a rule's finding rate (``rate_<rule>``, one per
    rule id, the contract's and any other in the findings) the days with a finding of that rule."""
    if metric in FIXED:
        return FIXED[metric]
    if metric.startswith(RATE_PREFIX) and len(metric) > len(RATE_PREFIX):
        rule = metric[len(RATE_PREFIX) :].upper()
        grain = THERAPIST_DAY if rule in THERAPIST_DAY_RULES else PATIENT_DAY
        return Evidence(metric, f"{rule} findings per patient-day", grain, _with_finding(rule))
    return None
