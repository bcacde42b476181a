"""Provider scores: which rendering NPIs to review first, and why.

``provider_scores`` gives one row per rendering NPI per review period (each calendar service month
``'YYYY-MM'`` and the whole window ``'all'``): the provider's metrics, its findings, and the evidence
(risk_score, risk_rank, outlier, volume_ok, reasons). ``provider_metrics`` gives the same metrics in
long form with their peer statistics (see ``pipelines.scores.peers``) for the dashboard.

Risk score, per provider and period::

    risk_score = amount_weight * log10(1 + amount_at_risk)
               + volume_factor * SUM over metrics m of  [significant_m and z_m > 0] * min(z_m, z_cap)

    z_m           = the metric's robust z-score in its bad direction (minus it for minutes per unit)
    volume_factor = min(1, patient_days / min_patient_days)
    defaults: amount_weight = 2 (two points per tenfold of dollars at risk), z_cap = 10

Both terms are non-decreasing in dollars at risk and in significant excess, and neither depends on
the other providers' dollars, so adding amount at risk to a provider (or making a significant excess
larger) never lowers its rank. A low-volume provider keeps its dollars but only part of its
statistical evidence.

``risk_rank``: 1 = review first; 1..n without gaps within each period, ordered by risk_score
(descending, to 1e-9), then amount_at_risk (descending, to the cent), then rendering_npi (ascending).

``outlier`` = ``volume_ok`` (patient_days >= min_patient_days) and at least one metric is significant
in the bad direction with z_m >= outlier_z (default 3). For a proportion metric that means its
one-sided test has p < alpha AND its robust z is >= 3; for the other metrics (units per patient-day,
97112 units per patient-day, 97112 share, minutes per unit, mean timed hours per working day) robust
z >= 3. The longest day's hours (timed_hours_per_day_max) are descriptive and never count.

``reasons``: "low volume: N patient-days (< min)" when the volume is short, then up to
``top_reasons`` metrics that add to the risk score, largest robust z first, in words, e.g.
"97112 units per patient-day 3.9 vs peer median 1.4 (95th percentile)"; "" when nothing stands out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from pipelines.scores.attribution import (
    attributed,
    count_column,
    findings_wide,
    flagged_column,
    normalized_findings,
    present_rule_ids,
    rule_column,
    rule_ids,
)
from pipelines.scores.facts import (
    NPI,
    MonthFacts,
    by_period,
    empty_line_frame,
    line_frame,
    month_facts,
    patient_days,
    provider_periods,
)
from pipelines.scores.peers import long_metrics, metric_specs, peer_statistics
from pipelines.scores.settings import ScoreSettings

Frame = pl.DataFrame | pl.LazyFrame

IDENTITY_COLUMNS = [
    "period",
    "period_start",
    "period_end",
    NPI,
    "provider_name",
    "discipline",
    "peer_group",
    "patient_days",
    "patients",
    "working_days",
    "timed_units",
    "units_97112",
]
FINDING_TOTALS = ["findings", "units_over", "amount_at_risk"]
# Per working day of the therapist: listed after the findings in provider_scores.
DAY_METRICS = ("timed_hours_per_day_mean", "timed_hours_per_day_max", "share_days_over_8h")
EVIDENCE_COLUMNS = ["risk_score", "risk_rank", "outlier", "volume_ok", "reasons"]
METRIC_COLUMNS_OUT = [
    "period",
    NPI,
    "peer_group",
    "metric",
    "label",
    "value",
    "peer_median",
    "robust_z",
    "percentile",
    "p_value",
    "significant",
    "direction_bad",
]


@dataclass(frozen=True)
class Scores:
    """Both outputs of one scoring run."""

    scores: pl.DataFrame
    metrics: pl.DataFrame


def provider_scores(
    lines: Frame, units: Frame, findings: Frame | None, settings: ScoreSettings | None = None
) -> pl.DataFrame:
    """One row per rendering NPI per review period, sorted by period then risk_rank."""
    return compute_scores(lines, units, findings, settings).scores


def provider_metrics(
    lines: Frame, units: Frame, findings: Frame | None, settings: ScoreSettings | None = None
) -> pl.DataFrame:
    """Long form: one row per rendering NPI, period and metric with its peer statistics."""
    return compute_scores(lines, units, findings, settings).metrics


def compute_scores(
    lines: Frame | None, units: Frame, findings: Frame | None, settings: ScoreSettings | None = None
) -> Scores:
    """Both tables, all lines in one piece. ``findings`` may be None; so may ``lines`` when ``units``
    already carries the claim-line columns scoring reads."""
    settings = settings or ScoreSettings()
    return scores_of_lines([(line_frame(lines, units, settings), findings)], settings)


@dataclass(frozen=True)
class Piece:
    """What scoring keeps of some whole service months' lines: their facts, and their findings per
    provider, month and rule (``attribution.attributed``). Pieces of different months add up."""

    facts: MonthFacts
    counts: pl.DataFrame
    flagged: pl.DataFrame
    rules: set[str]


def piece_of(line: pl.DataFrame, findings: Frame | None, settings: ScoreSettings) -> Piece:
    """The piece of a line frame (whole service months) and the findings dated in its months."""
    days = patient_days(line).collect().lazy()
    found = normalized_findings(findings).collect().lazy()
    counts, flagged = attributed(found, line, days)
    return Piece(month_facts(line, days, settings), counts.collect(), flagged.collect(), present_rule_ids(found))


def scores_of_lines(pieces: Iterable[tuple[pl.DataFrame, Frame | None]], settings: ScoreSettings) -> Scores:
    """Both tables from ``facts.line_frame``s (one row per line unit with what scoring reads), each
    with its findings, in pieces of whole service months (the findings dated in them). Only the small
    per-month frames of each piece are kept, so a caller passing one month at a time holds one
    month's lines in memory."""
    kept: list[Piece] = []
    for line, findings in pieces:
        kept.append(piece_of(line, findings, settings))
        del line, findings  # not held while the next piece is read
    return scores_of_pieces(kept, settings)


def scores_of_pieces(kept: list[Piece], settings: ScoreSettings) -> Scores:
    """Both tables from the pieces of every month: the months' and the whole window's periods."""
    if not kept:
        kept = [piece_of(empty_line_frame(settings), None, settings)]
    rules = rule_ids(set().union(*(p.rules for p in kept)))
    findings_sums = ("findings", "units_over", "amount_at_risk")
    counts = by_period(pl.concat([p.counts for p in kept], how="vertical"), [NPI, "rule_id"], findings_sums)
    flagged = by_period(pl.concat([p.flagged for p in kept], how="vertical"), [NPI, "rule_id"], ("flagged_days",))
    facts = provider_periods([p.facts for p in kept], settings).join(
        findings_wide(counts, flagged, rules), on=[NPI, "period"], how="left"
    )
    wide = _with_metrics(facts, rules).collect()

    specs = metric_specs(rules, settings)
    long = peer_statistics(long_metrics(wide, specs), settings)
    long = long.with_columns(_contribution(settings).alias("_contribution"), _reason_text().alias("_reason"))
    scores = _rank(wide.join(_evidence(long, settings), on=["period", NPI], how="left"), settings)
    table_metrics = [m.name for m in specs if m.name not in DAY_METRICS]
    scores = scores.select(
        *IDENTITY_COLUMNS,
        *table_metrics,
        *FINDING_TOTALS,
        *DAY_METRICS,
        *EVIDENCE_COLUMNS,
    ).sort("period", "risk_rank")
    metrics = long.select(METRIC_COLUMNS_OUT).sort("period", NPI, "metric")
    return Scores(scores=scores, metrics=metrics)


def _contribution(settings: ScoreSettings) -> pl.Expr:
    """What one metric adds to the risk score: its capped bad-direction z when significant, else 0."""
    z_bad = pl.col("z_bad")
    return pl.when(pl.col("significant") & (z_bad > 0)).then(pl.min_horizontal(z_bad, settings.z_cap)).otherwise(0.0)


def _evidence(long: pl.DataFrame, settings: ScoreSettings) -> pl.DataFrame:
    """Per provider-period: the summed contributions, whether one metric is strong enough for an
    outlier, and the reasons of the top contributing metrics (largest robust z first)."""
    contributes = pl.col("_contribution") > 0
    reasons = (
        pl.when(contributes)
        .then(pl.col("_reason"))
        .sort_by(
            [pl.when(contributes).then(pl.col("z_bad")), pl.col("metric")],
            descending=[True, False],
            nulls_last=True,
        )
        .head(settings.top_reasons)
        .drop_nulls()
        .str.join("; ")
    )
    return long.group_by("period", NPI).agg(
        pl.col("_contribution").sum().alias("_evidence"),
        (pl.col("significant") & (pl.col("z_bad") >= settings.outlier_z)).any().alias("_strong"),
        pl.when(reasons != "").then(reasons).alias("_metric_reasons"),
    )


def _with_metrics(facts: pl.LazyFrame, rules: list[str]) -> pl.LazyFrame:
    """The provider metrics, as ratios of the facts' counts (rates 0 when a rule raised nothing)."""
    counts = [*map(count_column, rules), *map(flagged_column, rules), "findings", "units_over"]
    per_day = pl.col("patient_days")
    return facts.with_columns(
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts),
        # dollars to the cent: a sum's last bits depend on the order of its terms (months stored
        # apart or read together), the figure must not
        pl.col("amount_at_risk").fill_null(0.0).cast(pl.Float64).round(2),
    ).with_columns(
        (pl.col("timed_units") / per_day).alias("timed_units_per_patient_day"),
        (pl.col("units_97112") / per_day).alias("units_97112_per_patient_day"),
        pl.when(pl.col("timed_units") > 0)
        .then(pl.col("units_97112") / pl.col("timed_units"))
        .alias("share_97112_of_timed_units"),
        pl.when(pl.col("documented_units") > 0)
        .then(pl.col("documented_minutes") / pl.col("documented_units"))
        .alias("minutes_per_timed_unit"),
        (pl.col("days_97112_at_limit") / per_day).alias("share_days_97112_at_limit"),
        *((pl.col(count_column(r)) / per_day).alias(rule_column(r)) for r in rules),
        (pl.col("days_over_8h") / pl.col("working_days")).alias("share_days_over_8h"),
    )


def _ordinal(n: pl.Expr) -> pl.Expr:
    suffix = (
        pl.when((n % 100 >= 11) & (n % 100 <= 13))
        .then(pl.lit("th"))
        .when(n % 10 == 1)
        .then(pl.lit("st"))
        .when(n % 10 == 2)
        .then(pl.lit("nd"))
        .when(n % 10 == 3)
        .then(pl.lit("rd"))
        .otherwise(pl.lit("th"))
    )
    return pl.concat_str(n.cast(pl.String), suffix)


def _number(expr: pl.Expr) -> pl.Expr:
    """A metric value in words: shares as percentages, three significant digits below 10, one decimal
    from 10 up (3.9, 0.0123, 14.9; 80%, 4.5%, 0.43%)."""
    pct = expr * 100
    percent = pl.concat_str(
        pl.when(pct.abs() >= 10)
        .then(pct.round(0).cast(pl.Int64).cast(pl.String))
        .when(pct == 0)
        .then(pl.lit("0"))
        .otherwise(pct.round_sig_figs(2).cast(pl.String)),
        pl.lit("%"),
    )
    plain = pl.when(expr.abs() >= 10).then(expr.round(1)).otherwise(expr.round_sig_figs(3)).cast(pl.String)
    return pl.when(pl.col("percent")).then(percent).otherwise(plain)


def _reason_text() -> pl.Expr:
    """'<label> <value> vs peer median <median> (<n>th percentile[, p=...])' for one long row."""
    rank = pl.col("percentile").floor().clip(1, 99).cast(pl.Int64)
    p = pl.col("p_value")
    p_text = (
        pl.when(p.is_null())
        .then(pl.lit(""))
        .when(p < 0.001)
        .then(pl.lit(", p<0.001"))
        .otherwise(pl.concat_str(pl.lit(", p="), p.round(3).cast(pl.String)))
    )
    return pl.format(
        "{} {} vs peer median {} ({} percentile{})",
        pl.col("label"),
        _number(pl.col("value")),
        _number(pl.col("peer_median")),
        _ordinal(rank),
        p_text,
    )


def _rank(wide: pl.DataFrame, settings: ScoreSettings) -> pl.DataFrame:
    """risk_score, risk_rank, outlier, volume_ok and reasons (formula in the module docstring)."""
    volume_ok = pl.col("patient_days") >= settings.min_patient_days
    if settings.min_patient_days > 0:
        volume_factor = pl.min_horizontal(pl.col("patient_days") / settings.min_patient_days, pl.lit(1.0))
    else:
        volume_factor = pl.lit(1.0)
    low_volume = pl.when(~volume_ok).then(
        pl.format("low volume: {} patient-days (< {})", pl.col("patient_days"), pl.lit(settings.min_patient_days))
    )
    scored = wide.with_columns(
        volume_ok.alias("volume_ok"),
        (
            settings.amount_weight * (1.0 + pl.col("amount_at_risk").clip(0.0, None)).log10()
            + volume_factor * pl.col("_evidence").fill_null(0.0)
        ).alias("risk_score"),
        (volume_ok & pl.col("_strong").fill_null(False)).alias("outlier"),
        pl.concat_str([low_volume, pl.col("_metric_reasons")], separator="; ", ignore_nulls=True)
        .fill_null("")
        .alias("reasons"),
    )
    # compared at 1e-9 points and whole cents: sums of the same amounts in another order differ in
    # the last bits, which must not reorder two providers from one review to the next
    return scored.sort(
        ["period", pl.col("risk_score").round(9), pl.col("amount_at_risk").round(2), NPI],
        descending=[False, True, True, False],
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("period").alias("risk_rank"))
